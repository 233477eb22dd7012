"""ModelEnsembleTrainer: trains each member of a :class:`ModelEnsemble` exactly as a run of
it alone would (its trainer, its samples, the random state a run has after building it,
early stopping on validation, its best epoch kept), then validates the ensemble and saves it
as one RecBole checkpoint."""

from recbole.trainer import Trainer

from recbole_automl.compat import load_best_checkpoint
from recbole_automl.methods.searching import train_loader
from recbole_automl.model.general_recommender.ensemble import set_rng_state
from recbole_automl.trainer.stopping import fit


class ModelEnsembleTrainer(Trainer):
    """RecBole's ``Trainer`` for :class:`ModelEnsemble`: ``fit`` trains the members, one by
    one; the ensemble itself has nothing to train (its weights are given).

    Args:
        trainer_of (callable): ``trainer_of(model_type, model_name)``, the trainer class of
            a member (``lookup.get_trainer`` passes itself: this module cannot import it).
    """

    def __init__(self, config, model, trainer_of):
        super().__init__(config, model)
        self.trainer_of = trainer_of

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False,
            callback_fn=None):  # fmt: skip
        model = self.model
        for config, member, state in zip(model.member_configs, model.members, model.rng_after_init):
            member_train = train_loader(config, train_data)
            set_rng_state(state)  # as a run of the member alone, right after building it
            member_train.generator.manual_seed(config["seed"])
            trainer = self.trainer_of(config["MODEL_TYPE"], config["model"])(config, member)
            fit(trainer, member_train, valid_data, saved=True, verbose=False)
            load_best_checkpoint(trainer)  # the member's best epoch, as its own run keeps
            trainer.tensorboard.close()
        self.best_valid_score, self.best_valid_result = self._valid_epoch(valid_data)
        if callback_fn is not None:
            callback_fn(0, self.best_valid_score)
        if saved:
            self._save_checkpoint(0, verbose=verbose)
        return self.best_valid_score, self.best_valid_result
