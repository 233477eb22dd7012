"""One-shot searches (SIF's supernet, λOpt's coefficients, PEP's masks: methods that learn
their choice while training one model) as a RecBole ``Trainer`` whose every validation is a
trial of the search core: journaled, counted against the budget, shown on the progress bar,
resumable."""

import os
import time

import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.data.utils import get_dataloader
from recbole.sampler import Sampler
from recbole.trainer import Trainer

from recbole_automl.search import (
    Budget,
    SearchProgress,
    SearchState,
    StopTraining,
    Trial,
    TrialRecorder,
    plot_trajectory,
)
from recbole_automl.utils import derive_config


def search_config(config):
    """``config`` for a search that runs its ``search_epochs`` out, validated after each.

    No early stopping: a search ends by its budget or its own rule (PEP: every target
    reached), not by a dip of the validation score (SIF's supernet dips each time the argmax
    moves to an operation whose head is still untrained).
    """
    epochs = config["search_epochs"]
    return derive_config(config, epochs=epochs, eval_step=1, stopping_step=epochs)


class OneShotTrainer(Trainer):
    """RecBole's ``Trainer`` whose ``fit`` records a one-shot search in ``folder``.

    A subclass says what the search would choose now (:meth:`point`, plain data) and, if it
    steps more than ``self.optimizer``, which optimizers its state includes
    (:meth:`optimizers`); it may select on other data than ``valid_data``
    (:meth:`selection_data`) and report on the search when it ends (:meth:`after_search`).
    The budget is ``epochs`` (with RecBole's early stopping on the validation metric) and
    ``search_time`` seconds. After ``fit``, ``trials`` holds one
    :class:`~recbole_automl.search.Trial` per validation, those of earlier runs included.

    Resuming: after each validation the trainer's state (model, optimizers, epoch, early
    stopping, best validation result) and the new trial are saved by
    :class:`~recbole_automl.search.SearchState`. A rerun loads them and trains on from the
    next epoch; it trains nothing if the search had ended by early stopping or its epochs. The
    best model (``saved=True``) is ``folder/best_model.pth``, so it survives a resume.
    """

    def __init__(self, config, model, folder):
        super().__init__(config, model)
        self.folder = folder
        self.state = SearchState(folder)
        self.saved_model_file = os.path.join(folder, "best_model.pth")
        self.last_valid_result = {}
        self.trials = []

    def point(self):
        """What the search would choose now, as plain data (a trial's point)."""
        raise NotImplementedError

    def optimizers(self):
        """The optimizers whose state a checkpoint holds, by name."""
        return {"optimizer": self.optimizer}

    def selection_data(self, train_data, valid_data):
        """The data validations (and so early stopping and selection) run on."""
        return valid_data

    def after_search(self, train_data):
        """Called at the end of ``fit``, with ``self.trials``; may set ``search_summary``."""

    def _valid_epoch(self, valid_data, show_progress=False):
        score, self.last_valid_result = super()._valid_epoch(valid_data, show_progress)
        return score, self.last_valid_result

    def fit(
        self,
        train_data,
        valid_data=None,
        verbose=True,
        saved=True,
        show_progress=False,
        callback_fn=None,
    ):
        valid_data = self.selection_data(train_data, valid_data)
        title = f"{self.config['model']} search"
        recorder = TrialRecorder(
            Budget(max_seconds=self.config["search_time"]), self.state,
            bigger=self.valid_metric_bigger,
            progress=SearchProgress(self.epochs, title, not show_progress),
        )  # fmt: skip
        recorder.replay(self._resume())
        self.trials = recorder.finished
        last = [time.monotonic()]

        def record(epoch_idx, score):
            now = time.monotonic()
            trial = Trial(
                number=len(self.trials), round=0, point=self.point(), value=float(score),
                result={k: float(v) for k, v in self.last_valid_result.items()},
                curve=[float(score)], epochs=epoch_idx + 1, seconds=round(now - last[0], 3),
                started=round(time.time() - (now - last[0]), 3),
            )  # fmt: skip
            last[0] = now
            recorder.record(trial, checkpoint=self._checkpoint(epoch_idx))
            if callback_fn is not None:
                callback_fn(epoch_idx, score)
            if recorder.budget.exhausted:
                raise StopTraining(f"search_time of {recorder.budget.max_seconds} s spent")

        ended = self.start_epoch >= self.epochs or self.cur_step > self.stopping_step
        try:
            if not ended and not recorder.budget.exhausted:
                super().fit(train_data, valid_data, verbose, saved, show_progress, record)
        except StopTraining as stop:
            self.logger.info(f"Training stopped: {stop}")
        finally:
            recorder.progress.close()
            self.tensorboard.close()
        self.after_search(train_data)
        return self.best_valid_score, self.best_valid_result

    def search(self, train_data, valid_data, show_progress=False):
        """``fit`` for a search whose model is not the final one: quiet, no best-model file.

        Writes ``trajectory.png`` and returns the trials.
        """
        self.fit(train_data, valid_data, verbose=False, saved=False, show_progress=show_progress)
        if self.trials:
            path = os.path.join(self.folder, "trajectory.png")
            runs = {self.config["model"]: self.trials}
            plot_trajectory(runs, path, self.config["valid_metric"], self.valid_metric_bigger)
        return self.trials

    def _checkpoint(self, epoch_idx):
        return {
            "epoch": epoch_idx,
            "cur_step": int(self.cur_step),
            "best_valid_score": float(self.best_valid_score),
            "best_valid_result": {k: float(v) for k, v in (self.best_valid_result or {}).items()},
            "state_dict": self.model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
        }

    def _resume(self):
        state, trials = self.state.load(self.device)
        if state is None:
            return trials
        self.start_epoch = state["epoch"] + 1
        self.cur_step = state["cur_step"]
        self.best_valid_score = state["best_valid_score"]
        self.best_valid_result = state["best_valid_result"]
        self.model.load_state_dict(state["state_dict"])
        for name, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.logger.info(f"Resumed the search from {self.state.path} at epoch {self.start_epoch}")
        return trials


def validation_batches(config, train_data, valid_data, part=None):
    """Endless shuffled mini-batches of the validation split, drawn like training batches.

    Args:
        part (Dataset, optional): the validation interactions to draw from (default: all;
            see :func:`split_validation`).

    For BPR and CE the negatives are sampled among the items that the user has in neither
    the training nor the validation split.
    """
    sampler = None
    if train_data._sampler is not None:
        args = config["train_neg_sample_args"]
        datasets = [train_data._dataset, valid_data._dataset]
        sampler = Sampler(["train", "valid"], datasets, args["distribution"], args["alpha"])
        sampler = sampler.set_phase("valid")
    loader = TrainDataLoader(config, part or valid_data._dataset, sampler, shuffle=True)
    while True:
        yield from loader


def split_validation(config, valid_data, ratio):
    """Split the validation interactions at random into (a part to learn from, a loader of
    the rest, evaluated as RecBole evaluates ``valid_data``).

    A method that fits something to validation data (λOpt's coefficients) selects its model
    on the rest, so that the selection is not made on the data it was fitted to.
    """
    dataset = valid_data._dataset
    generator = torch.Generator().manual_seed(config["seed"])
    order = torch.randperm(len(dataset), generator=generator)
    cut = int(round(ratio * len(dataset)))
    learn, select = (
        dataset.copy(dataset.inter_feat[order[:cut]]),
        dataset.copy(dataset.inter_feat[order[cut:]]),
    )
    loader = get_dataloader(config, "valid")(config, select, valid_data._sampler, shuffle=False)
    return learn, loader
