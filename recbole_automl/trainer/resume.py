"""Resuming a long training run (``train_resume``): its whole state after every validation.

RecBole saves the best model of a run, not where the run is; a run killed after hours
starts again from epoch 0. With ``train_resume: True`` the run keeps, beside its best model,
a file of its last validated epoch: the model and optimizer, early stopping's count and best
result, and every random state (Python, NumPy for the negative sampler, torch, each
dataloader's shuffling generator). A rerun of the same config finds both files by a key of
its settings (``epochs`` excluded: a run may be resumed with a larger cap) and goes on from
the next epoch as if it had never stopped.
"""

import os
import random

import numpy as np
import torch

from recbole_automl.search.report import run_key
from recbole_automl.utils import shuffling_parts

# Settings that change neither the data nor the training of a run.
IGNORED = ("epochs", "show_progress", "checkpoint_dir", "state", "gpu_id", "use_gpu", "device",
           "worker", "log_wandb", "wandb_project", "verbose", "train_time_limit")  # fmt: skip


def resume_files(config):
    """(last state, best model): the files of ``config``'s run in its ``checkpoint_dir``."""
    key = run_key(config.final_config_dict, IGNORED)
    base = os.path.join(config["checkpoint_dir"], f"{config['model']}-resume-{key}")
    return base + "-last.pth", base + "-best.pth"


def save_state(trainer, train_data, epoch_idx, path):
    """Write where ``trainer``'s run is after validating epoch ``epoch_idx``."""
    state = {
        "epoch": epoch_idx,
        "stopped": trainer.cur_step >= trainer.stopping_step,  # early stopping ended it
        "cur_step": trainer.cur_step,
        "best_valid_score": trainer.best_valid_score,
        "best_valid_result": trainer.best_valid_result,
        "state_dict": trainer.model.state_dict(),
        "other_parameter": trainer.model.other_parameter(),
        "optimizer": trainer.optimizer.state_dict(),
        "random": (random.getstate(), np.random.get_state(), torch.get_rng_state()),
        "cuda_random": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "generators": [loader.generator.get_state() for loader in shuffling_parts(train_data)],
    }
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)  # a run killed while saving keeps the previous state


def load_state(trainer, train_data, path):
    """Put ``trainer`` where its run was when ``path`` was saved; False if there is no file.

    A run that had ended (early stopping) or reached ``epochs`` gets its best model back
    and trains no further."""
    if not os.path.exists(path):
        return False
    # The file is one this plugin wrote (it pickles the best result): trusted.
    state = torch.load(path, map_location=trainer.device, weights_only=False)
    trainer.model.load_state_dict(state["state_dict"])
    trainer.model.load_other_parameter(state["other_parameter"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.cur_step = state["cur_step"]
    trainer.best_valid_score = state["best_valid_score"]
    trainer.best_valid_result = state["best_valid_result"]
    trainer.start_epoch = state["epoch"] + 1
    python_state, numpy_state, torch_state = state["random"]
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)
    if state["cuda_random"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_random"])
    for loader, generator_state in zip(shuffling_parts(train_data), state["generators"]):
        loader.generator.set_state(generator_state)
    if state["stopped"] or trainer.start_epoch >= trainer.epochs:
        best = torch.load(trainer.saved_model_file, map_location=trainer.device, weights_only=False)
        trainer.model.load_state_dict(best["state_dict"])
        trainer.model.load_other_parameter(best.get("other_parameter"))
        trainer.start_epoch = trainer.epochs
    trainer.logger.info(f"Resumed from {path}: epoch {state['epoch'] + 1} of {trainer.epochs}")
    return True
