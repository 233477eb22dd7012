"""AutoCrossTrainer: searches feature crosses on the training split (Luo et al., KDD 2019;
the search: :mod:`recbole_automl.methods.cross_search`), then trains the base model on the
data plus the crosses. The test split is only used after that, by whoever calls
``evaluate``.
"""

import os

from recbole.utils import set_color

from recbole_automl.methods.cross_search import CrossSearch
from recbole_automl.model.context_aware_recommender.autocross import AutoCross
from recbole_automl.search import plot_trajectory
from recbole_automl.trainer.searching_trainer import SearchingTrainer


class AutoCrossTrainer(SearchingTrainer):
    """RecBole ``Trainer`` for :class:`AutoCross`: search the crosses (unless
    ``autocross_producer`` names them), then train the base model on the crossed data.

    After ``fit``, ``search_summary`` holds the crosses, the search folder (``None`` when
    ``autocross_producer`` was given) and the seconds of the search and of the training.
    """

    search_name = "AutoCross"
    # The model trained on its crosses, and the budgets.
    run_key_ignores = (
        "base_model", "autocross_max_crosses", "autocross_producer", "embedding_size",
        "epochs", "learning_rate", "weight_decay", "stopping_step", "train_batch_size",
        "eval_batch_size", "mlp_hidden_size", "dropout_prob", "autocross_placement",
    )  # fmt: skip
    export_prefixes = ("search_", "autocross_max")

    def needs_search(self):
        return not self.config["autocross_producer"]

    def search(self, train_data, valid_data, show_progress=False):
        """Search the crosses on the training split (scored on the validation split); return
        the producer (``producer.json``, ``best.yaml`` and the journal are in the folder)."""
        config, folder = self.config, self.search_dir
        self.logger.info(set_color("AutoCross search", "green") + f": in {folder}")
        search = CrossSearch.on(
            config, train_data._dataset, valid_data._dataset, folder, self.logger
        )
        producer, trials = search.run(show_progress)
        path = os.path.join(folder, "producer.json")
        producer.save(path)
        self.export(autocross_producer=path)
        plot_trajectory({"AutoCross": trials}, os.path.join(folder, "trajectory.png"), "AUC", True)
        return producer

    def adopt(self, found, train_data):
        # The config names the producer too: a checkpoint of this model then reloads it.
        producer = os.path.join(self.search_dir, "producer.json")
        self.rebuild(train_data, AutoCross, model_args=(found,), autocross_producer=producer)

    def summarise(self, found):
        return {
            "crosses": self.model.producer.cross_names,
            "folder": None if found is None else self.search_dir,
        }
