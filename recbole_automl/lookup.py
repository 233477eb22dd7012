"""Model and trainer lookup: the plugin's classes first, then RecBole's."""

import difflib
import functools
import importlib
import inspect

from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

import recbole_automl.trainer as plugin_trainers
from recbole_automl.utils import ConfigError

PLUGIN_MODEL_PACKAGES = (
    "recbole_automl.model.general_recommender",
    "recbole_automl.model.context_aware_recommender",
    "recbole_automl.model.knowledge_aware_recommender",
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


def _models_in(packages):
    """The recommender classes defined in ``packages``, by name."""
    models = {}
    for package in packages:
        module = importlib.import_module(package)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, AbstractRecommender)
                and obj.__module__.startswith(package + ".")
            ):
                models[name] = obj
    return models


@functools.lru_cache(maxsize=None)
def plugin_models():
    """Model classes this plugin adds, by name."""
    return _models_in(PLUGIN_MODEL_PACKAGES)


@functools.lru_cache(maxsize=None)
def recbole_models():
    """RecBole's own model classes, by name (external-library models excluded)."""
    return _models_in(RECBOLE_MODEL_PACKAGES)


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
    """Return ``<model_name>Trainer`` from the plugin if it has one, else RecBole's choice.

    A trainer that trains other models (``ModelEnsembleTrainer``: its members) comes with
    this function as its ``trainer_of``."""
    trainer = getattr(plugin_trainers, model_name + "Trainer", None)
    if trainer is None:
        return recbole_get_trainer(model_type, model_name)
    if "trainer_of" in inspect.signature(trainer).parameters:
        return functools.partial(trainer, trainer_of=get_trainer)
    return trainer
