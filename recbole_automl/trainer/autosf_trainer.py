"""AutoSFTrainer: trains one scoring function, or searches one for the data first.

The search is AutoSF's (Zhang et al., ICDE 2020) through the search core's
:class:`~recbole_automl.search.ProgressiveStrategy`: every structure of 4 blocks (one per
class), then stage by stage two more blocks, grown from the best structures of the stage
before, filtered (degenerate, or equivalent under permutations and sign flips of the
blocks), ranked by a predictor over symmetry-related features, the best few trained for
``search_epochs``. The objective is the recommendation metric on validation (not KG link
prediction). The best structure is retrained with the full ``epochs`` and early stopping;
the test split is only used after that, by whoever calls ``evaluate``.
"""

from recbole.trainer import KGTrainer
from recbole.utils import set_color

from recbole_automl.methods.searching import run_configured_search, train_trial
from recbole_automl.model.knowledge_aware_recommender.autosf import (
    AutoSF,
    BlockSpace,
    named_as,
    parse_structure,
)
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import derive_config, reseed


class AutoSFTrainer(SearchingTrainer, KGTrainer):
    """RecBole's ``KGTrainer`` for :class:`AutoSF` (recommendation pairs and KG triples in
    each batch); searches the structure when ``scoring_function`` is ``~``."""

    search_name = "AutoSF"
    run_key_ignores = ("epochs",)  # candidates train for search_epochs
    export_prefixes = ("search_", "autosf_")

    def __init__(self, config, model):
        super().__init__(config, model)
        parse_structure(config["scoring_function"] or "DistMult")  # a bad one: before training

    def needs_search(self):
        return self.config["scoring_function"] is None

    def search(self, train_data, valid_data, show_progress=False):
        config = self.config
        space = BlockSpace(config["autosf_max_blocks"])
        trials, best = run_configured_search(
            config, "AutoSF search", CandidateObjective(config, train_data, valid_data), space,
            self.search_dir, bigger=self.valid_metric_bigger, logger=self.logger,
            show_progress=show_progress, max_epochs=config["search_epochs"],
        )  # fmt: skip
        exported = self.export(scoring_function=best.point)
        self.logger.info(
            set_color("best scoring function", "yellow")
            + f": {best.point} ({named_as(best.point) or 'none of the named ones'}; valid "
            f"{config['valid_metric']} {best.value:.4f}); reproduce with --model=AutoSF "
            f"--config_files={exported}"
        )
        return best

    def adopt(self, found, train_data):
        self.rebuild(train_data, scoring_function=found.point)

    def summarise(self, found):
        if found is None:
            return None
        return {
            "scoring_function": found.point,
            "blocks": int(sum(v != 0 for row in found.point for v in row)),
            "named_as": named_as(found.point),
            "valid_score": found.value,
            "folder": self.search_dir,
        }


class CandidateObjective:
    """Trains one structure for ``search_epochs``; returns its validation outcome."""

    def __init__(self, config, train_data, valid_data):
        self.config, self.train_data, self.valid_data = config, train_data, valid_data

    def __call__(self, point, report=None):
        epochs = self.config["search_epochs"]
        config = derive_config(self.config, scoring_function=point, epochs=epochs,
                               eval_step=epochs)  # fmt: skip
        reseed(config, self.train_data)
        model = AutoSF(config, self.train_data._dataset).to(config["device"])
        return train_trial(KGTrainer(config, model), self.train_data, self.valid_data, report)
