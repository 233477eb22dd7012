"""AutoCFTrainer: trains one AutoCF architecture, or searches one for the data first.

The search is the tutorial's Algorithm 1 (ARSP; Gao et al., KDD 2021): each round samples
``arsp_k1 + arsp_k2`` random candidates, keeps the ``arsp_k1`` that a learned predictor
ranks highest, trains them with RecBole's ``Trainer`` for ``search_epochs``, records their
validation scores in the journal and refits the predictor on every record with a ranking
loss. A candidate is an architecture, or with ``search_hyper_space`` an architecture and
those hyper-parameters together (a joint space: the best architecture depends on them, as
Wen et al., KDD 2023 argue). When the budget (``search_trials``, ``search_time``) is spent,
the best candidate on validation is retrained with the full ``epochs`` and early stopping
(on every user, when ``search_data_fraction`` screened candidates on a share of them) or,
with ``search_item_item_check``, trained in full without and with the item-item term (and
the next best candidates, ``search_item_item_check_candidates``, with it) and the best on
validation kept; with ``search_check_ensemble`` too, an ensemble of the checked models
(greedy ensemble selection on validation, Caruana et al., ICML 2004) is kept instead when
its validation score is higher. The test split is only used after that, by whoever calls
``evaluate``.
"""

import dataclasses
import functools
import os

import torch
from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.methods.searching import (
    config_keys,
    config_value,
    exported_config,
    parse_hyper_space,
    run_configured_search,
    sample_users,
    train_keeping_best,
    train_loader,
    train_trial,
    training_keys,
    trial_config,
)
from recbole_automl.model.general_recommender.autocf import (
    PRESETS,
    ROW_SCORED,
    SPACE,
    AutoCF,
    item_history,
    item_history_too_costly,
    item_item_error,
    item_item_too_large,
    row_scored,
)
from recbole_automl.model.general_recommender.ensemble import ModelEnsemble
from recbole_automl.search import (
    BranchSpace,
    CategoricalSpace,
    HyperSpace,
    JointSpace,
    point_key,
)
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import ConfigError, derive_config, reseed


class FusedAdam:
    """A RecBole ``Trainer`` mixin: ``learner: adam`` runs as torch's fused Adam (one pass
    over the weights per step) for a model with a large dense table (``model.fused_adam``:
    AutoCF's item-item term, ``n_items ** 2`` weights, whose non-fused Adam step costs
    more than the model's forward and backward). Other models keep RecBole's Adam."""

    def _build_optimizer(self, **kwargs):
        optimizer = super()._build_optimizer(**kwargs)
        if getattr(self.model, "fused_adam", False) and type(optimizer) is torch.optim.Adam:
            group = optimizer.param_groups[0]
            return torch.optim.Adam(
                group["params"], lr=group["lr"], weight_decay=group["weight_decay"], fused=True
            )
        return optimizer


class UserChunks:
    """A RecBole ``Trainer`` mixin: for a model with ``user_chunk`` (AutoCF under
    ``loss_type: softmax``, its ``softmax_user_chunk``) each epoch's batches are made of
    chunks of that many training pairs of one user (:class:`UserChunkLoader`); the pairs of
    an epoch, their loss and the number of steps stay RecBole's. The softmax loss scores a
    row of every item once per distinct user of a batch: RecBole's shuffled pairs make that
    nearly a row per pair on a large dataset (85% of a batch's pairs on ml-1m)."""

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        if getattr(self.model, "user_chunk", None):
            train_data = UserChunkLoader(train_data, self.model.user_chunk)
        return super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)


class UserChunkLoader:
    """One epoch of ``loader`` (RecBole's ``TrainDataLoader``) in which each user's training
    pairs, in a random order, are cut into chunks of ``chunk`` pairs, the chunks shuffled
    and cut into batches of the loader's size; the order is drawn from the loader's seeded
    generator, and the batches go through its own ``collate_fn`` (negatives, transforms)."""

    shuffle = False  # (read by RecBole's Trainer for distributed samplers only)

    def __init__(self, loader, chunk):
        users = loader._dataset.inter_feat[loader._dataset.uid_field]
        draw = torch.randperm(len(users), generator=loader.generator)
        order = draw[torch.argsort(users[draw], stable=True)]  # by user, random within
        grouped = users[order]
        counts = torch.bincount(grouped)
        first = torch.cumsum(counts, 0) - counts  # where each user's pairs start
        piece = (torch.arange(len(order)) - first[grouped]) // chunk
        _, chunk_of = torch.unique(grouped * (piece.max() + 1) + piece, return_inverse=True)
        rank = torch.randperm(int(chunk_of.max()) + 1, generator=loader.generator)[chunk_of]
        self.loader = loader
        epoch = order[torch.argsort(rank, stable=True)]
        self.batches = [batch.numpy() for batch in epoch.split(loader.step)]

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return (self.loader.collate_fn(index) for index in self.batches)


class CandidateTrainer(FusedAdam, UserChunks, Trainer):
    """RecBole's ``Trainer`` for one candidate."""


class AutoCFTrainer(FusedAdam, UserChunks, SearchingTrainer):
    """RecBole ``Trainer`` for :class:`AutoCF`; searches the architecture when it is ``~``
    (with ``search_hyper_space``, jointly with those keys; a given architecture then has
    its hyper-parameters searched)."""

    search_name = "AutoCF"
    # candidates train for search_epochs; the item-item check is journaled on its own
    run_key_ignores = (
        "epochs", "search_item_item_check", "search_item_item_check_candidates",
        "search_check_ensemble",
    )  # fmt: skip
    export_prefixes = ("search_", "arsp_")
    checks, _trained = (), None  # the item-item check's trials and kept model
    _ensemble, ensemble_selection = None, None  # the checks' ensemble (config, model), its pick

    def needs_search(self):
        return self.config["architecture"] is None or bool(self.config["search_hyper_space"])

    def search(self, train_data, valid_data, show_progress=False):
        """Run the architecture search; return the best :class:`~recbole_automl.search.Trial`."""
        config, folder = self.config, self.search_dir
        dataset = train_data._dataset
        space = search_space(config, dataset.item_num, len(dataset), self.logger)
        presets = preset_points(config, space, len(dataset), self.logger)
        screening = sample_users(config, train_data, valid_data, config["search_data_fraction"])
        trials, best = run_configured_search(
            config, "AutoCF search", CandidateObjective(config, *screening), space,
            folder, bigger=self.valid_metric_bigger, logger=self.logger,
            show_progress=show_progress, batch_size=config["arsp_k1"],
            max_epochs=config["search_epochs"], first_points=list(presets.values()),
        )  # fmt: skip
        self.comparison = comparison(trials, presets, best, space, self.valid_metric_bigger)
        line = comparison_line(self.comparison, config["valid_metric"], config["search_epochs"])
        self.logger.info(set_color(line, "yellow"))
        if item_item_checked(config, best.point, dataset.item_num):
            best = self._item_item_check(trials, best, train_data, valid_data, show_progress)
        exported = self.export(**config_keys(config, candidate_keys(best.point)))
        self.logger.info(
            set_color("best architecture", "yellow")
            + f": {best.point} (valid {config['valid_metric']} {best.value:.4f}); "
            + f"reproduce with --model=AutoCF --config_files={exported}"
        )
        return best

    def _item_item_check(self, trials, found, train_data, valid_data, show_progress):
        """Train the found candidate without and with the item-item term, and the next best
        candidates (``search_item_item_check_candidates`` in all) with it, each as a run of
        it would (``epochs``, early stopping; a grid of the core, journaled in the search
        folder); return the best on validation as the found trial, its model kept."""
        ranked = check_candidates(trials, found, self.config, self.valid_metric_bigger)
        keys = [{**candidate_keys(t.point), "item_item": False} for t in ranked]
        epochs = self.config["epochs"]
        # absolute: Ray workers run elsewhere (a worker on another machine saves its model
        # there; then the found model is trained again here)
        folder = os.path.abspath(
            os.path.join(self.search_dir, f"item_item_check-{len(keys)}-epochs-{epochs}")
        )
        objective = ItemItemCheck(self.config, keys, train_data, valid_data, folder)
        # found without the term, then each candidate with it: the first points of a grid
        # whose budget is just them (the other candidates without the term are not trained)
        points = [{"candidate": 1, "item_item": False}]
        points += [{"candidate": rank, "item_item": True} for rank in range(1, len(keys) + 1)]
        config = derive_config(
            self.config, search_strategy="grid", search_grid_shuffle=False,
            search_scheduler="none", search_trials=len(points), search_trial_epochs=None,
            search_time=None,
        )  # fmt: skip
        space = HyperSpace.from_dict(
            {"candidate": {"choice": list(range(1, len(keys) + 1))},
             "item_item": {"choice": [False, True]}}
        )  # fmt: skip
        self.checks, best = run_configured_search(
            config, "AutoCF item-item check", objective, space, folder,
            bigger=self.valid_metric_bigger, logger=self.logger, show_progress=show_progress,
            max_epochs=epochs, first_points=points,
        )  # fmt: skip
        self._trained = objective.load(best.point)  # None: not kept
        cells = " | ".join(f"{check_name(t.point)} {t.value:.4f} ({t.epochs} epochs)"
                           for t in self.checks if t.scored)  # fmt: skip
        self.logger.info(set_color(f"item-item check (valid, early stopping): {cells}", "yellow"))
        chosen = best.point
        point = (
            {**keys[chosen["candidate"] - 1], "item_item": True}
            if chosen["item_item"]
            else found.point
        )
        best = dataclasses.replace(best, point=point)
        if checks_ensembled(self.config):
            best = self._ensemble_of_checks(objective, keys, train_data, valid_data, best)
        return best

    def _ensemble_of_checks(self, objective, keys, train_data, valid_data, best):
        """Greedy ensemble selection (:meth:`ModelEnsemble.select_weights`) over the models
        the check trained, on validation; return the ensemble as the found trial (its point
        the keys of a ``ModelEnsemble`` of AutoCF members, its model kept) if it combines
        two or more and its validation score beats ``best``'s, else ``best``."""
        loaded = [(t, objective.load(t.point)) for t in self.checks if t.scored]
        checked = [(t, kept[0]) for t, kept in loaded if kept is not None]  # (trial, state)
        if len(checked) < 2:
            return best
        members = [
            {"model": "AutoCF", **config_keys(self.config, {**keys[t.point["candidate"] - 1],
                                                            "item_item": t.point["item_item"]})}
            for t, _ in checked
        ]  # fmt: skip
        found = {"model": "ModelEnsemble", "ensemble_members": members,
                 "ensemble_weights": [1.0] * len(members)}  # fmt: skip
        config = type(self.config)(  # the plugin's Config (this module cannot import it)
            "ModelEnsemble", self.config["dataset"], read_cmd_line=False,
            config_dict=exported_config(self.config, self.export_prefixes, **found),
        )  # fmt: skip
        model = ModelEnsemble(config, train_data._dataset).to(self.device)
        for member, (_, state) in zip(model.members, checked):
            member.load_state_dict(state)
        sign = 1 if self.valid_metric_bigger else -1
        kept, self.model = self.model, model  # this trainer's evaluation, on the ensemble
        try:
            counts, value, _ = model.select_weights(
                lambda: sign * self._valid_epoch(valid_data)[0], ENSEMBLE_ROUNDS
            )
            result = self._valid_epoch(valid_data)[1]
        finally:
            self.model = kept
        chosen = [i for i, count in enumerate(counts) if count]
        won = len(chosen) > 1 and value > sign * best.value
        self.ensemble_selection = {"counts": counts, "valid_score": sign * value, "kept": won}
        self.logger.info(
            set_color("ensemble of the checks", "yellow")
            + f" (valid, counts {counts}): {sign * value:.4f}"
            + (", kept" if won else f", not above the best check's {best.value:.4f}")
        )
        if not won:
            return best
        model.keep_members(chosen)
        model.set_weights([counts[i] for i in chosen])
        config["ensemble_members"] = [members[i] for i in chosen]
        config["ensemble_weights"] = [float(counts[i]) for i in chosen]
        self._ensemble = config, model
        self._trained = (model.state_dict(), sign * value, result)
        point = {k: config[k] for k in ("model", "ensemble_members", "ensemble_weights")}
        return dataclasses.replace(best, point=point, value=sign * value, result=dict(result))

    def trained(self, found):
        return self._trained

    def adopt(self, found, train_data):
        if is_ensemble(found.point):  # trained by the check: this trainer now holds it
            self.config, self.model = self._ensemble
            return train_data
        keys = training_keys(self.config, candidate_keys(found.point))
        train_data = train_loader(derive_config(self.config, **keys), train_data)
        self.rebuild(train_data, **keys)
        return train_data

    def summarise(self, found):
        if found is None:
            return None
        keys = config_keys(self.config, candidate_keys(found.point))
        checks = [{**t.point, "valid_score": t.value, "epochs": t.epochs, "status": t.status}
                  for t in self.checks]  # fmt: skip
        return {**keys, "valid_score": found.value, "comparison": self.comparison,
                "item_item_check": checks, "check_ensemble": self.ensemble_selection,
                "retrained": self._trained is None,
                "folder": self.search_dir}  # fmt: skip


def item_item_checked(config, point, n_items):
    """Whether the search's found ``point`` gets the item-item check: asked for
    (``search_item_item_check``), the point has no item-item term and the term is allowed."""
    return (
        config["search_item_item_check"]
        and not has_item_item(config, point)
        and not item_item_too_large(config, n_items)
    )


ENSEMBLE_ROUNDS = 10  # members added at most after the best one alone (as search: models)


def checks_ensembled(config):
    """Whether the item-item check's models are ensembled (``search_check_ensemble``): an
    ensemble ranks full item lists only."""
    full = config["eval_args"]["mode"] in ("full", {"valid": "full", "test": "full"})
    return config["search_check_ensemble"] and full


def is_ensemble(point):
    """Whether a found point is the check's ensemble (a ``ModelEnsemble``'s keys)."""
    return isinstance(point, dict) and point.get("model") == "ModelEnsemble"


def has_item_item(config, point):
    """Whether a candidate of the search (``point``) trains with the item-item term."""
    return candidate_keys(point).get("item_item", config["item_item"])


def check_candidates(trials, found, config, bigger=True):
    """The found trial, then the next best scored trials of other points without the
    item-item term, ``search_item_item_check_candidates`` in all (fewer if the search
    trained fewer)."""
    others = [
        t for t in trials
        if t.scored and t.point != found.point and not has_item_item(config, t.point)
    ]  # fmt: skip
    others.sort(key=lambda t: t.value, reverse=bigger)
    return [found, *others][: config["search_item_item_check_candidates"]]


def check_name(point):
    """A check's point in words: ``found``, ``found + item_item``, ``#2 + item_item``."""
    name = "found" if point["candidate"] == 1 else f"#{point['candidate']}"
    return name + (" + item_item" if point["item_item"] else "")


def search_space(config, n_items=0, n_interactions=0, logger=None):
    """The architectures of ``search_max_branches`` branches, joint with
    ``search_hyper_space`` when it is set (then a point is a dict of config keys); with an
    ``architecture`` given, that space alone (the architecture's hyper-parameters). Above
    ``item_item_max_items`` items, ``item_item: True`` is left out of the space; above
    ``item_history_max_interactions`` training interactions, the item-side history
    encodings. When a candidate may train with ``loss_type: softmax``, the architectures are
    those whose every-item scores are one matrix product (:data:`ROW_SCORED`)."""
    hyper = (
        parse_hyper_space(config, "search_hyper_space") if config["search_hyper_space"] else None
    )
    stages = ROW_SCORED if "softmax" in loss_types(config, hyper) else SPACE
    if item_history_too_costly(config, n_interactions):
        stages = {**stages, "item": [e for e in stages["item"] if not e.startswith("history")]}
        if logger is not None:
            logger.warning(
                f"item-side history encodings left out of the search: {n_interactions:,} "
                f"training interactions > item_history_max_interactions "
                f"({config['item_history_max_interactions']:,})"
            )
    architectures = BranchSpace(CategoricalSpace(stages), config["search_max_branches"])
    if hyper is None:
        return architectures  # a point is the architecture (journals before the joint space)
    limit, too_large = config["item_item_max_items"], item_item_too_large(config, n_items)
    for param in hyper.walk():
        if param.name == "item_item" and too_large and True in param.args:
            if param.args == [True]:
                raise ConfigError(item_item_error(n_items, limit, "search_hyper_space"))
            index = param.args.index(True)
            param.args.pop(index)
            if param.conditions:
                param.conditions.pop(index)
            if logger is not None:
                logger.warning(f"item_item: True left out of the search: {n_items:,} items "
                               f"> item_item_max_items ({limit:,})")  # fmt: skip
    if config["architecture"] is not None:
        return hyper
    return JointSpace({"architecture": architectures}, hyper)


def loss_types(config, hyper=None):
    """The losses a candidate may train with: ``loss_type``, or the joint space's options."""
    if hyper is not None and "loss_type" in hyper.fixed:
        return {hyper.fixed["loss_type"]}
    for param in hyper.walk() if hyper is not None else []:
        if param.name == "loss_type":
            return set(param.args)
    return {config["loss_type"]}


def preset_points(config, space, n_interactions=0, logger=None):
    """The points of ``search_presets``: each preset's architecture, with the joint
    space's other keys as ``config`` sets them (the model a user gets without search);
    above ``item_history_max_interactions``, those with an item-side history are left out."""
    points = {}
    if config["architecture"] is not None:
        return points  # the architecture is given: no other to compare with
    softmax = "softmax" in loss_types(config, getattr(space, "hyper", None))
    too_costly = item_history_too_costly(config, n_interactions)
    for name in config["search_presets"] or []:
        if too_costly and item_history(PRESETS[name]):
            if logger is not None:
                logger.warning(f"preset {name} left out: its items encode their history")
            continue
        if softmax and not row_scored(PRESETS[name]):
            allowed = [preset for preset in PRESETS if row_scored(PRESETS[preset])]
            raise ConfigError(
                f"Config key 'search_presets': {name} is not in the space that loss_type "
                f"softmax searches (interaction multiply, prediction SUM or VEC); "
                f"presets there are {allowed}."
            )
        branches = sorted(PRESETS[name], key=point_key)  # as BranchSpace orders a point
        if not isinstance(space, JointSpace):
            points[name] = branches
            continue
        value_of = functools.partial(config_value, config)
        points[name] = {"architecture": branches, **space.hyper.point(value_of)}
    return points


def comparison(trials, presets, best, space, bigger=True):
    """Rows ``{model, valid_score}``: the found candidate, then the presets by score."""
    scores = {space.key(t.point): t.value for t in trials if t.scored}
    rows = [{"model": name, "valid_score": scores[space.key(point)]}
            for name, point in presets.items() if space.key(point) in scores]  # fmt: skip
    rows.sort(key=lambda row: row["valid_score"], reverse=bigger)
    return [{"model": "found", "valid_score": best.value}, *rows]


def comparison_line(rows, metric, epochs):
    """The comparison as one log line."""
    cells = " | ".join(f"{row['model']} {row['valid_score']:.4f}" for row in rows)
    return f"found vs presets (valid {metric}, {epochs} epochs each): {cells}"


def candidate_keys(point):
    """The config keys a candidate's point sets."""
    return point if isinstance(point, dict) else {"architecture": point}


class ItemItemCheck:
    """Trains a candidate of the check (``keys[point["candidate"] - 1]``, config keys) with
    ``item_item`` as the point says, as a run of it would (``epochs``, early stopping), and
    saves its best model in ``folder`` (``(state_dict, best_valid_score,
    best_valid_result)``) before the journal records the trial: the checks can run in
    forked workers, and a resumed search keeps the model of a finished check."""

    def __init__(self, config, keys, train_data, valid_data, folder):
        self.config, self.keys, self.folder = config, keys, folder
        self.train_data, self.valid_data = train_data, valid_data

    def model_file(self, point):
        return os.path.join(
            self.folder, f"candidate-{point['candidate']}-item_item-{point['item_item']}.pth"
        )

    def load(self, point):
        """The saved model of the check of ``point``, or ``None``."""
        path = self.model_file(point)
        return torch.load(path, weights_only=False) if os.path.exists(path) else None

    def __call__(self, point, report=None):
        keys = {**self.keys[point["candidate"] - 1], "item_item": point["item_item"]}
        config = trial_config(self.config, keys)
        train_data = train_loader(config, self.train_data)
        reseed(config, train_data)
        model = AutoCF(config, train_data._dataset).to(config["device"])
        outcome, (state, score, result) = train_keeping_best(
            CandidateTrainer(config, model), train_data, self.valid_data, report
        )
        os.makedirs(self.folder, exist_ok=True)  # (a Ray worker on another machine)
        torch.save((state, score, dict(result)), self.model_file(point))
        return outcome


class CandidateObjective:
    """Trains one candidate (a ``model_class`` with ``trainer_class``) for
    ``search_epochs``; returns its validation outcome.

    It holds only the config and the dataloaders, so it can be shipped to forked or Ray
    workers.
    """

    model_class, trainer_class = AutoCF, CandidateTrainer

    def __init__(self, config, train_data, valid_data):
        self.config, self.train_data, self.valid_data = config, train_data, valid_data

    def __call__(self, point, report=None):
        epochs = self.config["search_epochs"]
        config = trial_config(
            self.config, candidate_keys(point), epochs=epochs,
            eval_step=self.config["search_eval_step"] or epochs,
        )  # fmt: skip
        train_data = train_loader(config, self.train_data)
        reseed(config, train_data)
        model = self.model_class(config, train_data._dataset).to(config["device"])
        trainer = self.trainer_class(config, model)
        return train_trial(trainer, train_data, self.valid_data, report)
