"""Model selection (``search: models``): which model, with which settings, for this data.

The tutorial's formulation: the space is one conditional choice of ``model`` over the
candidates (``search_models``, or ``search_task``'s list), each with the hyper-parameter
space of its ``properties/spaces/<Model>.yaml``; the search objective is ``valid_metric``
on the validation split; the training objective is each model's own; the budget is
``search_trials`` shared by every model, each trial at most ``epochs`` epochs, with ASHA
(``search_scheduler: asha``) stopping bad trials at its rungs and a closed-form model one
epoch. Every model is trained at (the space's value nearest to) its RecBole defaults first,
so the leaderboard compares them all; the strategy (TPE by default) then spends the rest of
the budget where it pays. The winner is exported as ``best.yaml``, trained once more and
tested, the only use of the test split (an ensemble of the best models, when it wins on
validation, is tested as its selection trained it: the same models). Everything else is the
search core's: journal and resume, failed trials recorded, progress bar, executors.
"""

import copy
import math
import os
import time
from logging import getLogger

import numpy as np
from recbole.data import create_dataset, data_preparation
from recbole.utils import ModelType, set_color

from recbole_automl.config import Config
from recbole_automl.lookup import get_model, get_trainer
from recbole_automl.methods.hyper_search import HyperObjective, retrain_exported
from recbole_automl.methods.searching import (
    as_config_error,
    config_keys,
    run_configured_search,
    search_folder,
)
from recbole_automl.model.general_recommender.ensemble import ModelEnsemble
from recbole_automl.search import HyperSpace
from recbole_automl.search.report import _pyplot, _save
from recbole_automl.spaces import candidate_models, model_space
from recbole_automl.training import evaluate_trained
from recbole_automl.utils import ConfigError, init_seed

# The model types of a task's candidates (they must share one dataset and its split).
TASK_TYPES = {
    "general": (ModelType.GENERAL, ModelType.TRADITIONAL),
    "explicit": (ModelType.GENERAL, ModelType.CONTEXT),
    "ctr": (ModelType.CONTEXT,),
}
# The metrics a task's candidates are selected on (explicit: rating errors, as
# configs/explicit.yaml sets them up).
TASK_METRICS = {"explicit": ("rmse", "mae")}
# The tasks whose models an ensemble can join (ModelEnsemble ranks full item lists).
ENSEMBLE_TASKS = ("general",)
# Settings every trial takes from the search's config (the user's own, and the defaults
# of search: models), on top of the user's settings.
TRIAL_KEYS = ("epochs",)


def models_space(models, task=None):
    """The space of a model search: ``model`` chosen among ``models``, each option with the
    keys of its own space (for ``task``)."""
    with as_config_error():
        options = {m: model_space(m, task) for m in models}
        return HyperSpace.from_dict({"model": {"choice": options}})


def check_task(config, task):
    """Refuse a ``valid_metric`` that does not measure what ``task`` is about."""
    metric = config["valid_metric"].split("@")[0].lower()
    if task in TASK_METRICS and metric not in TASK_METRICS[task]:
        raise ConfigError(
            f"Config key 'valid_metric': search_task {task} selects on one of "
            f"{[m.upper() for m in TASK_METRICS[task]]}, got {config['valid_metric']!r} "
            "(configs/explicit.yaml sets up rating regression: MSE loss, labeled evaluation)."
        )


def check_candidates(models, task):
    """Refuse a candidate that is not a model of ``task`` (it would need another dataset)."""
    for model in models:
        model_type = get_model(model).type
        if model_type not in TASK_TYPES[task]:
            raise ConfigError(
                f"Config key 'search_models': {model} is a {model_type.name.lower()} model; "
                f"search_task {task} compares models of types "
                f"{[t.name.lower() for t in TASK_TYPES[task]]}."
            )


class ModelObjective(HyperObjective):
    """Trains the point's model with the point's settings (RecBole's data, model, trainer)."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.settings.pop("model", None)
        self.settings.update({k: config[k] for k in TRIAL_KEYS})
        self.base = config

    def config(self, point):
        keys = config_keys(self.base, {k: v for k, v in point.items() if k != "model"})
        return Config(
            point["model"], self.dataset_name, config_dict={**self.settings, **keys},
            read_cmd_line=False,
        )  # fmt: skip


def nearest(param, value):
    """The value of ``param`` closest to ``value`` (a model's default): itself if allowed."""
    if param.kind != "choice":
        low, high = param.args[0], param.args[1]
        return param.number(min(max(value, low), high)) if value is not None else low
    if value in param.args:
        return value
    numbers = [v for v in param.args if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return min(numbers, key=lambda v: abs(math.log(max(v, 1e-12)) - math.log(value)))
    return param.args[0]


def default_points(space, objective, models):
    """Each model at its RecBole defaults, moved to the nearest value its space allows."""
    (choice,) = space.params
    points = []
    for model, params in zip(choice.args, choice.conditions):
        if model not in models:
            continue
        defaults = objective.config({"model": model})
        point = {"model": model}
        stack = list(params)
        while stack:
            param = stack.pop(0)
            name, _, field = param.name.partition(".")
            value = defaults[name][field] if field else defaults[param.name]
            point[param.name] = nearest(param, value)
            if param.conditions:
                stack.extend(param.conditions[param.args.index(point[param.name])])
        points.append(point)
    return points


def leaderboard(trials, bigger, first_points):
    """One row per model, the best first: its best validation score and settings, its score
    at the defaults, and what its trials cost."""
    defaults = {p["model"]: p for p in first_points}
    rows = {}
    for trial in trials:
        model = trial.point["model"]
        row = rows.setdefault(
            model,
            {"model": model, "best": None, "settings": None, "defaults": None,
             "trials": 0, "pruned": 0, "failed": 0, "epochs": 0, "seconds": 0.0},
        )  # fmt: skip
        row["trials"] += 1
        row["epochs"] += trial.epochs
        row["seconds"] += trial.seconds
        row["pruned"] += trial.status == "pruned"
        row["failed"] += not trial.scored
        if not trial.scored:
            continue
        if trial.point == defaults.get(model):
            row["defaults"] = trial.value
        if row["best"] is None or (trial.value > row["best"]) == bigger:
            row["best"] = trial.value
            row["settings"] = {k: v for k, v in trial.point.items() if k != "model"}
    return best_first(list(rows.values()), bigger)


def best_first(rows, bigger):
    """Leaderboard rows sorted by their best score, the best first (unscored ones last)."""
    worst = -np.inf if bigger else np.inf
    return sorted(rows, key=lambda r: worst if r["best"] is None else r["best"], reverse=bigger)


def leaderboard_lines(rows, metric):
    """The leaderboard as markdown lines."""

    def score(value):
        return "-" if value is None else f"{value:.4f}"

    lines = [
        f"| model | best valid {metric} | at defaults | trials (pruned, failed) | epochs | "
        "seconds | settings of the best |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {score(r['best'])} | {score(r['defaults'])} | {r['trials']} "
            f"({r['pruned']}, {r['failed']}) | {r['epochs']} | {r['seconds']:.0f} | "
            f"{r['settings'] if r['settings'] else '-'} |"
        )
    return lines


def write_leaderboard(rows, folder, metric, title):
    """``leaderboard.md`` and ``leaderboard.png`` in ``folder``; returns the markdown path."""
    path = os.path.join(folder, "leaderboard.md")
    with open(path, "w") as f:
        f.write("\n".join([f"# {title}", "", *leaderboard_lines(rows, metric), ""]))
    scored = [r for r in rows if r["best"] is not None][::-1]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(scored) + 1.2))
    ax.barh([r["model"] for r in scored], [r["best"] for r in scored], label="best")
    defaults = [r["defaults"] if r["defaults"] is not None else np.nan for r in scored]
    ax.plot(defaults, range(len(scored)), "k|", markersize=14, label="at defaults")
    ax.set_xlabel(f"valid {metric}")
    ax.legend(loc="lower right")
    _save(fig, os.path.join(folder, "leaderboard.png"))
    return path


def ensemble_members(config, rows, size):
    """The best settings of each of the ``size`` best models of the leaderboard."""
    scored = [r for r in rows if r["best"] is not None][:size]
    return [{"model": r["model"], **config_keys(config, r["settings"] or {})} for r in scored]


def select_ensemble(config, dataset, settings, members, rounds, logger):
    """Train ``members`` (each as a run of it alone), then choose their weights on the
    validation split (:meth:`ModelEnsemble.select_weights`: greedy ensemble selection).

    Returns:
        (list of int, float, callable): each member's count (its weight), the ensemble's
        score, and ``retrain_exported``'s ``trained``: it tests the chosen ensemble of the
        members trained here (retraining them would give the same models).
    """
    ensemble = {**settings, "ensemble_members": members, "ensemble_weights": [1.0] * len(members)}
    config = Config("ModelEnsemble", config["dataset"], config_dict=ensemble, read_cmd_line=False)
    init_seed(config["seed"], config["reproducibility"])
    train_data, valid_data, test_data = data_preparation(config, copy.deepcopy(dataset))
    model = ModelEnsemble(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], "ModelEnsemble")(config, model)
    trainer.fit(train_data, valid_data, saved=False, verbose=False)
    bigger = config["valid_metric_bigger"]
    sign = 1 if bigger else -1

    def validate():
        return sign * trainer._valid_epoch(valid_data)[0]

    counts, best, alone = model.select_weights(validate, rounds)
    logger.info(
        set_color("ensemble selection", "green")
        + f": members alone {[round(sign * a, 4) for a in alone]}, counts {counts}, "
        + f"valid {config['valid_metric']} {sign * best:.4f}"
    )

    def trained(final):
        model.keep_members([i for i, c in enumerate(counts) if c])
        model.set_weights(final["ensemble_weights"])
        tester = get_trainer(final["MODEL_TYPE"], "ModelEnsemble")(final, model)
        best = tester._valid_epoch(valid_data)
        tester.best_valid_score = best[0]
        tester._save_checkpoint(0, verbose=False)
        return evaluate_trained(tester, test_data, best, saved=True)

    return counts, sign * best, trained


def model_search(config, show_progress=True):
    """Search which model of the candidates, with which settings; train and test the best.

    Returns:
        dict: RecBole's result dict of the winner (``best_valid_score``,
        ``best_valid_result``, ``test_result``, ...) plus ``best_params`` (the model and
        its settings), ``config_file`` (the exported YAML), ``trials`` and
        ``leaderboard`` (one row per model, the best first).
    """
    logger = getLogger()
    task = config["search_task"]
    models = candidate_models(config["search_models"], task)
    check_task(config, task)
    check_candidates(models, task)
    space = models_space(models, task)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    objective = ModelObjective(config, dataset)
    first_points = default_points(space, objective, models)
    bigger = config["valid_metric_bigger"]
    name = f"models-{config['dataset']}"
    folder = search_folder(config, name, ignores=("model",), extra=repr(space.params))
    trials, best = run_configured_search(
        config, "model search", objective, space, folder, bigger=bigger, logger=logger,
        show_progress=show_progress, batch_size=config["search_workers"],
        first_points=first_points,
    )  # fmt: skip
    rows = leaderboard(trials, bigger, first_points)
    metric = config["valid_metric"]
    found = {
        **config_keys(config, {k: v for k, v in best.point.items() if k != "model"}),
        "model": best.point["model"],
    }
    members = ensemble_members(config, rows, config["search_ensemble_size"])
    tested = None  # the winner is trained again from best.yaml, unless it is the ensemble
    if config["search_ensemble"] and task in ENSEMBLE_TASKS and len(members) > 1:
        start = time.monotonic()
        counts, value, trained = select_ensemble(
            config, dataset, objective.settings, members, config["search_ensemble_rounds"], logger
        )
        chosen = [(m, c) for m, c in zip(members, counts) if c]
        rows.append({
            "model": "ModelEnsemble", "best": value, "defaults": None, "trials": 1,
            "pruned": 0, "failed": 0, "epochs": 0, "seconds": time.monotonic() - start,
            "settings": {m["model"]: c for m, c in chosen},
        })  # fmt: skip
        rows = best_first(rows, bigger)
        if len(chosen) > 1 and (value > best.value) == bigger:  # one more candidate, won
            tested = trained
            found = {
                "model": "ModelEnsemble", "ensemble_members": [m for m, _ in chosen],
                "ensemble_weights": [float(c) for _, c in chosen],
            }  # fmt: skip
    settings = {
        **objective.settings, **found, "dataset": config["dataset"], "seed": config["seed"],
    }  # fmt: skip
    board = write_leaderboard(rows, folder, metric, f"Model search on {config['dataset']}")
    logger.info(
        set_color("leaderboard", "yellow")
        + f" ({board}):\n"
        + "\n".join(leaderboard_lines(rows, metric))
    )
    line = f"{found} (valid {metric} {rows[0]['best']:.4f})"
    result, exported = retrain_exported(settings, folder, "best model", line, logger, tested)
    return {
        **result,
        "best_params": best.point if found["model"] != "ModelEnsemble" else found,
        "config_file": exported,
        "trials": trials,
        "leaderboard": rows,
    }
