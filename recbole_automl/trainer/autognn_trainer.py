"""AutoGNNTrainer: trains one graph CF architecture, or searches one for the data first.

The search goes through the search core as AutoCF's does: a candidate is an architecture
(:data:`~recbole_automl.model.general_recommender.autognn.SPACE`) and, with
``search_hyper_space`` (the default), the hyper-parameters of AutoCF's joint search
(embedding size, learning rate, L2, negatives) with it; ARSP (or random search) proposes
candidates, each trains for ``search_epochs`` (on ``search_data_fraction`` of the users:
a cheaper fidelity), the presets MF, LightGCN and NGCF first. The best on validation is
retrained with the full ``epochs`` and early stopping; the test split is only used after
that, by whoever calls ``evaluate``.
"""

import functools

from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.methods.searching import (
    config_keys,
    config_value,
    parse_hyper_space,
    run_configured_search,
    sample_users,
    train_loader,
    training_keys,
)
from recbole_automl.model.general_recommender.autognn import (
    PRESETS,
    ArchitectureSpace,
    AutoGNN,
)
from recbole_automl.search import JointSpace
from recbole_automl.trainer.autocf_trainer import CandidateObjective as AutoCFObjective
from recbole_automl.trainer.autocf_trainer import comparison, comparison_line
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.utils import derive_config


class AutoGNNTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`AutoGNN`; searches the architecture (and with
    ``search_hyper_space`` its hyper-parameters) when ``architecture`` is ``~``."""

    search_name = "AutoGNN"
    run_key_ignores = ("epochs",)  # candidates train for search_epochs
    export_prefixes = ("search_", "arsp_")

    def needs_search(self):
        return self.config["architecture"] is None

    def search(self, train_data, valid_data, show_progress=False):
        config = self.config
        space = search_space(config)
        presets = {
            name: preset_point(config, space, name) for name in config["search_presets"] or []
        }
        screening = sample_users(config, train_data, valid_data, config["search_data_fraction"])
        trials, best = run_configured_search(
            config, "AutoGNN search", CandidateObjective(config, *screening), space,
            self.search_dir, bigger=self.valid_metric_bigger, logger=self.logger,
            show_progress=show_progress, batch_size=config["arsp_k1"],
            max_epochs=config["search_epochs"], first_points=list(presets.values()),
        )  # fmt: skip
        exported = self.export(**config_keys(config, best.point))
        self.logger.info(
            set_color("best architecture", "yellow")
            + f": {best.point} (valid {config['valid_metric']} {best.value:.4f}); "
            f"reproduce with --model=AutoGNN --config_files={exported}"
        )
        self.comparison = comparison(trials, presets, best, space, self.valid_metric_bigger)
        line = comparison_line(self.comparison, config["valid_metric"], config["search_epochs"])
        self.logger.info(set_color(line, "yellow"))
        return best

    def adopt(self, found, train_data):
        keys = training_keys(self.config, found.point)
        train_data = train_loader(derive_config(self.config, **keys), train_data)
        self.rebuild(train_data, **keys)
        return train_data

    def summarise(self, found):
        if found is None:
            return None
        return {**config_keys(self.config, found.point), "valid_score": found.value,
                "comparison": self.comparison, "folder": self.search_dir}  # fmt: skip


def search_space(config):
    """The architectures, joint with ``search_hyper_space`` when it is set."""
    architectures = ArchitectureSpace(config["search_architecture_space"])
    if not config["search_hyper_space"]:
        return JointSpace({"architecture": architectures})
    hyper = parse_hyper_space(config, "search_hyper_space")
    return JointSpace({"architecture": architectures}, hyper)


def preset_point(config, space, name):
    """The point of preset ``name``: its architecture, the other keys as ``config`` sets them."""
    point = {"architecture": dict(PRESETS[name])}
    if space.hyper is not None:
        point.update(space.hyper.point(functools.partial(config_value, config)))
    return point


class CandidateObjective(AutoCFObjective):
    """AutoCF's candidate objective, training an :class:`AutoGNN` with RecBole's Trainer."""

    model_class, trainer_class = AutoGNN, Trainer
