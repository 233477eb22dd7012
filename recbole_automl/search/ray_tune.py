"""Ray Tune as the executor of a search: the same trials on many workers or machines.

Ray is an optional install (``pip install recbole-automl[ray]``); this module is imported
only when ``search_executor: ray`` asks for it.

The search keeps its own pieces: the strategy (TPE, ARSP, random, grid) proposes each trial
through a Tune ``Searcher``; finished trials go to the same journal, progress bar and log on
the driver; a resumed search tells the strategy every journal trial first and never reruns
one. Tune adds what it is good at: placing trials on free workers of a local or remote Ray
cluster, and its ``ASHAScheduler`` (when the search has a :class:`SuccessiveHalving`, with
the same rungs), which stops a trial from its epoch-by-epoch reports.
"""

import dataclasses
import json
import os

import numpy as np
import torch

from recbole_automl.search.journal import FAILED, Trial
from recbole_automl.search.loop import TrialRecorder, evaluate_point
from recbole_automl.search.schedulers import SuccessiveHalving


class _TuneReports:
    """The scheduler side of a trial on Ray: every validation is reported to Tune."""

    def __init__(self):
        self.curve = []

    def report(self, number, epoch, score):
        from ray import tune

        self.curve.append(float(score))
        tune.report({"score": float(score), "epoch": epoch, "curve": list(self.curve)})


def _run_trial(config, objective, threads):
    """Tune's function trainable: one trial, its last report carries the whole record."""
    from ray import tune

    torch.set_num_threads(threads)
    reports = _TuneReports()
    trial = evaluate_point(objective, config["point"], config["number"], 0, reports)
    score = trial.value if trial.complete else float("nan")
    # As JSON text: Tune flattens nested dicts in results.
    record = json.dumps(dataclasses.asdict(trial))
    tune.report({"score": score, "epoch": trial.epochs, "trial": record})


def _make_searcher(space, strategy, budget, seed, known, finish, bigger):
    from ray.tune.search import Searcher

    class StrategySearcher(Searcher):
        """Asks the search's strategy for one point per Tune trial; tells it the results."""

        def __init__(self):
            super().__init__(metric="score", mode="max" if bigger else "min")
            self.running = {}  # Tune trial id -> (number, point)
            self.told = {space.key(t.point) for t in known}
            self.asked = 0

        def suggest(self, trial_id):
            started = budget.trials + len(self.running)
            if budget.exhausted or (budget.max_trials is not None and started >= budget.max_trials):
                return Searcher.FINISHED if not self.running else None
            exclude = self.told | {space.key(p) for _, p in self.running.values()}
            rng = np.random.default_rng([seed, len(known), self.asked])
            self.asked += 1
            points = strategy.ask(1, rng, exclude=exclude)
            if not points:
                return Searcher.FINISHED if not self.running else None
            number = len(known) + self.asked - 1
            self.running[trial_id] = (number, points[0])
            return {"point": points[0], "number": number}

        def on_trial_complete(self, trial_id, result=None, error=False):
            if trial_id not in self.running:
                return  # Tune may report a trial twice when it stops one
            number, point = self.running.pop(trial_id)
            trial = _trial_from_result(number, point, result, error, bigger)
            self.told.add(space.key(point))
            strategy.tell(point, trial.utility(bigger))
            finish(trial, reused=False)

    return StrategySearcher()


def _trial_from_result(number, point, result, error, bigger):
    """The journal record of a Tune trial: its final report, or its last one if ASHA stopped
    it (then only the validation curve is known, not every metric of its best epoch)."""
    if result and "trial" in result:
        return Trial(**json.loads(result["trial"]))
    trial = Trial(number=number, round=0, point=point)
    if error or not result or not result.get("curve"):
        trial.status, trial.error = FAILED, "the Ray trial ended without reporting a result"
        return trial
    trial.curve = result["curve"]
    trial.value = max(trial.curve) if bigger else min(trial.curve)
    trial.epochs = result["epoch"]
    trial.seconds = round(float(result.get("time_total_s", 0.0)), 3)
    if "timestamp" in result:
        trial.started = round(result["timestamp"] - trial.seconds, 3)
    return trial


class RayTuneExecutor:
    """Runs a search's trials as Ray Tune trials, ``workers`` at a time.

    Args:
        workers (int): trials running at once.
        address (str, optional): an existing Ray cluster (``"auto"``, ``"10.0.0.1:6379"`` or
            ``"ray://host:10001"``); ``None`` starts a Ray on this machine.
        device (torch.device): where trials train; on a GPU each trial asks Ray for
            ``1 / workers`` of a GPU.
        cpus_per_trial (int, optional): CPUs Ray reserves for each trial (torch threads);
            by default this machine's cores divided by ``workers``.
    """

    def __init__(self, workers, address=None, device="cpu", cpus_per_trial=None):
        try:
            import ray  # noqa: F401
            from ray import tune  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "search_executor: ray needs Ray Tune: pip install 'recbole-automl[ray]' "
                "(or pip install 'ray[tune]>=2.40')."
            ) from error
        self.workers = workers
        self.address = address
        self.gpu = torch.device(device).type == "cuda"
        self.cpus_per_trial = cpus_per_trial or max(1, (os.cpu_count() or 1) // workers)

    def _start_ray(self):
        import ray

        if ray.is_initialized():
            return
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            # Workers import the plugin from where this process did, installed or not.
            source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
            ray.init(
                runtime_env={"env_vars": {"PYTHONPATH": path}},
                num_cpus=self.cpus_per_trial * self.workers,
                num_gpus=torch.cuda.device_count() if self.gpu else 0,
                include_dashboard=False,
                log_to_driver=False,
            )

    def search(
        self, objective, space, strategy, budget, journal, *, bigger, seed, progress, logger,
        scheduler,
    ):  # fmt: skip
        """The search of :func:`~recbole_automl.search.loop.run_search`, trials on Ray."""
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

        self._start_ray()
        known = journal.load() if journal else []
        # Tune's ASHA, not the local scheduler, decides on Ray; the recorder only records.
        finish = TrialRecorder(budget, journal, bigger, progress, logger)
        for trial in known:
            strategy.tell(trial.point, trial.utility(bigger))
            budget.credit(trial.seconds)
            finish(trial, reused=True)
        if budget.exhausted:
            return finish.finished

        mode = "max" if bigger else "min"
        if isinstance(scheduler, SuccessiveHalving):
            # max_t one past the last epoch: Tune's ASHA stops a trial that reaches max_t,
            # which would cut off its final report.
            tune_scheduler = ASHAScheduler(
                time_attr="epoch", metric="score", mode=mode,
                grace_period=scheduler.min_epochs, max_t=scheduler.max_epochs + 1,
                reduction_factor=scheduler.reduction_factor,
            )  # fmt: skip
        else:
            tune_scheduler = FIFOScheduler()
        resources = {"cpu": self.cpus_per_trial, "gpu": 1 / self.workers if self.gpu else 0}
        trainable = tune.with_resources(
            tune.with_parameters(_run_trial, objective=objective, threads=self.cpus_per_trial),
            resources,
        )
        searcher = _make_searcher(space, strategy, budget, seed, known, finish, bigger)
        folder = os.path.abspath(os.path.dirname(journal.path) if journal else "saved/ray")
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=tune_scheduler, num_samples=-1,
                max_concurrent_trials=self.workers, reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name="ray_tune", storage_path=folder, verbose=0,
            ),
        )  # fmt: skip
        tuner.fit()
        return finish.finished
