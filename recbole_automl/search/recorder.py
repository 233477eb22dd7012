"""The one place a finished trial goes, whichever loop or executor produced it."""

from recbole_automl.search.journal import best_trial
from recbole_automl.search.schedulers import NoScheduler


def describe_trial(trial, budget, reused):
    """The log line of a trial: its number, score (or error) and point."""
    total = f"/{budget.max_trials}" if budget.max_trials else ""
    if trial.scored:
        pruned = ", pruned" if trial.status == "pruned" else ""
        outcome = f"valid score {trial.value:.4f} ({trial.epochs} epochs{pruned})"
    else:
        outcome = f"failed: {trial.error}"
    source = " (from the journal)" if reused else ""
    return f"trial {budget.trials}{total}{source} {outcome} in {trial.seconds:.1f} s: {trial.point}"


class TrialRecorder:
    """Records every trial of a search: the searches of candidates (:func:`run_search`, on
    any executor), the one-shot searches (a trial per validation of one training) and
    AutoCross's beam search (a trial per step).

    A new trial is written to the journal, or with its ``checkpoint`` (the state of a
    search that learns as it goes) to the :class:`~recbole_automl.search.SearchState`;
    a trial of an earlier run (:meth:`replay`) is not written again but credited to the
    budget with its seconds. Either way it is counted against the budget, shown to the
    scheduler, logged and shown on the progress bar.

    Args:
        budget (Budget): counts the trials and seconds.
        store (Journal or SearchState, optional): where new trials are written; ``None``
            keeps them in memory.
        bigger (bool): whether a bigger validation score is better.
        progress (SearchProgress, optional), logger (logging.Logger, optional): what the
            user sees.
        scheduler (Scheduler, optional): learns from every finished trial.
        describe (callable, optional): ``describe(trial, budget, reused)``, the log line.

    Attributes:
        finished (list of Trial): the trials in the order they were recorded.
    """

    def __init__(
        self, budget, store=None, *, bigger=True, progress=None, logger=None, scheduler=None,
        describe=describe_trial,
    ):  # fmt: skip
        self.budget, self.store, self.bigger = budget, store, bigger
        self.progress, self.logger = progress, logger
        self.scheduler = scheduler or NoScheduler()
        self.describe = describe
        self.finished = []

    def record(self, trial, checkpoint=None):
        """A trial that finished now; ``checkpoint`` is saved with it (SearchState)."""
        if checkpoint is not None:
            self.store.save(checkpoint, trial)
        elif self.store is not None:
            self.store.append(trial)
        self._count(trial, reused=False)

    def replay(self, trials):
        """Trials that finished in an earlier run (read from the journal)."""
        for trial in trials:
            self.budget.credit(trial.seconds)
            self._count(trial, reused=True)

    @property
    def best(self):
        return best_trial(self.finished, self.bigger)

    def _count(self, trial, reused):
        self.budget.count(trial)
        self.finished.append(trial)
        self.scheduler.observe(trial)
        if self.logger is not None:
            self.logger.info(self.describe(trial, self.budget, reused))
        if self.progress is not None:
            self.progress.update(trial, self.best, self.budget)
