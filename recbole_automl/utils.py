"""Model and trainer lookup: the plugin's classes first, then RecBole's."""

import difflib
import functools
import importlib
import inspect
import os

import torch
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer
from recbole.utils import init_seed as recbole_init_seed

PLUGIN_MODEL_PACKAGES = (
    "recbole_automl.model.general_recommender",
    "recbole_automl.model.context_aware_recommender",
)
RECBOLE_MODEL_PACKAGES = (
    "recbole.model.general_recommender",
    "recbole.model.context_aware_recommender",
    "recbole.model.sequential_recommender",
    "recbole.model.knowledge_aware_recommender",
)
# RecBole's wrappers of external libraries; their package imports lightgbm and
# xgboost, so they are only imported when asked for by name.
RECBOLE_EXLIB_MODELS = ("lightgbm", "xgboost")


class ConfigError(ValueError):
    """A user-facing configuration mistake; its message names the key and what is allowed."""


def _models_in(package):
    module = importlib.import_module(package)
    return {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, AbstractRecommender)
        and obj.__module__.startswith(package + ".")
    }


@functools.lru_cache(maxsize=None)
def plugin_models():
    """Model classes this plugin adds, by name."""
    models = {}
    for package in PLUGIN_MODEL_PACKAGES:
        models.update(_models_in(package))
    return models


@functools.lru_cache(maxsize=None)
def recbole_models():
    """RecBole's own model classes, by name (external-library models excluded)."""
    models = {}
    for package in RECBOLE_MODEL_PACKAGES:
        models.update(_models_in(package))
    return models


def available_models():
    """Every model name ``get_model`` accepts, sorted."""
    names = set(plugin_models()) | set(recbole_models()) | set(RECBOLE_EXLIB_MODELS)
    return sorted(names, key=str.lower)


def get_model(model_name):
    """Return the model class called ``model_name``, searching the plugin first.

    Raises:
        ConfigError: naming the unknown model, close matches and every known name.
    """
    for models in (plugin_models(), recbole_models()):
        if model_name in models:
            return models[model_name]
    if model_name in RECBOLE_EXLIB_MODELS:
        return recbole_get_model(model_name)
    names = available_models()
    close = difflib.get_close_matches(str(model_name), names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"Unknown model '{model_name}'.{hint} Available models: {', '.join(names)}")


def get_trainer(model_type, model_name):
    """Return ``<model_name>Trainer`` from the plugin if it has one, else RecBole's choice."""
    trainers = importlib.import_module("recbole_automl.trainer")
    trainer = getattr(trainers, model_name + "Trainer", None)
    if trainer is not None:
        return trainer
    return recbole_get_trainer(model_type, model_name)


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
        dataloader.generator.manual_seed(config["seed"])
