"""Trainers of the plugin's methods; ``get_trainer`` finds ``<Model>Trainer`` here."""

from recbole_automl.trainer.autocf_trainer import AutoCFTrainer
from recbole_automl.trainer.autocross_trainer import AutoCrossTrainer
from recbole_automl.trainer.lambdaopt_trainer import LambdaOptBPRTrainer
from recbole_automl.trainer.pep_trainer import PEPTrainer
from recbole_automl.trainer.sif_trainer import SIFTrainer

__all__ = ["AutoCFTrainer", "AutoCrossTrainer", "LambdaOptBPRTrainer", "PEPTrainer", "SIFTrainer"]
