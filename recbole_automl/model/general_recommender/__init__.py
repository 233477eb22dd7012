from recbole_automl.model.general_recommender.autocf import AutoCF
from recbole_automl.model.general_recommender.autognn import AutoGNN
from recbole_automl.model.general_recommender.ensemble import ModelEnsemble
from recbole_automl.model.general_recommender.lambdaopt import LambdaOptBPR
from recbole_automl.model.general_recommender.sif import SIF

__all__ = ["AutoCF", "AutoGNN", "LambdaOptBPR", "ModelEnsemble", "SIF"]
