"""What every searching trainer shares: reading the budget, scheduler, executor and folder
of a search from its RecBole config, the one call that runs a search with its journal,
progress bar and trajectory plot, and the training of one trial with RecBole's Trainer."""

import os

from recbole.utils import set_color

from recbole_automl.search import (
    Budget,
    Journal,
    NoScheduler,
    SearchProgress,
    SuccessiveHalving,
    TrialOutcome,
    best_trial,
    make_executor,
    plot_trajectory,
    run_key,
    run_search,
)
from recbole_automl.trainer.stopping import fit
from recbole_automl.utils import ConfigError

SCHEDULERS = ("asha", "none")
EXECUTORS = ("local", "ray")
# Keys that do not change which trials a search runs and how: a rerun that differs only in
# these resumes the same journal (a larger budget extends the search).
RUN_KEY_IGNORES = (
    "search_trials", "search_time", "search_workers", "search_executor", "ray_address",
    "search_dir", "train_time_limit", "show_progress", "state", "gpu_id", "use_gpu", "device",
    "checkpoint_dir", "worker", "log_wandb", "wandb_project", "verbose",
)  # fmt: skip


def check_choice(config, key, allowed):
    value = config[key]
    if value not in allowed:
        raise ConfigError(f"Config key '{key}' must be one of {list(allowed)}, got {value!r}.")
    return value


def search_folder(config, name, ignores=(), extra=None):
    """``search_dir``, or ``saved/search/<name>-<run key>``: one folder per distinct search."""
    if config["search_dir"]:
        return config["search_dir"]
    settings = {**config.final_config_dict, "_extra": extra}
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


def make_scheduler(config, bigger, max_epochs):
    """``search_scheduler``: ASHA over ``asha_*`` rungs up to ``max_epochs``, or none."""
    if check_choice(config, "search_scheduler", SCHEDULERS) == "none":
        return NoScheduler()
    return SuccessiveHalving(
        config["asha_min_epochs"], max_epochs, config["asha_reduction_factor"], bigger
    )


def make_search_executor(config):
    """``search_executor``: local (serial or forked workers) or Ray Tune."""
    workers = config["search_workers"]  # an int >= 1: Config checks it
    if check_choice(config, "search_executor", EXECUTORS) == "local":
        return make_executor(workers, config["device"])
    from recbole_automl.search.ray_tune import RayTuneExecutor

    return RayTuneExecutor(workers, address=config["ray_address"], device=config["device"])


def run_configured_search(
    config, title, objective, space, strategy, folder, *, bigger, logger, show_progress,
    batch_size=1, max_epochs=None,
):  # fmt: skip
    """Run a search as ``config`` says; return (all trials, the best trial).

    The journal and the trajectory plot are written to ``folder``.
    """
    budget = Budget(config["search_trials"], config["search_time"])
    logger.info(set_color(title, "green") + f": {budget}, journal in {folder}")
    progress = SearchProgress(budget.max_trials, title, disable=not show_progress)
    try:
        trials = run_search(
            objective, space, strategy, budget, Journal(os.path.join(folder, "journal.jsonl")),
            bigger=bigger, seed=config["seed"], batch_size=batch_size, progress=progress,
            logger=logger, executor=make_search_executor(config),
            scheduler=make_scheduler(config, bigger, max_epochs or config["epochs"]),
        )  # fmt: skip
    finally:
        progress.close()
    best = best_trial(trials, bigger)
    if best is None:
        raise RuntimeError(f"every trial of the search failed; see {folder}/journal.jsonl")
    path = os.path.join(folder, "trajectory.png")
    plot_trajectory({config["search_strategy"]: trials}, path, config["valid_metric"], bigger)
    return trials, best


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
