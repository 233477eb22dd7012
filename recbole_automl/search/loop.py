"""The search loop shared by every method: ask, evaluate, record, tell, until the budget ends."""

import time
import traceback

import numpy as np

from recbole_automl.search.executors import SerialExecutor, worker_name
from recbole_automl.search.journal import FAILED, PRUNED, Trial
from recbole_automl.search.recorder import TrialRecorder
from recbole_automl.search.schedulers import STOP, NoScheduler, StopTraining


class TrialOutcome:
    """What an objective returns for one point.

    Attributes:
        value (float): the validation score used for selection.
        result (dict): every validation metric of the best epoch.
        curve (list): the validation score after each evaluation.
        epochs (int): epochs trained.
    """

    def __init__(self, value, result=None, curve=None, epochs=0):
        self.value = float(value)
        self.result = {k: float(v) for k, v in (result or {}).items()}
        self.curve = [float(v) for v in (curve or [])]
        self.epochs = int(epochs)


def evaluate_point(objective, point, number, round_index, scheduler=None):
    """Run ``objective(point, report)``; a NaN or an exception fails the trial.

    ``report(epoch, score)`` is what the objective calls after each validation (from
    ``Trainer.fit``'s ``callback_fn``). When the ``scheduler`` answers :data:`STOP`,
    ``report`` raises :class:`StopTraining` (which ends ``Trainer.fit`` with its best epoch
    so far) and the trial is recorded as pruned. No trial gets a time limit: a search's
    time cap stops the search from starting trials, never a trial halfway, so a trial's
    score does not depend on the machine's load.
    """
    scheduler = scheduler or NoScheduler()
    start = time.monotonic()
    trial = Trial(
        number=number, round=round_index, point=point, started=round(time.time(), 3),
        worker=worker_name(),
    )  # fmt: skip

    def report(epoch, score):
        if scheduler.report(number, epoch, score) == STOP:
            trial.status = PRUNED
            raise StopTraining(scheduler.reason)

    try:
        scheduler.begin(number, point)
        outcome = objective(point, report)
        if not np.isfinite(outcome.value):
            raise ValueError(f"validation score is {outcome.value}")
        trial.value, trial.result = outcome.value, outcome.result
        trial.curve, trial.epochs = outcome.curve, outcome.epochs
    except Exception as error:  # a failing candidate must not end the search
        trial.status = FAILED
        trial.error = "".join(traceback.format_exception_only(type(error), error)).strip()
    trial.seconds = round(time.monotonic() - start, 3)
    return trial


def run_search(
    objective, space, strategy, budget, journal, *, bigger=True, seed=0, batch_size=1,
    progress=None, logger=None, executor=None, scheduler=None,
):  # fmt: skip
    """Search ``space`` with ``strategy`` until ``budget`` is spent; return all trials.

    Rounds are replayed from the journal: round ``r`` draws with a generator seeded by
    ``(seed, r)`` and the strategy has been told exactly the trials of earlier rounds, so a
    rerun proposes the same points and takes finished ones from the journal instead of
    evaluating them again (on any executor).

    Args:
        objective (callable): ``objective(point, report) -> TrialOutcome``;
            it calls ``report(epoch, score)`` after each validation.
        space (Space): the search space.
        strategy (Strategy): proposes points.
        budget (Budget): trials and/or seconds.
        journal (Journal, optional): where finished trials are recorded; ``None`` keeps
            them in memory only.
        bigger (bool): whether a bigger validation score is better.
        seed (int): seeds the proposals.
        batch_size (int): points asked per round.
        progress (SearchProgress, optional): updated after each trial.
        logger (logging.Logger, optional): one line per trial.
        executor (Executor, optional): runs the trials of a round; serial by default.
        scheduler (Scheduler, optional): stops bad trials early (:class:`SuccessiveHalving`).

    Returns:
        list of Trial: every trial of this search, in order.
    """
    executor = executor or SerialExecutor()
    scheduler = scheduler or NoScheduler()
    recorded = {space.key(t.point): t for t in journal.load()} if journal else {}
    recorder = TrialRecorder(
        budget, journal, bigger=bigger, progress=progress, logger=logger, scheduler=scheduler
    )
    trials, told = [], set()
    round_index = 0

    while not budget.exhausted:
        rng = np.random.default_rng([seed, round_index])
        points = strategy.ask(batch_size, rng, exclude=told)
        if not points:
            break  # the space is exhausted
        if budget.max_trials is not None:
            points = points[: budget.max_trials - budget.trials]
        done = {i: recorded[space.key(p)] for i, p in enumerate(points) if space.key(p) in recorded}
        recorder.replay(done[i] for i in sorted(done))
        pending = [i for i in range(len(points)) if i not in done]
        first = len(trials)

        def jobs(pending=pending, points=points, first=first):
            for i in pending:
                if budget.exhausted:
                    return
                yield points[i], first + i

        def evaluate(point, number, round_index=round_index):
            return evaluate_point(objective, point, number, round_index, scheduler)

        for i, trial in zip(pending, executor.map(evaluate, jobs())):
            done[i] = trial
            recorder.record(trial)
        for i in sorted(done):
            trials.append(done[i])
            told.add(space.key(done[i].point))
            strategy.tell(done[i].point, done[i].utility(bigger), done[i].epochs)
        round_index += 1
    return trials
