"""AutoCFTrainer: trains one AutoCF architecture, or searches one for the data first.

The search is the tutorial's Algorithm 1 (ARSP; Gao et al., KDD 2021): each round samples
``arsp_k1 + arsp_k2`` random architectures, keeps the ``arsp_k1`` that a learned predictor
ranks highest, trains them with RecBole's ``Trainer`` for ``search_epochs``, records their
validation scores in the journal and refits the predictor on every record with a ranking
loss. When the budget (``search_trials``, ``search_time``) is spent, the best architecture
on validation is retrained with the full ``epochs`` and early stopping; the test split is
only used after that, by whoever calls ``evaluate``.
"""

import os

from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.config import derive_config
from recbole_automl.model.general_recommender.autocf import SPACE, AutoCF
from recbole_automl.search import (
    BranchSpace,
    Budget,
    CategoricalSpace,
    GridStrategy,
    Journal,
    PredictorStrategy,
    RandomStrategy,
    SearchProgress,
    TrialOutcome,
    best_trial,
    export_config,
    make_executor,
    plot_trajectory,
    run_key,
    run_search,
)
from recbole_automl.trainer.stopping import fit
from recbole_automl.utils import ConfigError, reseed

STRATEGIES = ("arsp", "random", "grid")
# Keys that do not change which candidates a search trains and how: a rerun that differs
# only in these resumes the same journal (a larger budget extends the search).
RUN_KEY_IGNORES = (
    "search_trials", "search_time", "search_workers", "search_dir", "epochs",
    "train_time_limit", "show_progress", "state", "gpu_id", "use_gpu", "device",
    "checkpoint_dir", "worker", "log_wandb", "wandb_project", "verbose",
)  # fmt: skip


class AutoCFTrainer(Trainer):
    """RecBole ``Trainer`` for :class:`AutoCF`; searches the architecture when it is ``~``."""

    def fit(
        self,
        train_data,
        valid_data=None,
        verbose=True,
        saved=True,
        show_progress=False,
        callback_fn=None,
    ):
        if self.config["architecture"] is None:
            best = self.search(train_data, valid_data, show_progress=show_progress)
            self._use_architecture(best.point, train_data)
        return super().fit(train_data, valid_data, verbose, saved, show_progress, callback_fn)

    @property
    def search_dir(self):
        """Where the journal, plot and exported config of this search live."""
        if self.config["search_dir"]:
            return self.config["search_dir"]
        key = run_key(self.config.final_config_dict, RUN_KEY_IGNORES)
        name = f"AutoCF-{self.config['dataset']}-{key}"
        return os.path.join(self.config["checkpoint_dir"], "search", name)

    def search(self, train_data, valid_data, show_progress=False):
        """Run the architecture search; return the best :class:`~recbole_automl.search.Trial`."""
        config = self.config
        space = BranchSpace(CategoricalSpace(SPACE), config["search_max_branches"])
        strategy_name = config["search_strategy"]
        if strategy_name == "arsp":
            strategy = PredictorStrategy(
                space, k2=config["arsp_k2"], steps=config["arsp_predictor_epochs"],
                seed=config["seed"],
            )  # fmt: skip
        elif strategy_name == "random":
            strategy = RandomStrategy(space)
        elif strategy_name == "grid":
            strategy = GridStrategy(space, space.grid(), seed=config["seed"])
        else:
            raise ConfigError(
                f"Config key 'search_strategy' must be one of {list(STRATEGIES)}, "
                f"got {strategy_name!r}."
            )
        budget = Budget(config["search_trials"], config["search_time"])
        folder = self.search_dir
        self.logger.info(set_color("AutoCF search", "green") + f": {budget}, journal in {folder}")
        progress = SearchProgress(budget.max_trials, "AutoCF search", disable=not show_progress)

        def objective(point, time_limit_s):
            return self._train_candidate(point, train_data, valid_data, time_limit_s)

        try:
            trials = run_search(
                objective, space, strategy, budget, Journal(os.path.join(folder, "journal.jsonl")),
                bigger=self.valid_metric_bigger, seed=config["seed"],
                batch_size=config["arsp_k1"], progress=progress, logger=self.logger,
                executor=make_executor(config["search_workers"], config["device"]),
            )  # fmt: skip
        finally:
            progress.close()
        best = best_trial(trials, self.valid_metric_bigger)
        if best is None:
            raise RuntimeError(f"every AutoCF candidate failed; see {folder}/journal.jsonl")
        plot_trajectory(
            {strategy_name: trials}, os.path.join(folder, "trajectory.png"),
            config["valid_metric"], self.valid_metric_bigger,
        )  # fmt: skip
        exported = export_config(
            self._exported_config(best.point), os.path.join(folder, "best.yaml")
        )
        self.logger.info(
            set_color("best architecture", "yellow")
            + f": {best.point} (valid {config['valid_metric']} {best.value:.4f}); "
            + f"reproduce with --model=AutoCF --config_files={exported}"
        )
        return best

    def _train_candidate(self, architecture, train_data, valid_data, time_limit_s):
        epochs = self.config["search_epochs"]
        config = derive_config(
            self.config,
            architecture=architecture,
            epochs=epochs,
            eval_step=self.config["search_eval_step"] or epochs,
        )
        reseed(config, train_data)
        model = AutoCF(config, train_data._dataset).to(config["device"])
        trainer = Trainer(config, model)
        curve = []
        score, result = fit(
            trainer, train_data, valid_data,
            callback_fn=lambda epoch, valid_score: curve.append(valid_score),
            time_limit_s=time_limit_s, saved=False, verbose=False,
        )  # fmt: skip
        trainer.tensorboard.close()
        return TrialOutcome(score, result, curve, epochs=len(curve) * config["eval_step"])

    def _use_architecture(self, architecture, train_data):
        """Make ``architecture`` the model this trainer trains (from scratch) and saves."""
        self.config["architecture"] = architecture
        reseed(self.config, train_data)
        self.model = AutoCF(self.config, train_data._dataset).to(self.device)
        self.optimizer = self._build_optimizer(params=self.model.parameters())

    def _exported_config(self, architecture):
        """The user's own settings plus the found architecture, minus the search's keys."""
        user_keys = {
            k: v
            for k, v in self.config.external_config_dict.items()
            if not k.startswith(("search_", "arsp_"))
        }
        return {
            **user_keys,
            "model": "AutoCF",
            "dataset": self.config["dataset"],
            "seed": self.config["seed"],
            "architecture": architecture,
        }
