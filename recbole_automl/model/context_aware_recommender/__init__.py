from recbole_automl.model.context_aware_recommender.pep import PEP

__all__ = ["PEP"]
