"""Hyper-parameter search for any plugin or RecBole model (``search: hyper``).

The tutorial's formulation: the space is the ``params_file``; the search objective is the
model's ``valid_metric`` on the validation split; the training objective is the model's own;
the budget is ``search_trials`` and/or ``search_time``, and ASHA (``search_scheduler: asha``)
stops bad trials epoch by epoch through ``Trainer.fit``'s ``callback_fn``. Strategies:
hyperopt's TPE and random search, or the full grid. The best point is exported as a YAML
config; that file is then trained once more and tested, the only use of the test split.
"""

import copy
import difflib
from logging import getLogger

from recbole.data import create_dataset, data_preparation
from recbole.utils import set_color

from recbole_automl.config import Config
from recbole_automl.lookup import get_model, get_trainer
from recbole_automl.methods.searching import (
    as_config_error,
    run_configured_search,
    search_folder,
    train_trial,
)
from recbole_automl.search import HyperSpace, export_config
from recbole_automl.training import train_and_test
from recbole_automl.utils import ConfigError, init_seed

# Keys of the search itself, left out of the exported config.
SEARCH_KEY_PREFIXES = ("search", "params_file", "tpe_", "asha_", "ray_", "config_files", "workers")


def user_settings(config):
    """The user's own settings (files, dict, command line) without the search's keys."""
    return {
        k: v
        for k, v in config.external_config_dict.items()
        if not k.startswith(SEARCH_KEY_PREFIXES)
    }


class HyperObjective:
    """Trains the model at one point of the space and returns its validation outcome.

    Each trial gets a fresh ``Config`` (the user's settings plus the point, so RecBole
    derives every dependent key), RecBole's dataloaders over the one shared dataset, the
    model's own trainer, and the seed a fresh run would have. It holds only a config and a
    dataset, so it can be shipped to forked or Ray workers.
    """

    def __init__(self, config, dataset):
        self.model = config["model"]
        self.dataset_name = config["dataset"]
        self.settings = user_settings(config)
        self.dataset = dataset

    def config(self, point):
        return Config(
            self.model, self.dataset_name, config_dict={**self.settings, **point},
            read_cmd_line=False,
        )  # fmt: skip

    def __call__(self, point, report=None):
        config = self.config(point)
        init_seed(config["seed"], config["reproducibility"])
        # RecBole's build() turns the dataset's tables into tensors in place: split a copy.
        train_data, valid_data, _ = data_preparation(config, copy.deepcopy(self.dataset))
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
        return train_trial(trainer, train_data, valid_data, report)


def check_space_keys(space, config):
    """Refuse a space key that no config of this model reads (a typo would be ignored)."""
    known = config.final_config_dict
    for key in space.keys():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"Search space key '{key}' ({config['params_file']}) is not a config key of "
                f"{config['model']}: RecBole would ignore it.{hint}"
            )


def hyper_search(config, show_progress=True):
    """Search ``config``'s model over ``params_file``; train and test the best once.

    Returns:
        dict: RecBole's result dict of the best configuration (``best_valid_score``,
        ``best_valid_result``, ``test_result``, ...) plus ``best_params`` (the point),
        ``config_file`` (the exported YAML) and ``trials`` (every trial).
    """
    logger = getLogger()
    if not config["params_file"]:
        raise ConfigError("Config key 'params_file' is required with 'search: hyper'.")
    if config["model"] == "AutoCF" and config["architecture"] is None:
        raise ConfigError(
            "Config key 'architecture': 'search: hyper' tunes one fixed model; give AutoCF "
            "an architecture (a preset or branches), or search architectures without it."
        )
    with as_config_error():
        space = HyperSpace.from_file(config["params_file"])
    check_space_keys(space, config)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    objective = HyperObjective(config, dataset)
    bigger = config["valid_metric_bigger"]
    name = f"{config['model']}-{config['dataset']}"
    folder = search_folder(config, name, extra=repr((space.params, space.fixed)))
    workers = config["search_workers"]
    trials, best = run_configured_search(
        config, "hyper-parameter search", objective, space, folder, bigger=bigger,
        logger=logger, show_progress=show_progress, batch_size=workers,
    )  # fmt: skip
    settings = {
        **user_settings(config), **best.point,
        "model": config["model"], "dataset": config["dataset"],
    }  # fmt: skip
    line = f"{best.point} (valid {config['valid_metric']} {best.value:.4f})"
    result, exported = retrain_exported(settings, folder, "best hyper-parameters", line, logger)
    return {**result, "best_params": best.point, "config_file": exported, "trials": trials}


def retrain_exported(settings, folder, title, found, logger, trained=None):
    """Export ``settings`` (what a search found) as ``folder/best.yaml``, say so, and train
    and test that file once: the search's only use of the test split. Returns RecBole's
    result dict and the file. ``trained(config)``, where given, tests instead a model that
    the search has already trained exactly as that file would (the same result, once)."""
    exported = export_config(settings, f"{folder}/best.yaml")
    logger.info(set_color(title, "yellow") + f": {found}; reproduce with --config_files={exported}")
    result = (trained or train_and_test)(Config(config_file_list=[exported], read_cmd_line=False))
    result.pop("model")
    return result, exported
