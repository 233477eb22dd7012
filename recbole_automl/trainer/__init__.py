"""Trainers of the plugin's methods; ``get_trainer`` finds ``<Model>Trainer`` here."""

from recbole_automl.trainer.autocf_trainer import AutoCFTrainer

__all__ = ["AutoCFTrainer"]
