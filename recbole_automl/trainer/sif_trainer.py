"""SIFTrainer: trains one SIF model, or searches its interaction function first.

The search (Yao et al., WWW 2020) trains the supernet once, bilevel: before each step of
the embeddings and heads on a training mini-batch (RecBole's training loop and optimizer),
one Adam step of the architecture (operation weights, element-wise networks) on a
validation mini-batch, with the operation weights binarised in the forward pass and
clipped to [0, 1] after the step. Every epoch ends with RecBole's validation of the
supernet's current operation (journaled: the search's trajectory).

Two additions to the paper, both on validation data only (``sif_warmup_epochs: 0`` and
``sif_finalists: 0`` give the paper's method):

* a warm-up: the first ``sif_warmup_epochs`` train every operation in turn (one per
  training batch, round robin) with no architecture step, so no operation loses the
  argmax only because its head was never trained;
* stand-alone checks: after ``search_epochs`` every operation is validated once inside the
  supernet (shared weights, a one-shot score); the argmax and the best others by that
  score, ``sif_finalists`` in all, are each trained stand-alone as a run of them would be
  (early stopping on validation, at most ``sif_check_epochs``, by default ``epochs``)
  without the element-wise networks (trials of the search core, journaled in
  ``checks/``), and with ``sif_networks_check`` (off by default: rarely better, and the
  costliest check) the best of them again with the searched networks
  (``checks-networks/``); the best on validation is the found function. A check that is
  behind the best so far and has stalled stops (``sif_check_stall_delta``; the best check
  runs to its end). Short checks do not work: on ml-100k ratings (seed 2020) after 5 epochs
  ``minus`` (RMSE 0.2359, converged) led ``multiply`` (0.2779, still falling to 0.2336).

The found function is exported as a YAML config and trained stand-alone from scratch (full
``epochs``, early stopping on validation), unless its check was that run already (the same
config and seed: ``epochs`` of them, or early stopping ended it within them), whose model
is then kept. The test split is only used after that, by whoever calls ``evaluate``.
"""

import dataclasses
import os

import torch
from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.methods.searching import (
    run_configured_search,
    train_keeping_best,
    trial_config,
)
from recbole_automl.model.general_recommender.sif import SIF
from recbole_automl.search import HyperSpace, StalledBehind, best_trial, plot_weights
from recbole_automl.trainer.one_shot import OneShotTrainer, search_config, validation_batches
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import derive_config, reseed


class SupernetTrainer(OneShotTrainer):
    """Trains the SIF supernet: an architecture step before each training step."""

    def __init__(self, config, model, folder, valid_batches):
        super().__init__(config, model, folder)
        self.optimizer = self._build_optimizer(params=model.weight_parameters())
        self.arch_optimizer = torch.optim.Adam(
            model.architecture_parameters(), lr=config["arch_learning_rate"]
        )
        self.valid_batches = valid_batches

    def optimizers(self):
        return {"optimizer": self.optimizer, "arch_optimizer": self.arch_optimizer}

    def point(self):
        return {**self.model.architecture(), "weights": self.model.operation_weights()}

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        if epoch_idx < self.config["sif_warmup_epochs"]:
            loss = self._warmup_loss
            self.batch_idx = epoch_idx * len(train_data)  # the turns go on across epochs
        else:
            loss = self._bilevel_loss
        try:
            return super()._train_epoch(train_data, epoch_idx, loss, show_progress)
        finally:
            self.model.fixed_operation = None  # validations score the argmax

    def _warmup_loss(self, interaction):
        """A warm-up step: the training loss of the next operation in turn (no architecture
        step), so that every head and the embeddings learn with every operation."""
        operations = self.model.operations
        self.model.fixed_operation = operations[self.batch_idx % len(operations)]
        self.batch_idx += 1
        return self.model.calculate_loss(interaction)

    @torch.no_grad()
    def one_shot_scores(self, valid_data):
        """``{operation: validation score}`` of each operation inside the supernet."""
        scores = {}
        try:
            for op in self.model.operations:
                self.model.fixed_operation = op
                scores[op] = float(self._valid_epoch(valid_data)[0])
        finally:
            self.model.fixed_operation = None
        return scores

    def _bilevel_loss(self, interaction):
        """RecBole's loop steps the weights on the loss returned; the architecture goes first."""
        self.arch_optimizer.zero_grad()
        batch = next(self.valid_batches).to(self.device)
        self.model.architecture_loss(batch).backward()
        self.arch_optimizer.step()
        self.model.clip_alpha()
        self.optimizer.zero_grad()  # the validation loss must not move the weights
        return self.model.calculate_loss(interaction)


class SIFTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`SIF`; searches the interaction first when it is ``~``.

    After a search, ``search_summary`` holds the found interaction, its validation score,
    the epochs and seconds of the search (its trials' seconds) and of the retraining.
    """

    search_name = "SIF"
    # The retraining's epochs, and the search's epochs are its budget (a rerun with more
    # extends the journal).
    run_key_ignores = ("epochs", "search_epochs")
    export_prefixes = ("search_", "arch_", "sif_")

    def needs_search(self):
        return self.config["interaction"] is None

    def search(self, train_data, valid_data, show_progress=False):
        """Train the supernet (or resume it); return the last epoch's :class:`Trial`."""
        config, folder = self.config, self.search_dir
        self.logger.info(
            set_color("SIF search", "green")
            + f": {config['search_epochs']} epochs, journal in {folder}"
        )
        valid_batches = validation_batches(config, train_data, valid_data)
        supernet = SupernetTrainer(search_config(config), self.model, folder, valid_batches)
        self.trials = supernet.search(train_data, valid_data, show_progress)
        if not self.trials:
            raise RuntimeError(f"the SIF search validated no epoch; see {folder}")
        found = self.trials[-1]  # the final argmax of the operation weights, as in the paper
        plot_weights(self.trials, f"{folder}/operation_weights.png")
        self.one_shot, self.checks, self._trained = None, [], None
        if config["sif_finalists"]:
            self.one_shot = supernet.one_shot_scores(valid_data)
            found = self._check(found, train_data, valid_data, show_progress)
        exported = self.export(**self._keys(found))
        self.logger.info(
            set_color("found interaction", "yellow")
            + f": {found.point['interaction']} (epoch {found.epochs}, valid "
            + f"{config['valid_metric']} {found.value:.4f}); "
            + f"reproduce with --model=SIF --config_files={exported}"
        )
        return found

    def _check(self, found, train_data, valid_data, show_progress):
        """Train the finalists stand-alone (early stopping, at most ``sif_check_epochs``)
        without the element-wise networks, then (``sif_networks_check``) the best of them
        with the networks; return the best of all as the found trial."""
        argmax, mlp = found.point["interaction"], found.point["interaction_mlp"]
        others = sorted(
            (op for op in self.one_shot if op != argmax),
            key=self.one_shot.get, reverse=self.valid_metric_bigger,
        )  # fmt: skip
        finalists = [argmax, *others][: self.config["sif_finalists"]]
        networks = self.config["sif_networks_check"]
        warm = None  # the supernet's weights, trained with those networks
        if networks and self.config["sif_networks_warm_start"]:
            warm = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        objective = CheckObjective(self.config, train_data, valid_data, mlp, warm)
        self.checks = self._check_search(objective, finalists, False, "checks", show_progress)
        if networks:
            leader = best_trial(self.checks, self.valid_metric_bigger)
            self.checks += self._check_search(
                objective, [leader.point["interaction"]], True, "checks-networks",
                show_progress, leader.value,
            )  # fmt: skip
        best = best_trial(self.checks, self.valid_metric_bigger)
        # A check with the retraining's epochs, or that early stopping ended within them, is
        # the retraining (the same config and seed). A check resumed from the journal has no
        # model kept.
        check_epochs, epochs = check_budget(self.config), self.config["epochs"]
        if check_epochs == epochs or best.epochs < min(check_epochs, epochs + 1):
            self._trained = objective.trained.get(objective.key(best.point))
        chosen = {"interaction": best.point["interaction"],
                  "interaction_mlp": mlp if best.point["elementwise"] else None}  # fmt: skip
        return dataclasses.replace(best, point=chosen)

    def _check_search(self, objective, operations, elementwise, name, show_progress, leader=None):
        """Every one of ``operations`` (with the networks or not) trained stand-alone: a grid
        search of the core, journaled in ``<search folder>/<name>``; returns its trials.
        With ``sif_check_stall_delta``, a check behind the best (of these, or ``leader``)
        that has stalled stops (:class:`~recbole_automl.search.StalledBehind`)."""
        delta, scheduler = self.config["sif_check_stall_delta"], None
        if delta is not None:
            patience = self.config["stopping_step"]
            scheduler = StalledBehind(patience, delta, self.valid_metric_bigger, leader)
        space = HyperSpace.from_dict(
            {"interaction": {"choice": operations}, "elementwise": elementwise}
        )
        config = derive_config(
            self.config, search_strategy="grid", search_grid_shuffle=False,
            search_scheduler="none", search_trials=len(operations), search_trial_epochs=None,
            search_time=None,
        )  # fmt: skip
        trials, _ = run_configured_search(
            config, f"SIF {name}", objective, space, os.path.join(self.search_dir, name),
            bigger=self.valid_metric_bigger, logger=self.logger, show_progress=show_progress,
            max_epochs=check_budget(config), scheduler=scheduler,
        )  # fmt: skip
        return trials

    def adopt(self, found, train_data):
        self.rebuild(train_data, **self._keys(found))

    def trained(self, found):
        return self._trained

    def summarise(self, found):
        if found is None:
            return None
        return {
            "search_seconds": round(sum(t.seconds for t in self.trials + self.checks), 3),
            "search_epochs": len(self.trials),
            "check_epochs": sum(t.epochs for t in self.checks),
            "interaction": found.point["interaction"],
            "elementwise_networks": found.point["interaction_mlp"] is not None,
            "retrained": self._trained is None,
            "valid_score": found.value,
            "one_shot": self.one_shot,
            "checks": [
                {**t.point, "valid_score": t.value, "epochs": t.epochs, "seconds": t.seconds,
                 "status": t.status}  # fmt: skip
                for t in self.checks
            ],
        }

    @staticmethod
    def _keys(found):
        return {k: found.point[k] for k in ("interaction", "interaction_mlp")}


def check_budget(config):
    """The epochs of a stand-alone check: ``sif_check_epochs``, or (``~``) ``epochs``."""
    return config["sif_check_epochs"] or config["epochs"]


def inherit(model, state):
    """Load the entries of ``state`` (a supernet's) that ``model`` has, of the same shapes:
    the embeddings, offsets, bias and the head of its operation (weight inheritance)."""
    own = model.state_dict()
    model.load_state_dict(
        {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False
    )


class CheckObjective:
    """Trains one finalist stand-alone (``interaction``; the searched element-wise networks
    ``mlp`` or none) as a run of it would, with at most ``sif_check_epochs``; returns its
    validation outcome (with ``warm``, a supernet's state_dict, the networks' check starts
    from its weights). ``trained[key(point)]``: its best model, ``(state_dict,
    best_valid_score, best_valid_result)``."""

    def __init__(self, config, train_data, valid_data, mlp, warm=None):
        self.config, self.train_data, self.valid_data = config, train_data, valid_data
        self.mlp, self.trained = mlp, {}
        self.warm = warm  # a supernet's state_dict: the networks' check starts from its weights

    @staticmethod
    def key(point):
        return point["interaction"], point["elementwise"]

    def __call__(self, point, report=None):
        epochs = check_budget(self.config)
        keys = {"interaction": point["interaction"],
                "interaction_mlp": self.mlp if point["elementwise"] else None}  # fmt: skip
        config = trial_config(self.config, keys, epochs=epochs)
        reseed(config, self.train_data)
        model = SIF(config, self.train_data._dataset).to(config["device"])
        if point["elementwise"] and self.warm is not None:
            inherit(model, self.warm)
        outcome, self.trained[self.key(point)] = train_keeping_best(
            Trainer(config, model), self.train_data, self.valid_data, report
        )
        return outcome
