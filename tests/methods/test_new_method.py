"""What adding a search method takes: a SearchingTrainer with its hooks. Here, a toy
method that searches BPR's embedding size, written as a newcomer would, gets the journal,
resume, export, retraining and summary of every method."""

import yaml
from conftest import tiny_config
from recbole.data import create_dataset, data_preparation
from recbole.model.general_recommender import BPR
from recbole.trainer import Trainer

from recbole_automl import Config
from recbole_automl.methods.searching import run_configured_search, train_trial
from recbole_automl.search import CategoricalSpace, Journal
from recbole_automl.trainer import SearchingTrainer
from recbole_automl.utils import derive_config, reseed


class EmbeddingSizeTrainer(SearchingTrainer):
    search_name = "BPR-size"

    def search(self, train_data, valid_data, show_progress=False):
        def objective(point, report):
            config = derive_config(self.config, **point, epochs=1)
            reseed(config, train_data)
            trainer = Trainer(config, BPR(config, train_data._dataset))
            return train_trial(trainer, train_data, valid_data, report)

        space = CategoricalSpace({"embedding_size": [4, 8, 16]})
        _, best = run_configured_search(
            self.config, "size search", objective, space, self.search_dir,
            bigger=self.valid_metric_bigger, logger=self.logger, show_progress=False,
        )  # fmt: skip
        self.export(**best.point)
        return best

    def adopt(self, found, train_data):
        self.rebuild(train_data, **found.point)

    def summarise(self, found):
        return {"embedding_size": found.point["embedding_size"], "valid_score": found.value}


def _fit():
    config = Config(
        "BPR", "tiny", read_cmd_line=False,
        config_dict=tiny_config(search_strategy="grid", search_scheduler="none", epochs=2),
    )  # fmt: skip
    train, valid, _ = data_preparation(config, create_dataset(config))
    trainer = EmbeddingSizeTrainer(config, BPR(config, train._dataset))
    trainer.fit(train, valid, saved=False)
    return trainer


def test_a_new_method_is_a_trainer_with_four_hooks(isolated_run):
    trainer = _fit()
    folder = trainer.search_dir
    trials = Journal(f"{folder}/journal.jsonl").load()
    assert sorted(t.point["embedding_size"] for t in trials) == [4, 8, 16]
    best = max(trials, key=lambda t: t.value)
    summary = trainer.search_summary
    assert (
        summary["embedding_size"]
        == best.point["embedding_size"]
        == trainer.config["embedding_size"]
    )
    assert trainer.model.embedding_size == best.point["embedding_size"]  # retrained: the found one
    assert summary["search_seconds"] > 0 and summary["retrain_seconds"] > 0
    assert (
        yaml.safe_load(open(f"{folder}/best.yaml"))["embedding_size"] == summary["embedding_size"]
    )
    # Resumed for free: a rerun trains no candidate again.
    _fit()
    assert Journal(f"{folder}/journal.jsonl").load() == trials
