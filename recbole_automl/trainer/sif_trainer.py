"""SIFTrainer: trains one SIF model, or searches its interaction function first.

The search (Yao et al., WWW 2020) trains the supernet once, bilevel: before each step of
the embeddings and heads on a training mini-batch (RecBole's training loop and optimizer),
one Adam step of the architecture (operation weights, element-wise networks) on a
validation mini-batch, with the operation weights binarised in the forward pass and
clipped to [0, 1] after the step. Every epoch ends with RecBole's validation of the
supernet's current operation (journaled: the search's trajectory); after ``search_epochs``
the argmax of the operation weights and the element-wise networks are the derived
function, which is retrained stand-alone from scratch (full ``epochs``, early stopping on
validation) and exported as a YAML config. The test split is only used after that, by whoever calls
``evaluate``.
"""

import time

import torch
from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.model.general_recommender.sif import SIF
from recbole_automl.search import export_config, plot_weights
from recbole_automl.trainer.one_shot import OneShotTrainer, search_config, validation_batches
from recbole_automl.trainer.searching import exported_config, search_folder
from recbole_automl.utils import reseed

# Keys that do not change a search: the retraining's epochs, and the search's epochs are its
# budget (a rerun with more extends the journal).
RUN_KEY_IGNORES = ("epochs", "search_epochs")


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
        return super()._train_epoch(train_data, epoch_idx, self._bilevel_loss, show_progress)

    def _bilevel_loss(self, interaction):
        """RecBole's loop steps the weights on the loss returned; the architecture goes first."""
        self.arch_optimizer.zero_grad()
        batch = next(self.valid_batches).to(self.device)
        self.model.architecture_loss(batch).backward()
        self.arch_optimizer.step()
        self.model.clip_alpha()
        self.optimizer.zero_grad()  # the validation loss must not move the weights
        return self.model.calculate_loss(interaction)


class SIFTrainer(Trainer):
    """RecBole ``Trainer`` for :class:`SIF`; searches the interaction first when it is ``~``.

    After a search, ``search_summary`` holds its seconds, epochs and result, and
    ``fit`` adds the seconds of the stand-alone retraining.
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        self.search_summary = None

    def fit(self, train_data, valid_data=None, **kwargs):
        if self.config["interaction"] is None:
            found = self.search(
                train_data, valid_data, show_progress=kwargs.get("show_progress", False)
            )
            self._use_architecture(found.point, train_data)
        start = time.monotonic()
        result = super().fit(train_data, valid_data, **kwargs)
        if self.search_summary is not None:
            summary = self.search_summary
            summary["retrain_seconds"] = round(time.monotonic() - start, 3)
            cost = (summary["search_seconds"] + summary["retrain_seconds"]) / summary[
                "retrain_seconds"
            ]
            self.logger.info(
                f"SIF: search {summary['search_seconds']:.1f} s + retraining "
                f"{summary['retrain_seconds']:.1f} s = {cost:.2f} x one stand-alone training"
            )
        return result

    @property
    def search_dir(self):
        """Where the journal, checkpoint, plots and exported config of this search live."""
        return search_folder(self.config, f"SIF-{self.config['dataset']}", RUN_KEY_IGNORES)

    def search(self, train_data, valid_data, show_progress=False):
        """Train the supernet (or resume it); return the last epoch's :class:`Trial`."""
        config, folder = self.config, self.search_dir
        self.logger.info(
            set_color("SIF search", "green")
            + f": {config['search_epochs']} epochs, journal in {folder}"
        )
        valid_batches = validation_batches(config, train_data, valid_data)
        supernet = SupernetTrainer(search_config(config), self.model, folder, valid_batches)
        trials = supernet.search(train_data, valid_data, show_progress)
        if not trials:
            raise RuntimeError(f"the SIF search validated no epoch; see {folder}")
        found = trials[-1]  # the final argmax of the operation weights, as in the paper
        plot_weights(trials, f"{folder}/operation_weights.png")
        keys = {k: found.point[k] for k in ("interaction", "interaction_mlp")}
        exported = export_config(
            exported_config(config, ("search_", "arch_"), **keys), f"{folder}/best.yaml"
        )
        self.search_summary = {
            "search_seconds": round(sum(t.seconds for t in trials), 3),
            "search_epochs": len(trials),
            "interaction": found.point["interaction"],
            "valid_score": found.value,
        }
        self.logger.info(
            set_color("found interaction", "yellow")
            + f": {found.point['interaction']} (epoch {found.epochs}, valid "
            + f"{config['valid_metric']} {found.value:.4f}); "
            + f"reproduce with --model=SIF --config_files={exported}"
        )
        return found

    def _use_architecture(self, point, train_data):
        """Make the stand-alone model of ``point`` the one this trainer trains from scratch."""
        self.config["interaction"] = point["interaction"]
        self.config["interaction_mlp"] = point["interaction_mlp"]
        reseed(self.config, train_data)
        self.model = SIF(self.config, train_data._dataset).to(self.device)
        self.optimizer = self._build_optimizer(params=self.model.parameters())
