"""The search loop shared by every method: ask, evaluate, record, tell, until the budget ends."""

import time
import traceback

import numpy as np

from recbole_automl.search.executor import SerialExecutor
from recbole_automl.search.journal import FAILED, Trial, best_trial
from recbole_automl.search.schedulers import NoScheduler


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
    ``Trainer.fit``'s ``callback_fn``); the ``scheduler`` may stop the trial there. No
    trial gets a time limit: a search's time cap stops the search from starting trials,
    never a trial halfway, so a trial's score does not depend on the machine's load.
    """
    scheduler = scheduler or NoScheduler()
    start = time.monotonic()
    trial = Trial(number=number, round=round_index, point=point, started=round(time.time(), 3))

    def report(epoch, score):
        scheduler.report(number, epoch, score)

    try:
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
    objective,
    space,
    strategy,
    budget,
    journal,
    *,
    bigger=True,
    seed=0,
    batch_size=1,
    progress=None,
    logger=None,
    executor=None,
    scheduler=None,
):
    """Search ``space`` with ``strategy`` until ``budget`` is spent; return all trials.

    Rounds are replayed from the journal: round ``r`` draws with a generator seeded by
    ``(seed, r)`` and the strategy has been told exactly the trials of earlier rounds, so a
    rerun proposes the same points and takes finished ones from the journal instead of
    evaluating them again.

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
        executor (optional): runs the trials of a round; :class:`SerialExecutor` by default.
            An executor with a ``search`` method (Ray Tune) runs the whole search itself.
        scheduler (optional): stops bad trials early (:class:`SuccessiveHalving`).

    Returns:
        list of Trial: every trial of this search, in order.
    """
    executor = executor or SerialExecutor()
    scheduler = scheduler or NoScheduler()
    if hasattr(executor, "search"):
        return executor.search(
            objective, space, strategy, budget, journal,
            bigger=bigger, seed=seed, progress=progress, logger=logger, scheduler=scheduler,
        )  # fmt: skip
    recorded = {space.key(t.point): t for t in journal.load()} if journal else {}
    finish = TrialRecorder(budget, journal, bigger, progress, logger, scheduler)
    trials, told = [], set()
    round_index = 0

    while not budget.exhausted:
        rng = np.random.default_rng([seed, round_index])
        points = strategy.ask(batch_size, rng, exclude=told)
        if not points:
            break  # the space is exhausted
        if budget.max_trials is not None:
            points = points[: budget.max_trials - budget.trials]
        done = {}
        for i, point in enumerate(points):
            if space.key(point) in recorded:
                done[i] = recorded[space.key(point)]
                budget.credit(done[i].seconds)
                finish(done[i], reused=True)
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
            finish(trial, reused=False)
        for i in sorted(done):
            trials.append(done[i])
            told.add(space.key(done[i].point))
            strategy.tell(done[i].point, done[i].utility(bigger))
        round_index += 1
    return trials


class TrialRecorder:
    """What happens to every finished trial, wherever it ran: it is journaled (unless it
    came from the journal), counted against the budget, shown to the scheduler, logged and
    shown on the progress bar. ``finished`` holds the trials in the order they finished."""

    def __init__(self, budget, journal, bigger, progress=None, logger=None, scheduler=None):
        self.budget, self.journal, self.bigger = budget, journal, bigger
        self.progress, self.logger = progress, logger
        self.scheduler = scheduler or NoScheduler()
        self.finished = []

    def __call__(self, trial, reused):
        if self.journal is not None and not reused:
            self.journal.append(trial)
        self.budget.count()
        self.finished.append(trial)
        self.scheduler.observe(trial)
        if self.logger is not None:
            self.logger.info(describe_trial(trial, self.budget, reused))
        if self.progress is not None:
            self.progress.update(trial, best_trial(self.finished, self.bigger), self.budget)


def describe_trial(trial, budget, reused):
    total = f"/{budget.max_trials}" if budget.max_trials else ""
    if trial.complete:
        outcome = f"valid score {trial.value:.4f} ({trial.epochs} epochs)"
    else:
        outcome = f"failed: {trial.error}"
    source = " (from the journal)" if reused else ""
    return f"trial {budget.trials}{total}{source} {outcome} in {trial.seconds:.1f} s: {trial.point}"
