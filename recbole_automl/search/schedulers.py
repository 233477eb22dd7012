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

    With ``extrapolation`` (gamma > 0) a trial is compared at a rung on its score plus
    gamma x its recent improvement per epoch x the epochs it has left, the improvement
    measured over the second half of its validations (never negative): a damped linear
    extrapolation of its learning curve (the idea of Domhan et al., IJCAI 2015, in its
    simplest form). Plain ASHA (gamma 0) has a short-horizon bias: a large learning rate
    leads at the early rungs and stops the slower trials that end higher (BPR on ml-100k:
    lr 1e-2 at epoch 5 scores 0.20, lr 2e-3 0.19, and ends 0.226 vs 0.241).

    Args:
        min_epochs (int): the first rung (ASHA's grace period).
        max_epochs (int): epochs of a trial that is never stopped.
        reduction_factor (int): about one trial in this many passes each rung.
        bigger (bool): whether a bigger score is better.
        bracket_key (str, optional): the key of a point that splits trials into brackets.
        extrapolation (float): gamma, the weight of the curve's extrapolation (0: none).
    """

    def __init__(
        self, min_epochs, max_epochs, reduction_factor=3, bigger=True, bracket_key=None,
        extrapolation=0.0,
    ):  # fmt: skip
        if min_epochs < 1 or reduction_factor < 2 or extrapolation < 0:
            raise SearchError(
                "ASHA needs min_epochs >= 1, reduction_factor >= 2 and extrapolation >= 0"
            )
        self.min_epochs, self.max_epochs = min_epochs, max_epochs
        self.rungs = {}
        rung = min_epochs
        while rung < max_epochs:
            self.rungs[rung] = {}
            rung *= reduction_factor
        self.reduction_factor = reduction_factor
        self.bigger = bigger
        self.bracket_key = bracket_key
        self.extrapolation = extrapolation
        self.brackets = {}  # trial number -> its bracket
        self.histories = {}  # trial number -> [(epoch, score)] of a running trial

    def begin(self, number, point):
        if self.bracket_key is not None:
            self.brackets[number] = repr(point.get(self.bracket_key))

    def report(self, number, epoch, score):
        history = self.histories.setdefault(number, [])
        history.append((epoch, score))
        bracket = self.brackets.get(number)
        for rung, scores in self.rungs.items():
            if epoch < rung or number in scores:
                continue
            others = [
                s for n, s in scores.items() if n != number and self.brackets.get(n) == bracket
            ]
            scores[number] = value = self.rung_score(history)
            if others and self._below_cutoff(value, others):
                shown = f"{score:.4f}" + (f" (extrapolated {value:.4f})" if value != score else "")
                self.reason = f"successive halving: {shown} below rung {rung}'s cutoff"
                return STOP
        return CONTINUE

    def rung_score(self, history):
        """What a trial is compared on at a rung: its last score, plus the extrapolation of
        its curve ``history`` (``[(epoch, score)]``) with ``extrapolation`` > 0."""
        epoch, score = history[-1]
        if not self.extrapolation or len(history) < 2:
            return score
        start_epoch, start_score = history[len(history) // 2 - 1]
        sign = 1 if self.bigger else -1
        gain = max(0.0, sign * (score - start_score) / max(1, epoch - start_epoch))
        return score + sign * self.extrapolation * gain * max(0, self.max_epochs - epoch)

    def observe(self, trial):
        """Record a finished trial's curve (evenly spaced validations, the last after
        ``trial.epochs``)."""
        self.begin(trial.number, trial.point)
        self.histories.pop(trial.number, None)
        eval_step = trial.epochs / max(1, len(trial.curve))
        history = []
        for i, score in enumerate(trial.curve):
            epoch = round((i + 1) * eval_step)
            history.append((epoch, score))
            for rung, scores in self.rungs.items():
                if epoch >= rung and trial.number not in scores:
                    scores[trial.number] = self.rung_score(history)

    def _below_cutoff(self, score, others):
        quantile = (1 - 1 / self.reduction_factor) * 100
        if self.bigger:
            return score < np.percentile(others, quantile)
        return score > np.percentile(others, 100 - quantile)


class StalledBehind(Scheduler):
    """Stops a trial that is behind the best score so far and has stalled.

    After each report: if another trial (or ``leader``, a score to beat from elsewhere) has a
    better best score than this trial's best so far, and this trial's best improved by less
    than ``min_delta`` (relative) over its last ``patience`` validations, the trial stops:
    early stopping would end it later, at no better score than it has while it cannot lead.
    A trial that leads is never stopped, so the best trial's run is the run it would be
    alone. SIF's stand-alone checks use it (``sif_check_stall_delta``).

    Args:
        patience (int): validations over which a trial's improvement is measured.
        min_delta (float): the relative improvement below which a trial has stalled.
        bigger (bool): whether a bigger score is better.
        leader (float, optional): a score from outside the search to beat.
    """

    def __init__(self, patience, min_delta, bigger=True, leader=None):
        if patience < 1 or min_delta < 0:
            raise SearchError("a stalled-trial scheduler needs patience >= 1 and min_delta >= 0")
        self.patience, self.min_delta, self.bigger = patience, min_delta, bigger
        self.leader = leader
        self.curves = {}  # trial number -> its scores so far

    def _best(self, scores):
        return max(scores) if self.bigger else min(scores)

    def report(self, number, epoch, score):
        curve = self.curves.setdefault(number, [])
        curve.append(score)
        others = [self._best(c) for n, c in self.curves.items() if n != number and c]
        others += [] if self.leader is None else [self.leader]
        if not others or len(curve) <= self.patience:
            return CONTINUE
        best, leader = self._best(curve), self._best(others)
        before = self._best(curve[: -self.patience])
        sign = 1 if self.bigger else -1  # improvements as positive numbers
        behind = sign * (leader - best) > 0
        gain = sign * (best - before) / max(abs(before), 1e-12)
        if behind and gain < self.min_delta:
            self.reason = (
                f"stalled behind {leader:.4f}: {best:.4f}, {gain:.2%} better than "
                f"{self.patience} validations before"
            )
            return STOP
        return CONTINUE

    def observe(self, trial):
        """Record a finished trial's scores."""
        self.curves[trial.number] = list(trial.curve)
