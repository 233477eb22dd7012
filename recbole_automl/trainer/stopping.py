"""Stopping RecBole's ``Trainer.fit`` from its ``callback_fn``, e.g. on a time budget, and
resuming it (``train_resume``)."""

import time

from recbole_automl.search.schedulers import StopTraining
from recbole_automl.trainer.resume import load_state, save_state

__all__ = ["StopTraining", "fit"]


def fit(
    trainer, train_data, valid_data, callback_fn=None, time_limit_s=None, resume_file=None, **kwargs
):
    """``trainer.fit`` that a callback may stop early and that respects a time limit.

    Args:
        trainer (recbole.trainer.Trainer): any RecBole trainer.
        callback_fn (callable, optional): ``f(epoch_idx, valid_score)`` called after each
            validation; it may raise :class:`StopTraining`.
        time_limit_s (float, optional): stop at the first validation after this many seconds.
        resume_file (str, optional): the run's state is saved there after each validation,
            and a run finds it there to resume (:mod:`~recbole_automl.trainer.resume`); a
            trainer that searches first loads it after its search (``resumes_after_search``).
        **kwargs: passed to ``trainer.fit`` (``saved``, ``verbose``, ``show_progress``).

    Returns:
        (float, dict): the best validation score and result, as ``Trainer.fit`` returns.
    """
    start = time.monotonic()
    if resume_file is not None:
        trainer.resume_file, trainer.resume_loader = resume_file, train_data
        if not getattr(trainer, "resumes_after_search", False):
            load_state(trainer, train_data, resume_file)

    def after_validation(epoch_idx, valid_score):
        if resume_file is not None:
            save_state(trainer, trainer.resume_loader, epoch_idx, resume_file)
        if callback_fn is not None:
            callback_fn(epoch_idx, valid_score)
        if time_limit_s is not None and time.monotonic() - start >= time_limit_s:
            raise StopTraining(f"time limit of {time_limit_s} s reached after epoch {epoch_idx}")

    try:
        return trainer.fit(train_data, valid_data, callback_fn=after_validation, **kwargs)
    except StopTraining as stop:
        trainer.logger.info(f"Training stopped: {stop}")
        return trainer.best_valid_score, trainer.best_valid_result
