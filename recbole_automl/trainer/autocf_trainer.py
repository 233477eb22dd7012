"""AutoCFTrainer: trains one AutoCF architecture, or searches one for the data first.

The search is the tutorial's Algorithm 1 (ARSP; Gao et al., KDD 2021): each round samples
``arsp_k1 + arsp_k2`` random candidates, keeps the ``arsp_k1`` that a learned predictor
ranks highest, trains them with RecBole's ``Trainer`` for ``search_epochs``, records their
validation scores in the journal and refits the predictor on every record with a ranking
loss. A candidate is an architecture, or with ``search_hyper_space`` an architecture and
those hyper-parameters together (a joint space: the best architecture depends on them, as
Wen et al., KDD 2023 argue). When the budget (``search_trials``, ``search_time``) is spent,
the best candidate on validation is retrained with the full ``epochs`` and early stopping;
the test split is only used after that, by whoever calls ``evaluate``.
"""

from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.methods.searching import as_config_error, run_configured_search, train_trial
from recbole_automl.model.general_recommender.autocf import SPACE, AutoCF
from recbole_automl.search import BranchSpace, CategoricalSpace, HyperSpace, JointSpace
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import derive_config, reseed


class AutoCFTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`AutoCF`; searches the architecture when it is ``~``."""

    search_name = "AutoCF"
    run_key_ignores = ("epochs",)  # candidates train for search_epochs
    export_prefixes = ("search_", "arsp_")

    def needs_search(self):
        return self.config["architecture"] is None

    def search(self, train_data, valid_data, show_progress=False):
        """Run the architecture search; return the best :class:`~recbole_automl.search.Trial`."""
        config, folder = self.config, self.search_dir
        space = search_space(config)
        trials, best = run_configured_search(
            config, "AutoCF search", CandidateObjective(config, train_data, valid_data), space,
            folder, bigger=self.valid_metric_bigger, logger=self.logger,
            show_progress=show_progress, batch_size=config["arsp_k1"],
            max_epochs=config["search_epochs"],
        )  # fmt: skip
        exported = self.export(**candidate_keys(best.point))
        self.logger.info(
            set_color("best architecture", "yellow")
            + f": {best.point} (valid {config['valid_metric']} {best.value:.4f}); "
            + f"reproduce with --model=AutoCF --config_files={exported}"
        )
        return best

    def adopt(self, found, train_data):
        self.rebuild(train_data, **candidate_keys(found.point))

    def summarise(self, found):
        if found is None:
            return None
        return {**candidate_keys(found.point), "valid_score": found.value,
                "folder": self.search_dir}  # fmt: skip


def search_space(config):
    """The architectures of ``search_max_branches`` branches, joint with
    ``search_hyper_space`` when it is set (then a point is a dict of config keys)."""
    architectures = BranchSpace(CategoricalSpace(SPACE), config["search_max_branches"])
    if not config["search_hyper_space"]:
        return architectures  # a point is the architecture (journals before the joint space)
    with as_config_error():
        hyper = HyperSpace.from_dict(config["search_hyper_space"])
    return JointSpace({"architecture": architectures}, hyper)


def candidate_keys(point):
    """The config keys a candidate's point sets."""
    return point if isinstance(point, dict) else {"architecture": point}


class CandidateObjective:
    """Trains one candidate for ``search_epochs``; returns its validation outcome.

    It holds only the config and the dataloaders, so it can be shipped to forked or Ray
    workers.
    """

    def __init__(self, config, train_data, valid_data):
        self.config, self.train_data, self.valid_data = config, train_data, valid_data

    def __call__(self, point, report=None):
        epochs = self.config["search_epochs"]
        config = derive_config(
            self.config,
            **candidate_keys(point),
            epochs=epochs,
            eval_step=self.config["search_eval_step"] or epochs,
        )
        reseed(config, self.train_data)
        model = AutoCF(config, self.train_data._dataset).to(config["device"])
        trainer = Trainer(config, model)
        return train_trial(trainer, self.train_data, self.valid_data, report)
