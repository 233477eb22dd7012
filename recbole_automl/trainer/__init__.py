"""Trainers of the plugin's methods; ``get_trainer`` finds ``<Model>Trainer`` here.

Every searching method's trainer is a :class:`SearchingTrainer` (search, adopt, retrain,
summarise) or, when its search is the training itself, a :class:`OneShotTrainer`.
"""

from recbole_automl.trainer.autocf_trainer import AutoCFTrainer
from recbole_automl.trainer.autocross_trainer import AutoCrossTrainer
from recbole_automl.trainer.autognn_trainer import AutoGNNTrainer
from recbole_automl.trainer.autosf_trainer import AutoSFTrainer
from recbole_automl.trainer.ensemble_trainer import ModelEnsembleTrainer
from recbole_automl.trainer.lambdaopt_trainer import LambdaOptBPRTrainer
from recbole_automl.trainer.one_shot import OneShotTrainer
from recbole_automl.trainer.pep_trainer import PEPTrainer
from recbole_automl.trainer.searching_trainer import SearchingTrainer
from recbole_automl.trainer.sif_trainer import SIFTrainer

__all__ = [
    "AutoCFTrainer",
    "AutoCrossTrainer",
    "AutoGNNTrainer",
    "AutoSFTrainer",
    "LambdaOptBPRTrainer",
    "ModelEnsembleTrainer",
    "OneShotTrainer",
    "PEPTrainer",
    "SIFTrainer",
    "SearchingTrainer",
]
