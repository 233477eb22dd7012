"""recbole-automl: automated machine learning for the RecBole recommender library."""

from recbole_automl import compat

compat.apply()

from recbole_automl.config import Config  # noqa: E402
from recbole_automl.lookup import get_model, get_trainer  # noqa: E402
from recbole_automl.quick_start import (  # noqa: E402
    load_data_and_model,
    objective_function,
    run_recbole_automl,
)
from recbole_automl.utils import ConfigError  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "Config",
    "ConfigError",
    "get_model",
    "get_trainer",
    "load_data_and_model",
    "objective_function",
    "run_recbole_automl",
]
