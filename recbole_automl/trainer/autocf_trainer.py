"""AutoCFTrainer: trains one AutoCF architecture, or searches one for the data first.

The search is the tutorial's Algorithm 1 (ARSP; Gao et al., KDD 2021): each round samples
``arsp_k1 + arsp_k2`` random architectures, keeps the ``arsp_k1`` that a learned predictor
ranks highest, trains them with RecBole's ``Trainer`` for ``search_epochs``, records their
validation scores in the journal and refits the predictor on every record with a ranking
loss. When the budget (``search_trials``, ``search_time``) is spent, the best architecture
on validation is retrained with the full ``epochs`` and early stopping; the test split is
only used after that, by whoever calls ``evaluate``.
"""

from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.config import derive_config
from recbole_automl.model.general_recommender.autocf import SPACE, AutoCF
from recbole_automl.search import (
    BranchSpace,
    CategoricalSpace,
    GridStrategy,
    PredictorStrategy,
    RandomStrategy,
    export_config,
)
from recbole_automl.trainer.searching import (
    check_choice,
    exported_config,
    run_configured_search,
    search_folder,
    train_trial,
)
from recbole_automl.utils import reseed

STRATEGIES = ("arsp", "random", "grid")
# AutoCF's run key also ignores the full training's epochs: candidates use search_epochs.
RUN_KEY_IGNORES = ("epochs",)


class AutoCFTrainer(Trainer):
    """RecBole ``Trainer`` for :class:`AutoCF`; searches the architecture when it is ``~``."""

    def fit(self, train_data, valid_data=None, **kwargs):
        if self.config["architecture"] is None:
            best = self.search(
                train_data, valid_data, show_progress=kwargs.get("show_progress", False)
            )
            self._use_architecture(best.point, train_data)
        return super().fit(train_data, valid_data, **kwargs)

    @property
    def search_dir(self):
        """Where the journal, plot and exported config of this search live."""
        return search_folder(self.config, f"AutoCF-{self.config['dataset']}", RUN_KEY_IGNORES)

    def search(self, train_data, valid_data, show_progress=False):
        """Run the architecture search; return the best :class:`~recbole_automl.search.Trial`."""
        config = self.config
        space = BranchSpace(CategoricalSpace(SPACE), config["search_max_branches"])
        strategy_name = check_choice(config, "search_strategy", STRATEGIES)
        if strategy_name == "arsp":
            strategy = PredictorStrategy(
                space, k2=config["arsp_k2"], steps=config["arsp_predictor_epochs"],
                seed=config["seed"],
            )  # fmt: skip
        elif strategy_name == "random":
            strategy = RandomStrategy(space)
        else:
            strategy = GridStrategy(space, space.grid(), seed=config["seed"])
        folder = self.search_dir
        objective = CandidateObjective(config, train_data, valid_data)
        trials, best = run_configured_search(
            config, "AutoCF search", objective, space, strategy, folder,
            bigger=self.valid_metric_bigger, logger=self.logger, show_progress=show_progress,
            batch_size=config["arsp_k1"], max_epochs=config["search_epochs"],
        )  # fmt: skip
        exported = export_config(
            exported_config(config, ("search_", "arsp_"), architecture=best.point),
            f"{folder}/best.yaml",
        )
        self.logger.info(
            set_color("best architecture", "yellow")
            + f": {best.point} (valid {config['valid_metric']} {best.value:.4f}); "
            + f"reproduce with --model=AutoCF --config_files={exported}"
        )
        return best

    def _use_architecture(self, architecture, train_data):
        """Make ``architecture`` the model this trainer trains (from scratch) and saves."""
        self.config["architecture"] = architecture
        reseed(self.config, train_data)
        self.model = AutoCF(self.config, train_data._dataset).to(self.device)
        self.optimizer = self._build_optimizer(params=self.model.parameters())


class CandidateObjective:
    """Trains one candidate architecture for ``search_epochs``; returns its validation outcome.

    It holds only the config and the dataloaders, so it can be shipped to forked or Ray
    workers.
    """

    def __init__(self, config, train_data, valid_data):
        self.config, self.train_data, self.valid_data = config, train_data, valid_data

    def __call__(self, architecture, report=None):
        epochs = self.config["search_epochs"]
        config = derive_config(
            self.config,
            architecture=architecture,
            epochs=epochs,
            eval_step=self.config["search_eval_step"] or epochs,
        )
        reseed(config, self.train_data)
        model = AutoCF(config, self.train_data._dataset).to(config["device"])
        trainer = Trainer(config, model)
        return train_trial(trainer, self.train_data, self.valid_data, report)
