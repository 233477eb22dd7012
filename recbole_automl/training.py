"""Train and test one model as its config says: RecBole's data, model, trainer and evaluator."""

import os
from logging import getLogger

from recbole.data import create_dataset, data_preparation
from recbole.trainer import Trainer

from recbole_automl.compat import load_best_checkpoint
from recbole_automl.lookup import get_model, get_trainer
from recbole_automl.trainer.resume import load_state, resume_files
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.trainer.stopping import fit
from recbole_automl.utils import ConfigError, init_seed


def train_and_test(config, saved=True, verbose=True):
    """Build the data, model and trainer that ``config`` names; fit on train/valid; test once.

    Returns:
        dict: RecBole's result dict (``best_valid_score``, ``valid_score_bigger``,
        ``best_valid_result``, ``test_result``) plus ``model``, the trained model,
        ``search``, the trainer's ``search_summary`` for a searching trainer (else ``None``),
        and ``model_file``, the checkpoint it saved (``None`` unless ``saved``).
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
    resume_file = None
    if config["train_resume"]:
        if type(trainer).fit not in (Trainer.fit, SearchingTrainer.fit):
            raise ConfigError(
                f"Config key 'train_resume' must be False for {config['model']}: its trainer "
                f"({type(trainer).__name__}) has a training loop of its own, which does not resume."
            )
        resume_file, trainer.saved_model_file = resume_files(config)
        if isinstance(trainer, SearchingTrainer):
            trainer.resume_file = resume_file  # loaded after its search, into the found model
        else:
            load_state(trainer, train_data, resume_file)
    else:
        own_checkpoint(trainer)

    show_progress = verbose and config["show_progress"]
    best_valid_score, best_valid_result = fit(
        trainer,
        train_data,
        valid_data,
        time_limit_s=config["train_time_limit"],
        verbose=verbose,
        saved=saved,
        show_progress=show_progress,
        resume_file=resume_file,
    )
    if saved:
        load_best_checkpoint(trainer)
    best = best_valid_score, best_valid_result
    return evaluate_trained(trainer, test_data, best, saved, show_progress)


def own_checkpoint(trainer):
    """Give RecBole's checkpoint name (model and the second it was made) this process's id:
    two runs started in the same second in one folder (parallel benchmark processes) would
    otherwise save to, and reload, one file. Checkpoints named by a trainer itself stay."""
    folder, name = os.path.split(trainer.saved_model_file)
    if os.path.abspath(folder) == os.path.abspath(trainer.checkpoint_dir) and name.startswith(
        f"{trainer.config['model']}-"
    ):
        base, ext = os.path.splitext(name)
        trainer.saved_model_file = os.path.join(folder, f"{base}-{os.getpid()}{ext}")


def evaluate_trained(trainer, test_data, best, saved, show_progress=False):
    """Test ``trainer``'s model once, as it is (``best``: its validation score and result);
    the result dict of :func:`train_and_test`."""
    config = trainer.config
    best_valid_score, best_valid_result = best
    test_result = trainer.evaluate(test_data, load_best_model=False, show_progress=show_progress)
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "model": trainer.model,
        "search": getattr(trainer, "search_summary", None),
        "model_file": trainer.saved_model_file if saved else None,
    }
