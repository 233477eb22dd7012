from recbole_automl.model.knowledge_aware_recommender.autosf import AutoSF

__all__ = ["AutoSF"]
