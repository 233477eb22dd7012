from recbole_automl.model.context_aware_recommender.autocross import AutoCross
from recbole_automl.model.context_aware_recommender.pep import PEP

__all__ = ["AutoCross", "PEP"]
