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

import torch
from recbole.utils import set_color

from recbole_automl.search import plot_weights
from recbole_automl.trainer.one_shot import OneShotTrainer, search_config, validation_batches
from recbole_automl.trainer.searching_trainer import SearchingTrainer


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


class SIFTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`SIF`; searches the interaction first when it is ``~``.

    After a search, ``search_summary`` holds the found interaction, its validation score,
    the epochs and seconds of the search (its trials' seconds) and of the retraining.
    """

    search_name = "SIF"
    # The retraining's epochs, and the search's epochs are its budget (a rerun with more
    # extends the journal).
    run_key_ignores = ("epochs", "search_epochs")
    export_prefixes = ("search_", "arch_")

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
        exported = self.export(**self._keys(found))
        self.logger.info(
            set_color("found interaction", "yellow")
            + f": {found.point['interaction']} (epoch {found.epochs}, valid "
            + f"{config['valid_metric']} {found.value:.4f}); "
            + f"reproduce with --model=SIF --config_files={exported}"
        )
        return found

    def adopt(self, found, train_data):
        self.rebuild(train_data, **self._keys(found))

    def summarise(self, found):
        if found is None:
            return None
        return {
            "search_seconds": round(sum(t.seconds for t in self.trials), 3),
            "search_epochs": len(self.trials),
            "interaction": found.point["interaction"],
            "valid_score": found.value,
        }

    @staticmethod
    def _keys(found):
        return {k: found.point[k] for k in ("interaction", "interaction_mlp")}
