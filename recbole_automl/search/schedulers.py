"""Schedulers decide, epoch by epoch, whether a running trial goes on.

A trial reports its validation score after each evaluation (RecBole's
``Trainer.fit(callback_fn=...)``); :meth:`Scheduler.report` answers :data:`CONTINUE` or
:data:`STOP`. The search loop turns a stop into :class:`StopTraining`, which ends
``Trainer.fit`` with the best epoch so far, and records the trial as pruned. A scheduler's
state is rebuilt from finished trials (:meth:`Scheduler.observe`): those replayed from a
journal, or those that ran in other processes.
"""

from abc import ABC, abstractmethod

import numpy as np

from recbole_automl.search.errors import SearchError

CONTINUE, STOP = "continue", "stop"


class StopTraining(Exception):
    """Raised by a ``callback_fn`` to end ``Trainer.fit`` after the current validation."""


class Scheduler(ABC):
    """Base class: decides after each report whether a trial goes on."""

    #: Why the last trial told :data:`STOP` was stopped.
    reason = ""

    @abstractmethod
    def report(self, number, epoch, score):
        """Trial ``number`` scored ``score`` after ``epoch`` epochs: :data:`CONTINUE` or
        :data:`STOP`."""

    def begin(self, number, point):  # noqa: B027 (optional: most schedulers need no point)
        """Trial ``number`` starts training ``point``."""

    def observe(self, trial):  # noqa: B027 (optional: most schedulers learn nothing)
        """Learn from a finished trial (its curve); recording one twice changes nothing."""


class NoScheduler(Scheduler):
    """Every trial trains until its own end (epochs, early stopping)."""

    def report(self, number, epoch, score):
        return CONTINUE


class SuccessiveHalving(Scheduler):
    """Asynchronous successive halving (ASHA; Li et al., MLSys 2020), stopping variant.

    Rungs sit at ``min_epochs * reduction_factor ** k`` epochs below ``max_epochs``. A trial
    reaching a rung goes on only if its score is not below the ``1 - 1/reduction_factor``
    quantile of the scores other trials had at that rung, the rule of Ray Tune's
    ``ASHAScheduler``; the first trial at a rung always goes on. Rung scores are keyed by
    trial number, so recording a finished trial again (:meth:`observe`, used after a resume
    or when trials ran in other processes) changes nothing. With ``bracket_key`` a trial is
    only compared with the trials whose points share its value of that key (successive
    halving within each model of a model search: a model that starts slowly is not
    stopped by another's early epochs, and the first trial of each trains to its end).

    Args:
        min_epochs (int): the first rung (ASHA's grace period).
        max_epochs (int): epochs of a trial that is never stopped.
        reduction_factor (int): about one trial in this many passes each rung.
        bigger (bool): whether a bigger score is better.
        bracket_key (str, optional): the key of a point that splits trials into brackets.
    """

    def __init__(self, min_epochs, max_epochs, reduction_factor=3, bigger=True, bracket_key=None):
        if min_epochs < 1 or reduction_factor < 2:
            raise SearchError("ASHA needs min_epochs >= 1 and reduction_factor >= 2")
        self.min_epochs, self.max_epochs = min_epochs, max_epochs
        self.rungs = {}
        rung = min_epochs
        while rung < max_epochs:
            self.rungs[rung] = {}
            rung *= reduction_factor
        self.reduction_factor = reduction_factor
        self.bigger = bigger
        self.bracket_key = bracket_key
        self.brackets = {}  # trial number -> its bracket

    def begin(self, number, point):
        if self.bracket_key is not None:
            self.brackets[number] = repr(point.get(self.bracket_key))

    def report(self, number, epoch, score):
        bracket = self.brackets.get(number)
        for rung, scores in self.rungs.items():
            if epoch < rung or number in scores:
                continue
            others = [
                s for n, s in scores.items() if n != number and self.brackets.get(n) == bracket
            ]
            scores[number] = score
            if others and self._below_cutoff(score, others):
                self.reason = f"successive halving: {score:.4f} below rung {rung}'s cutoff"
                return STOP
        return CONTINUE

    def observe(self, trial):
        """Record a finished trial's curve (evenly spaced validations, the last after
        ``trial.epochs``)."""
        self.begin(trial.number, trial.point)
        eval_step = trial.epochs / max(1, len(trial.curve))
        for i, score in enumerate(trial.curve):
            epoch = round((i + 1) * eval_step)
            for rung, scores in self.rungs.items():
                if epoch >= rung and trial.number not in scores:
                    scores[trial.number] = score

    def _below_cutoff(self, score, others):
        quantile = (1 - 1 / self.reduction_factor) * 100
        if self.bigger:
            return score < np.percentile(others, quantile)
        return score > np.percentile(others, 100 - quantile)
