"""What every module of the plugin may use: its error type, seeding, derived configs.

It imports nothing else of the plugin.
"""

import copy
import os

import torch
from recbole.utils import init_seed as recbole_init_seed


class ConfigError(ValueError):
    """A user-facing configuration mistake; its message names the key and what is allowed."""


def init_seed(seed, reproducibility):
    """RecBole's ``init_seed``, and with ``reproducibility`` deterministic torch kernels too.

    RecBole only makes cuDNN deterministic. On the CPU, the backward pass of an indexing
    with repeated indices (``x[index]``: a batch's rows gathered from unique ones) adds
    its gradients in parallel in an order that varies from run to run; a search then
    scores the same candidate differently and proposes other candidates. Deterministic
    algorithms fix that (ops without one only warn); cuBLAS needs its workspace setting,
    which takes effect if CUDA is not initialised yet.
    """
    recbole_init_seed(seed, reproducibility)
    if reproducibility:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(bool(reproducibility), warn_only=True)


def reseed(config, *dataloaders):
    """Reset every random source a RecBole training run draws from.

    ``init_seed`` covers Python, NumPy (negative sampling) and torch (initialisation);
    each RecBole dataloader also shuffles with a generator of its own, seeded once when
    it was built. Reseeding both makes a model trained after others in the same process
    (a search candidate, the final retrain) train exactly as in a fresh run.
    """
    init_seed(config["seed"], config["reproducibility"])
    for dataloader in dataloaders:
        for part in shuffling_parts(dataloader):
            part.generator.manual_seed(config["seed"])


def shuffling_parts(dataloader):
    """The RecBole loaders inside ``dataloader`` that shuffle with a generator of their own:
    itself, or for a KG model's loader its two (the interactions' and the KG triples')."""
    parts = [getattr(dataloader, n, None) for n in ("general_dataloader", "kg_dataloader")]
    return [p for p in parts if p is not None] or [dataloader]


def derive_config(config, **overrides):
    """A copy of a built ``Config`` with some final values replaced (``config`` is unchanged).

    For keys that only the model or trainer read (an architecture, a number of epochs);
    keys that shape the dataset need a new ``Config``.
    """
    derived = copy.copy(config)
    derived.final_config_dict = {**config.final_config_dict, **overrides}
    return derived
