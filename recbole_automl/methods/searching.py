"""What every method's search shares: the budget, strategy, scheduler, executor and folder
of a search read from its RecBole config, the one call that runs a search with its journal,
progress bar and trajectory plot, and the training of one trial with RecBole's Trainer."""

import contextlib
import os

import numpy as np
import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.utils import InputType, set_color

from recbole_automl.checks import check_key, check_space, load_checks
from recbole_automl.model.abstract_recommender import PAIRWISE_LOSSES
from recbole_automl.search import (
    EXECUTORS,
    SCHEDULERS,
    STRATEGIES,
    Budget,
    HyperSpace,
    Journal,
    SearchError,
    SearchProgress,
    SeededStrategy,
    TrialOutcome,
    best_trial,
    plot_trajectory,
    run_key,
    run_search,
)
from recbole_automl.trainer.stopping import fit
from recbole_automl.utils import ConfigError, derive_config

# Keys that do not change which trials a search runs and how: a rerun that differs only in
# these resumes the same journal (a larger budget extends the search; a grid in another
# order reuses its finished points).
RUN_KEY_IGNORES = (
    "search_trials", "search_time", "search_trial_epochs", "search_workers", "search_executor",
    "ray_address", "search_grid_shuffle",
    "search_dir", "train_time_limit", "show_progress", "state", "gpu_id", "use_gpu", "device",
    "checkpoint_dir", "worker", "log_wandb", "wandb_project", "verbose",
)  # fmt: skip


@contextlib.contextmanager
def as_config_error():
    """The core's :class:`SearchError` reaches the user as the plugin's ``ConfigError``."""
    try:
        yield
    except SearchError as error:
        raise ConfigError(str(error)) from None


# Keys added after the first searches were keyed, and the value that searches as before
# them: at that value a key is left out of the run key, so an older search keeps its folder.
LATER_KEYS = {
    "search_hyper_space": None, "item_item": False, "search_data_fraction": 1.0,
    "item_item_max_items": 10000, "item_item_neighbours": None, "arsp_fidelity": False,
    "search_task": "general", "search_models": None, "asha_bracket_key": None,
    "asha_extrapolation": 0.0, "item_history_max_interactions": 200000,
    "softmax_user_chunk": None, "pep_retrain": "rewind",
}  # fmt: skip


def search_folder(config, name, ignores=(), extra=None):
    """``search_dir``, or ``saved/search/<name>-<run key>``: one folder per distinct search."""
    if config["search_dir"]:
        return config["search_dir"]
    settings = {
        k: v
        for k, v in config.final_config_dict.items()
        if not (k in LATER_KEYS and v == LATER_KEYS[k])
    }
    settings["_extra"] = extra
    key = run_key(settings, RUN_KEY_IGNORES + tuple(ignores))
    return os.path.join(config["checkpoint_dir"], "search", f"{name}-{key}")


def exported_config(config, search_prefixes, **found):
    """A config that trains what a search found without searching again.

    The user's own settings (files, dict and command line, minus the keys that start with
    ``search_prefixes``) plus the model, dataset and seed, then ``found``.
    """
    user_keys = {
        k: v
        for k, v in config.external_config_dict.items()
        if not k.startswith(tuple(search_prefixes)) and k != "config_files"
    }
    return {
        **user_keys,
        "model": config["model"],
        "dataset": config["dataset"],
        "seed": config["seed"],
        **found,
    }


def run_configured_search(
    config, title, objective, space, folder, *, bigger, logger, show_progress,
    batch_size=1, max_epochs=None, first_points=(), scheduler=None,
):  # fmt: skip
    """Run a search as ``config`` says; return (all trials, the best trial).

    Strategy, scheduler and executor are the registry's entries named by
    ``search_strategy``, ``search_scheduler`` (unless a ``scheduler`` is given) and
    ``search_executor``; ``first_points`` are evaluated before the strategy's. The journal
    and the trajectory plot are written to ``folder``.
    """
    with as_config_error():
        strategy = STRATEGIES.create(config["search_strategy"], space, config)
        if first_points:
            strategy = SeededStrategy(strategy, first_points)
        scheduler = scheduler or SCHEDULERS.create(
            config["search_scheduler"], config, bigger, max_epochs or config["epochs"]
        )
        executor = EXECUTORS.create(config["search_executor"], config)
    budget = Budget(config["search_trials"], config["search_time"], config["search_trial_epochs"])
    logger.info(set_color(title, "green") + f": {budget}, journal in {folder}")
    progress = SearchProgress(budget.max_trials, title, disable=not show_progress)
    try:
        trials = run_search(
            objective, space, strategy, budget, Journal(os.path.join(folder, "journal.jsonl")),
            bigger=bigger, seed=config["seed"], batch_size=batch_size, progress=progress,
            logger=logger, executor=executor, scheduler=scheduler,
        )  # fmt: skip
    finally:
        progress.close()
    best = best_trial(trials, bigger)
    if best is None:
        raise RuntimeError(f"every trial of the search failed; see {folder}/journal.jsonl")
    path = os.path.join(folder, "trajectory.png")
    plot_trajectory({config["search_strategy"]: trials}, path, config["valid_metric"], bigger)
    return trials, best


def config_keys(config, point):
    """The config keys a point of a space sets. A dotted key ``name.field`` sets one field of
    the dict key ``name``, its other fields as ``config`` has them:
    ``train_neg_sample_args.sample_num: 4`` sets ``train_neg_sample_args``."""
    keys = {}
    for key, value in point.items():
        name, dot, field = key.partition(".")
        if dot:
            keys[name] = {**(keys.get(name) or config[name] or {}), field: value}
        else:
            keys[key] = value
    return keys


def config_value(config, key):
    """``config[key]``; a dotted key ``name.field`` reads one field of the dict ``name``
    (the reverse of :func:`config_keys`)."""
    name, dot, field = key.partition(".")
    return config[name][field] if dot else config[key]


def training_keys(config, point):
    """:func:`config_keys`, plus what RecBole's ``Config`` derives from them: the input
    type a ``loss_type`` trains on (pairs for BPR and softmax, labelled rows otherwise)."""
    keys = config_keys(config, point)
    if "loss_type" in keys:
        pairwise = keys["loss_type"] in ("BPR", *PAIRWISE_LOSSES)
        keys["MODEL_INPUT_TYPE"] = InputType.PAIRWISE if pairwise else InputType.POINTWISE
    return keys


def trial_config(config, point, **more):
    """``config`` with the keys of ``point`` (and ``more``) set, for one trial."""
    return derive_config(config, **training_keys(config, point), **more)


def train_loader(config, train_data):
    """``train_data``, or when ``config`` trains on other samples (its input type, its
    ``train_neg_sample_args``) RecBole's ``TrainDataLoader`` over the same training split
    and sampler that draws those."""
    if (
        train_data.dl_format == config["MODEL_INPUT_TYPE"]
        and train_data.neg_sample_args == config["train_neg_sample_args"]
    ):
        return train_data
    return TrainDataLoader(config, train_data._dataset, train_data._sampler, shuffle=True)


def sample_users(config, train_data, valid_data, fraction):
    """Loaders over ``fraction`` of the users (drawn with the seed): their training
    interactions (RecBole's ``TrainDataLoader``, ``config``'s negatives) and their
    validation rows (a loader of ``valid_data``'s class); the samplers are shared, so the
    history a validation masks is the user's whole training history, as in the full data."""
    if fraction >= 1:
        return train_data, valid_data
    uid = train_data._dataset.uid_field
    users = np.unique(train_data._dataset.inter_feat[uid].numpy())
    count = max(1, round(fraction * len(users)))
    chosen = np.random.default_rng(config["seed"]).choice(users, count, replace=False)

    def subset(dataset):
        keep = np.isin(dataset.inter_feat[uid].numpy(), chosen)
        return dataset.copy(dataset.inter_feat[torch.as_tensor(keep)])

    train = TrainDataLoader(config, subset(train_data._dataset), train_data._sampler, True)
    valid = type(valid_data)(config, subset(valid_data._dataset), valid_data._sampler, False)
    return train, valid


def parse_hyper_space(config, key):
    """The :class:`HyperSpace` of config key ``key``; every value it can take must obey the
    rule of its own key (``*.checks.yaml``), checked before anything trains."""
    with as_config_error():
        space = HyperSpace.from_dict(config[key])
    rules = load_checks(config["model"], config["search"])
    if key in rules:  # conditional keys too, not only the mapping's own
        check_key(key, dict.fromkeys(space.keys()), rules[key], config)
    check_space(space, rules, config, key)
    return space


def train_keeping_best(trainer, train_data, valid_data, report=None):
    """:func:`train_trial`, keeping the weights of the epoch that RecBole's early stopping
    keeps as the best: returns the outcome and ``(state_dict, best_valid_score,
    best_valid_result)``, the trained model as a run of its config would leave it."""
    best = {}

    def keep_best(epoch, score):
        if trainer.cur_step == 0:  # RecBole's early stopping took this epoch as the best
            best["state"] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        if report is not None:
            report(epoch, score)

    outcome = train_trial(trainer, train_data, valid_data, keep_best)
    return outcome, (best["state"], outcome.value, outcome.result)


def train_trial(trainer, train_data, valid_data, report=None):
    """Fit one trial with a RecBole trainer; ``report(epoch, score)`` after each validation.

    Returns:
        TrialOutcome: the best validation score and metrics, the curve, the epochs trained
        (up to the last validation).
    """
    curve, epochs = [], [0]

    def after_validation(epoch_idx, score):
        curve.append(score)
        epochs[0] = epoch_idx + 1
        if report is not None:
            report(epoch_idx + 1, score)

    try:
        score, result = fit(
            trainer, train_data, valid_data, callback_fn=after_validation,
            saved=False, verbose=False,
        )  # fmt: skip
    finally:
        trainer.tensorboard.close()
    return TrialOutcome(score, result, curve, epochs[0])
