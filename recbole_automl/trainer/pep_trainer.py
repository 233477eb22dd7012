"""PEPTrainer: searches PEP's pruning masks, then retrains the model with one of them.

Search (Liu et al., ICLR 2021): the embeddings, their thresholds and the rest of the model
are trained together (RecBole's loop and optimizer, with ``search_weight_decay``); before
each step the non-zero embedding weights are counted, and the first time they fall to a
target fraction of the full tables (``pep_targets``) the mask is saved. The search ends
when every target is reached (or after ``search_epochs``, ``search_time``). Retrain
(lottery ticket): every weight is rewound to its step-0 value, the embeddings are
multiplied by the mask of ``pep_target``, the thresholds are dropped, and RecBole's
``Trainer`` trains to convergence with early stopping on the validation metric (AUC);
``pep_mask_layout: prefix`` keeps each row's count of weights as its first dimensions.
``pep_retrain: finetune`` (not in the paper) trains on from the weights the mask was taken
from instead (the pruned embeddings as they were then, the rest of the model too): prune and
fine-tune, the usual alternative to rewinding. The test split is only used after that, by
whoever calls ``evaluate``.

``pep_pruner: magnitude`` is the baseline a learned sparsity has to beat (Tran et al. 2024
found it rivals most learned-size methods): the full model is trained as usual (early
stopping on validation), and each target's mask keeps the largest-magnitude fraction of
all its embedding weights; the retraining is the same lottery ticket.
"""

import os

import torch
from recbole.utils import set_color

from recbole_automl.search import StopTraining
from recbole_automl.trainer.one_shot import OneShotTrainer, search_config
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import ConfigError


def mask_file(folder, target):
    return os.path.join(folder, f"mask-{target:g}.pt")


def fine_tunes(config):
    """Whether the retraining starts from the pruned weights (``pep_retrain: finetune``)."""
    return config["pep_retrain"] == "finetune"


def weights_file(folder, target):
    """The model's state when the mask of ``target`` was taken (``pep_retrain: finetune``)."""
    return os.path.join(folder, f"weights-{target:g}.pt")


def save_mask(model, masks, folder, target, weights):
    """Save the mask of ``target`` and, with ``weights``, the model's state it was taken
    from (the weights file first: a mask file on disk means both are there)."""
    if weights:
        torch.save(model.state_dict(), weights_file(folder, target))
    torch.save(masks, mask_file(folder, target))


class PruningSearchTrainer(OneShotTrainer):
    """Trains the thresholds with the model; saves a mask at each target fraction."""

    def __init__(self, config, model, folder, targets):
        super().__init__(config, model, folder)
        self.targets = sorted(targets, reverse=True)
        self.total = model.embedding_size_total()
        thresholds = [table.threshold for table in model.pruned]
        ids = {id(p) for p in thresholds}
        weights = [p for p in model.parameters() if id(p) not in ids]
        lr = config["threshold_learning_rate"] or config["learning_rate"]
        # Weight decay (the original's L2 regularization, 1e-5) is what prunes: it shrinks the
        # weights and, under Adam, steadily raises the thresholds towards sigmoid(0).
        self.optimizer = self._build_optimizer(
            params=[{"params": weights}, {"params": thresholds, "lr": lr}],
            weight_decay=config["search_weight_decay"],
        )
        self.keep_weights = fine_tunes(config)

    def pending(self):
        return [t for t in self.targets if not os.path.exists(mask_file(self.folder, t))]

    def point(self):
        nonzero = self.model.embedding_nonzero()
        return {"nonzero": nonzero, "fraction": nonzero / self.total}

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        return super()._train_epoch(
            train_data, epoch_idx, self._save_masks_then_loss, show_progress
        )

    def _save_masks_then_loss(self, interaction):
        pending = self.pending()
        fraction = self.model.embedding_nonzero() / self.total if pending else 0.0
        for target in pending:
            if fraction <= target:
                masks = self.model.masks()
                save_mask(self.model, masks, self.folder, target, self.keep_weights)
                self.logger.info(f"PEP: mask saved at {fraction:.4f} of the embedding weights")
        if not self.pending():
            raise StopTraining("every pep_target reached")
        return self.model.calculate_loss(interaction)


class MagnitudeSearchTrainer(OneShotTrainer):
    """Trains the full model (no thresholds), then saves a magnitude mask at each target."""

    def __init__(self, config, model, folder, targets):
        for table in model.pruned:
            table.fix(torch.ones_like(table.weight, dtype=torch.bool))
        super().__init__(config, model, folder)
        self.targets = targets
        self.keep_weights = fine_tunes(config)

    def point(self):
        return {}

    def after_search(self, train_data):
        if os.path.exists(self.saved_model_file):
            state = torch.load(self.saved_model_file, map_location=self.device, weights_only=False)
            self.model.load_state_dict(state["state_dict"])
        with torch.no_grad():
            weights = torch.cat([table.weight.abs().flatten() for table in self.model.pruned])
            for target in self.targets:
                keep = int(round(target * weights.numel()))
                cut = torch.topk(weights, keep).values.min() if keep else float("inf")
                masks = [table.weight.abs() >= cut for table in self.model.pruned]
                save_mask(self.model, masks, self.folder, target, self.keep_weights)
        self.logger.info(f"PEP: magnitude masks saved for {self.targets}")


class PEPTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`PEP`: search (unless done), then retrain with a mask.

    After ``fit``, ``search_summary`` holds the target, the parameter counts and the
    seconds of the search and of the retraining.
    """

    # What is retrained, and the budgets (a magnitude search trains with ``epochs``).
    retrain_keys = ("pep_target", "pep_mask_layout")
    run_key_ignores = (*retrain_keys, "epochs", "search_epochs")

    def __init__(self, config, model):
        super().__init__(config, model)
        if fine_tunes(config) and config["pep_mask_layout"] != "elements":
            raise ConfigError(
                "Config key 'pep_mask_layout' must be elements with pep_retrain: finetune "
                f"(the weights are kept where they are), got {config['pep_mask_layout']!r}."
            )
        if config["pep_pruner"] == "magnitude":
            self.run_key_ignores = (*self.retrain_keys, "search_epochs")

    @property
    def search_name(self):
        magnitude = "-magnitude" if self.config["pep_pruner"] == "magnitude" else ""
        return f"PEP-{self.config['base_model']}{magnitude}"

    def search(self, train_data, valid_data, show_progress=False):
        """Search the masks unless the one of ``pep_target`` is saved; return its file."""
        config, folder = self.config, self.search_dir
        targets, target = config["pep_targets"], config["pep_target"]
        if not os.path.exists(mask_file(folder, target)):
            initial = os.path.join(folder, "initial.pt")
            if not os.path.exists(initial):
                os.makedirs(folder, exist_ok=True)
                torch.save(self.model.state_dict(), initial)  # step 0, to rewind to
            self.logger.info(set_color("PEP search", "green") + f": targets {targets}, in {folder}")
            if config["pep_pruner"] == "magnitude":
                searcher = MagnitudeSearchTrainer(config, self.model, folder, targets)
                searcher.fit(train_data, valid_data, verbose=False, show_progress=show_progress)
            else:
                searcher = PruningSearchTrainer(search_config(config), self.model, folder, targets)
                searcher.search(train_data, valid_data, show_progress)
        if not os.path.exists(mask_file(folder, target)):
            raise RuntimeError(
                f"the PEP search did not prune to pep_target {target} within search_epochs "
                f"{config['search_epochs']}; raise search_epochs or threshold_init ({folder})"
            )
        return mask_file(folder, target)

    def adopt(self, found, train_data):
        """The lottery ticket: every weight back to its step-0 value, the mask kept; with
        ``pep_retrain: finetune``, the weights the mask was taken from, the mask kept."""
        finetune = fine_tunes(self.config)
        start = os.path.join(self.search_dir, "initial.pt")
        if finetune:
            start = weights_file(self.search_dir, self.config["pep_target"])
        self.rebuild(train_data)
        self.model.load_state_dict(torch.load(start, map_location=self.device))
        masks = torch.load(found, map_location=self.device)
        self.model.fix(masks, self.config["pep_mask_layout"], in_use=finetune)
        self.optimizer = self._build_optimizer(params=self.model.parameters())

    def summarise(self, found):
        return {
            "target": self.config["pep_target"],
            "embedding_nonzero": self.model.embedding_nonzero(),
            "embedding_total": self.model.embedding_size_total(),
            "parameters": self.model.parameter_count(),
        }
