"""Train and test one model end to end: RecBole's ``run_recbole`` for the plugin.

RecBole's own ``recbole.quick_start`` imports ray at module level; this module
does not, and loads checkpoints through :mod:`recbole_automl.compat`.
"""

import logging
import sys
from logging import getLogger

from recbole.utils import get_environment, init_logger, set_color

from recbole_automl.config import Config
from recbole_automl.methods.hyper_search import hyper_search
from recbole_automl.methods.model_search import model_search
from recbole_automl.training import train_and_test
from recbole_automl.utils import init_seed

__all__ = ["objective_function", "run_recbole_automl", "train_and_test"]


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
