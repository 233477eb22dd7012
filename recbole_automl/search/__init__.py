"""The one search core every method uses.

The tutorial's formulation, piece by piece: a :class:`Space` to search, a
:class:`Strategy` that proposes points, an objective on validation data (given by each
method), a :class:`Budget`, a :class:`Journal` of :class:`Trial` records that makes a
search resumable, schedulers that stop bad trials early (:class:`SuccessiveHalving`),
executors (local, or Ray Tune in :mod:`ray_tune`), and :mod:`report` for the progress bar,
plots and exported config.
"""

from recbole_automl.search.budget import Budget
from recbole_automl.search.checkpoint import SearchState
from recbole_automl.search.executor import ForkExecutor, SerialExecutor, make_executor
from recbole_automl.search.hyper_space import HyperSpace
from recbole_automl.search.journal import COMPLETE, FAILED, Journal, Trial, best_trial
from recbole_automl.search.loop import TrialOutcome, evaluate_point, run_search
from recbole_automl.search.report import (
    SearchProgress,
    best_so_far,
    export_config,
    plot_trajectory,
    plot_weights,
    run_key,
)
from recbole_automl.search.schedulers import NoScheduler, StopTraining, SuccessiveHalving
from recbole_automl.search.space import BranchSpace, CategoricalSpace, Space, point_key
from recbole_automl.search.strategies import (
    ArchitecturePredictor,
    GridStrategy,
    HyperoptStrategy,
    PredictorStrategy,
    RandomStrategy,
    Strategy,
)

__all__ = [
    "ArchitecturePredictor",
    "Budget",
    "BranchSpace",
    "CategoricalSpace",
    "COMPLETE",
    "FAILED",
    "ForkExecutor",
    "GridStrategy",
    "HyperSpace",
    "HyperoptStrategy",
    "Journal",
    "NoScheduler",
    "PredictorStrategy",
    "RandomStrategy",
    "SearchProgress",
    "SearchState",
    "SerialExecutor",
    "Space",
    "StopTraining",
    "Strategy",
    "SuccessiveHalving",
    "Trial",
    "TrialOutcome",
    "best_so_far",
    "best_trial",
    "evaluate_point",
    "export_config",
    "make_executor",
    "plot_trajectory",
    "plot_weights",
    "point_key",
    "run_key",
    "run_search",
]
