from recbole_automl.model.general_recommender.autocf import AutoCF

__all__ = ["AutoCF"]
