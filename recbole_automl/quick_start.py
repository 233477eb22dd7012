"""Train and test one model end to end: RecBole's ``run_recbole`` for the plugin.

RecBole's own ``recbole.quick_start`` imports ray at module level; this module
does not, and loads checkpoints through :mod:`recbole_automl.compat`.
"""

import logging
import sys
from logging import getLogger

from recbole.data import create_dataset, data_preparation
from recbole.utils import get_environment, init_logger, set_color

from recbole_automl.compat import load_best_checkpoint
from recbole_automl.config import Config
from recbole_automl.trainer.hyper_search import hyper_search
from recbole_automl.trainer.stopping import fit
from recbole_automl.utils import ConfigError, get_model, get_trainer, init_seed


def train_and_test(config, saved=True, verbose=True):
    """Build the data, model and trainer that ``config`` names; fit on train/valid; test once.

    Returns:
        dict: RecBole's result dict (``best_valid_score``, ``valid_score_bigger``,
        ``best_valid_result``, ``test_result``) plus ``model``, the trained model, and
        ``search``, the trainer's ``search_summary`` for a searching trainer (else ``None``).
    """
    logger = getLogger()
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    if verbose:
        logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    if verbose:
        logger.info(model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    show_progress = verbose and config["show_progress"]
    best_valid_score, best_valid_result = fit(
        trainer,
        train_data,
        valid_data,
        time_limit_s=config["train_time_limit"],
        verbose=verbose,
        saved=saved,
        show_progress=show_progress,
    )
    if saved:
        load_best_checkpoint(trainer)
    test_result = trainer.evaluate(test_data, load_best_model=False, show_progress=show_progress)
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "model": trainer.model,
        "search": getattr(trainer, "search_summary", None),
    }


def run_recbole_automl(
    model=None, dataset=None, config_file_list=None, config_dict=None, saved=True
):
    """Train ``model`` on ``dataset``, evaluate on the test split once, log RecBole's lines.

    Any plugin model (e.g. ``AutoCF``) or RecBole model (e.g. ``BPR``) is accepted. With
    ``search: hyper`` its hyper-parameters are searched over ``params_file`` first and the
    best configuration is trained and tested
    (:func:`~recbole_automl.trainer.hyper_search.hyper_search`).

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
        ``best_params``, ``config_file`` and ``trials``.

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

    if config["search"] is None:
        result = train_and_test(config, saved=saved)
        result.pop("model")
        if result["search"] is None:  # a plain model: RecBole's keys only
            result.pop("search")
    elif config["search"] == "hyper":
        result = hyper_search(config, show_progress=config["show_progress"])
    else:
        raise ConfigError(
            f"Config key 'search' must be one of [None, 'hyper'], got {config['search']!r}."
        )

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
