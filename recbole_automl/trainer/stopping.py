"""Stopping RecBole's ``Trainer.fit`` from its ``callback_fn``, e.g. on a time budget, and
saving its state for ``train_resume``."""

import time

from recbole_automl.search.schedulers import StopTraining
from recbole_automl.trainer.resume import save_state

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
        resume_file (str, optional): the run's state is saved there after each validation
            (:mod:`~recbole_automl.trainer.resume`; whoever resumes the run loads it).
        **kwargs: passed to ``trainer.fit`` (``saved``, ``verbose``, ``show_progress``).

    Returns:
        (float, dict): the best validation score and result, as ``Trainer.fit`` returns.
    """
    start = time.monotonic()

    def after_validation(epoch_idx, valid_score):
        if resume_file is not None:
            # a searching trainer trains on the loader its search adopted
            save_state(
                trainer, getattr(trainer, "resume_loader", train_data), epoch_idx, resume_file
            )
        if callback_fn is not None:
            callback_fn(epoch_idx, valid_score)
        if time_limit_s is not None and time.monotonic() - start >= time_limit_s:
            raise StopTraining(f"time limit of {time_limit_s} s reached after epoch {epoch_idx}")

    try:
        return trainer.fit(train_data, valid_data, callback_fn=after_validation, **kwargs)
    except StopTraining as stop:
        trainer.logger.info(f"Training stopped: {stop}")
        return trainer.best_valid_score, trainer.best_valid_result
