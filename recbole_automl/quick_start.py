"""Train and test one model end to end: RecBole's ``run_recbole`` for the plugin.

RecBole's own ``recbole.quick_start`` imports ray at module level; this module
does not, and loads checkpoints through :mod:`recbole_automl.compat`.
"""

import logging
import sys
from logging import getLogger

import torch
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_environment, init_logger, set_color

from recbole_automl.config import Config
from recbole_automl.lookup import get_model
from recbole_automl.methods.hyper_search import hyper_search
from recbole_automl.methods.model_search import model_search
from recbole_automl.training import train_and_test
from recbole_automl.utils import init_seed

__all__ = ["load_data_and_model", "objective_function", "run_recbole_automl", "train_and_test"]


def run_recbole_automl(
    model=None, dataset=None, config_file_list=None, config_dict=None, saved=True
):
    """Train ``model`` on ``dataset``, evaluate on the test split once, log RecBole's lines.

    Any plugin model (e.g. ``AutoCF``) or RecBole model (e.g. ``BPR``) is accepted. With
    ``search: hyper`` its hyper-parameters are searched over ``params_file`` first and the
    best configuration is trained and tested
    (:func:`~recbole_automl.methods.hyper_search.hyper_search`); with ``search: models``
    (and no model) the candidate models and their settings are searched, and the winner
    trained and tested (:func:`~recbole_automl.methods.model_search.model_search`).

    Args:
        model (str or type, optional): model name or class; else read from the config.
        dataset (str, optional): dataset name; else read from the config.
        config_file_list (list of str, optional): YAML config files.
        config_dict (dict, optional): parameters that override the files.
        saved (bool): save the best checkpoint and test with it.

    Returns:
        dict: ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result`` and
        ``test_result``, as RecBole's ``run_recbole`` returns; SIF, λOpt and PEP add
        ``search``, their trainer's summary; a hyper-parameter search adds
        ``best_params``, ``config_file`` and ``trials``; a model search also
        ``leaderboard``.

    Example:
        >>> run_recbole_automl(model="BPR", dataset="ml-100k", config_dict={"epochs": 5})
    """
    config = Config(
        model=model,
        dataset=dataset,
        config_file_list=config_file_list,
        config_dict=config_dict,
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(sys.argv)
    logger.info(config)

    if config["search"] == "hyper":
        result = hyper_search(config, show_progress=config["show_progress"])
    elif config["search"] == "models":
        result = model_search(config, show_progress=config["show_progress"])
    else:
        result = train_and_test(config, saved=saved)
        result.pop("model")
        if result["search"] is None:  # a plain model: RecBole's keys only
            result.pop("search")
            result.pop("model_file")

    logger.info(
        "The running environment of this training is as follows:\n" + get_environment(config).draw()
    )
    logger.info(set_color("best valid ", "yellow") + f": {result['best_valid_result']}")
    logger.info(set_color("test result", "yellow") + f": {result['test_result']}")
    return result


def objective_function(config_dict=None, config_file_list=None, saved=True):
    """Train and test quietly; RecBole's ``objective_function`` for hyper-parameter search.

    Returns:
        dict: ``model`` (the model name), ``best_valid_score``, ``valid_score_bigger``,
        ``best_valid_result`` and ``test_result``.
    """
    config = Config(config_dict=config_dict, config_file_list=config_file_list)
    init_seed(config["seed"], config["reproducibility"])
    logger = getLogger()
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    init_logger(config)
    logging.basicConfig(level=logging.ERROR)
    result = train_and_test(config, saved=saved, verbose=False)
    result["model"] = config["model"]
    return result


def load_data_and_model(model_file):
    """RecBole's ``load_data_and_model`` for the plugin's models too: the config, the model
    (its trained weights loaded), the dataset and its three dataloaders of a checkpoint
    that a run saved (``result["model_file"]`` of a search; RecBole's ``saved/`` files).

    RecBole's own imports ray and cannot load a plugin model; both read the pickled
    ``Config`` of the checkpoint (``weights_only=False``), so load only checkpoints you
    or your runs wrote.

    Example (top-10 items of two users, from the winner of a model search)::

        from recbole.utils.case_study import full_sort_topk
        config, model, dataset, _, _, test_data = load_data_and_model(result["model_file"])
        users = dataset.token2id(dataset.uid_field, ["196", "186"])
        scores, items = full_sort_topk(users, model, test_data, k=10, device=config["device"])
        dataset.id2token(dataset.iid_field, items.cpu())
    """
    checkpoint = torch.load(model_file, map_location="cpu", weights_only=False)
    config = checkpoint["config"]
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model.eval(), dataset, train_data, valid_data, test_data
