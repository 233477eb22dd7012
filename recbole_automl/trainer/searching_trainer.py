"""The trainer of every searching method: search, adopt the result, retrain, summarise."""

import functools
import os
import time

from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_automl.methods.searching import exported_config, search_folder
from recbole_automl.search import export_config
from recbole_automl.trainer.resume import load_state
from recbole_automl.utils import reseed


class SearchingTrainer(Trainer):
    """RecBole's ``Trainer`` whose ``fit`` first searches what to train (when it has to).

    ``fit``: if :meth:`needs_search`, :meth:`search` on the training and validation splits
    (never the test split), then :meth:`adopt` the result as the model to train; then
    RecBole's ``fit`` trains it from scratch with the full ``epochs`` and early stopping
    (unless :meth:`trained` gives it as the search already trained it that way);
    ``search_summary`` is :meth:`summarise`'s dict plus the seconds of both. A method fills
    in these hooks, and names its search folder:

    Attributes:
        search_name (str): the folder prefix, ``saved/search/<search_name>-<dataset>-<key>``.
        run_key_ignores (tuple): config keys that do not change the search (the retraining's
            budget): a rerun that differs only in them resumes the same search.
        export_prefixes (tuple): prefixes of the search's own keys, left out of the
            exported ``best.yaml``.
    """

    search_name = None
    run_key_ignores = ()
    export_prefixes = ("search_",)

    def __init__(self, config, model):
        super().__init__(config, model)
        self.search_summary = None

    # The hooks ----------------------------------------------------------------------------

    def needs_search(self):
        """Whether the config leaves something to search."""
        return True

    def search(self, train_data, valid_data, show_progress=False):
        """Run (or resume) the search; return what it found."""
        raise NotImplementedError

    def adopt(self, found, train_data):
        """Make what the search found the model this trainer trains (see :meth:`rebuild`);
        return the training dataloader to train it on (``None``: ``train_data``)."""

    def trained(self, found):
        """The adopted model as the search already trained it, stand-alone and as the
        retraining would (``(state_dict, best_valid_score, best_valid_result)``), so that it
        is not trained again; ``None`` (the default): retrain it."""
        return None

    def summarise(self, found):
        """What ``search_summary`` reports of ``found`` (``None``: nothing was searched)."""
        return None

    # The template -------------------------------------------------------------------------

    @functools.cached_property
    def search_dir(self):
        """Where the journal, checkpoint, plots and exported config of this search live
        (named by the config as it was before the search: adopting changes the config)."""
        name = f"{self.search_name}-{self.config['dataset']}"
        return search_folder(self.config, name, self.run_key_ignores)

    def fit(self, train_data, valid_data=None, **kwargs):
        found, search_seconds, trained = None, 0.0, None
        if self.needs_search():
            start = time.monotonic()
            found = self.search(train_data, valid_data, kwargs.get("show_progress", False))
            search_seconds = time.monotonic() - start
            train_data = self.adopt(found, train_data) or train_data
            trained = self.trained(found)
        start = time.monotonic()
        if trained is None:
            if getattr(self, "resume_file", None):  # train_resume: the found model's state
                self.resume_loader = train_data
                load_state(self, train_data, self.resume_file)
            result = super().fit(train_data, valid_data, **kwargs)
        else:
            result = self._take_trained(trained, kwargs.get("saved", True))
        summary = self.summarise(found)
        if summary is not None:
            times = {"search_seconds": round(search_seconds, 3),
                     "retrain_seconds": round(time.monotonic() - start, 3)}  # fmt: skip
            self.search_summary = {**times, **summary}
            self.logger.info(set_color(self.config["model"], "yellow") + f": {self.search_summary}")
        return result

    def _take_trained(self, trained, saved):
        """Load the model the search trained, and save it as RecBole's ``fit`` would have."""
        state, self.best_valid_score, self.best_valid_result = trained
        self.model.load_state_dict(state)
        self.logger.info(
            set_color(self.config["model"], "yellow")
            + ": the search trained the found model as a retraining would; not trained again"
        )
        if saved:
            self._save_checkpoint(0, verbose=False)
        return self.best_valid_score, self.best_valid_result

    # Helpers for the hooks ----------------------------------------------------------------

    def rebuild(self, train_data, model_class=None, model_args=(), **found):
        """Set the config keys ``found``, then build the model anew from the seed (as a fresh
        run would) with its optimizer: ``model_class`` (default: the current model's) called
        with the config, the dataset and ``model_args``."""
        for key, value in found.items():
            self.config[key] = value
        # RecBole's Trainer copied these from the config when it was built; the optimizer
        # below is built from the copies (a found learning rate was otherwise ignored).
        for key in ("learner", "learning_rate", "weight_decay", "clip_grad_norm"):
            setattr(self, key, self.config[key])
        reseed(self.config, train_data)
        model_class = model_class or type(self.model)
        self.model = model_class(self.config, train_data._dataset, *model_args).to(self.device)
        self.optimizer = self._build_optimizer(params=self.model.parameters())
        return self.model

    def export(self, folder=None, **found):
        """Write ``best.yaml``: the user's settings plus ``found``, trained with no search."""
        path = os.path.join(folder or self.search_dir, "best.yaml")
        return export_config(exported_config(self.config, self.export_prefixes, **found), path)
