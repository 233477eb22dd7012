"""The candidate models of ``search: models`` and their spaces, shipped as data.

``properties/spaces/tasks.yaml`` lists each task's default candidates; every candidate has
``properties/spaces/<Model>.yaml``, its hyper-parameter space in the format of a
``params_file`` (every range commented with where it comes from). A task that trains a
model otherwise has ``<Model>.<task>.yaml`` (AutoCF on ratings: no ranking loss to choose).
"""

import os

import yaml

from recbole_automl.checks import PROPERTIES_DIR
from recbole_automl.utils import ConfigError

SPACES_DIR = os.path.join(PROPERTIES_DIR, "spaces")


def task_models():
    """``{task: [model, ...]}``: the default candidates of each ``search_task``."""
    with open(os.path.join(SPACES_DIR, "tasks.yaml")) as f:
        return yaml.safe_load(f)


def spaced_models():
    """The models that have a space file, sorted."""
    names = (f[: -len(".yaml")] for f in os.listdir(SPACES_DIR) if f.endswith(".yaml"))
    return sorted(n for n in names if n != "tasks" and "." not in n)


def candidate_models(search_models, task):
    """The candidates a search compares: ``search_models`` (a list, or a comma-separated
    string as the command line gives it) or ``task``'s default list; each must have a
    space file."""
    tasks = task_models()
    if task not in tasks:
        raise ConfigError(f"Config key 'search_task' must be one of {list(tasks)}, got {task!r}.")
    if search_models is None:
        return list(tasks[task])
    if isinstance(search_models, str):
        search_models = [m.strip() for m in search_models.split(",") if m.strip()]
    known = spaced_models()
    if not isinstance(search_models, list) or not search_models:
        raise ConfigError(
            f"Config key 'search_models' must be a list of models from {known} (or ~ for "
            f"the {task} list {tasks[task]}), got {search_models!r}."
        )
    unknown = [m for m in search_models if m not in known]
    if unknown:
        raise ConfigError(
            f"Config key 'search_models': {unknown} have no space in "
            f"recbole_automl/properties/spaces/; the models with one are {known}."
        )
    return list(dict.fromkeys(search_models))


def model_space(model, task=None):
    """The space of one candidate (for ``task``): a dict of ``{key: {distribution: args}}``."""
    path = os.path.join(SPACES_DIR, f"{model}.{task}.yaml")
    if not os.path.isfile(path):
        path = os.path.join(SPACES_DIR, f"{model}.yaml")
    with open(path) as f:
        return yaml.safe_load(f) or {}
