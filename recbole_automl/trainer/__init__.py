"""Trainers of the plugin's methods; ``get_trainer`` finds ``<Model>Trainer`` here."""
