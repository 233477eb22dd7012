"""The one search core every method uses; framework-free (no RecBole import).

The tutorial's formulation, piece by piece: a :class:`Space` to search (``space``,
``hyper_space``), a :class:`Strategy` that proposes points (``strategies``; hyperopt's TPE
in ``tpe``), an objective on validation data (given by each method), a :class:`Budget`, a
:class:`Journal` of :class:`Trial` records that makes a search resumable, a
:class:`Scheduler` that stops bad trials early (``schedulers``), an :class:`Executor` that
runs the trials (``executors``; Ray in ``ray_executor``), the one :class:`TrialRecorder`
every loop hands its trials to, the :mod:`registry` that finds strategies, schedulers and
executors by name, and :mod:`report` for the progress bar, plots and exported config.
"""

from recbole_automl.search.budget import Budget
from recbole_automl.search.checkpoint import SearchState
from recbole_automl.search.errors import SearchError
from recbole_automl.search.executors import Executor, ForkExecutor, SerialExecutor
from recbole_automl.search.hyper_space import HyperSpace
from recbole_automl.search.journal import (
    COMPLETE,
    FAILED,
    PRUNED,
    Journal,
    Trial,
    best_trial,
)
from recbole_automl.search.loop import TrialOutcome, evaluate_point, run_search
from recbole_automl.search.recorder import TrialRecorder
from recbole_automl.search.registry import EXECUTORS, SCHEDULERS, STRATEGIES
from recbole_automl.search.report import (
    SearchProgress,
    best_so_far,
    export_config,
    plot_trajectory,
    plot_weights,
    run_key,
)
from recbole_automl.search.schedulers import (
    CONTINUE,
    STOP,
    NoScheduler,
    Scheduler,
    StalledBehind,
    StopTraining,
    SuccessiveHalving,
)
from recbole_automl.search.space import (
    BranchSpace,
    CategoricalSpace,
    JointSpace,
    Space,
    point_key,
)
from recbole_automl.search.strategies import (
    ArchitecturePredictor,
    GridStrategy,
    PredictorStrategy,
    ProgressiveStrategy,
    RandomStrategy,
    SeededStrategy,
    Strategy,
)
from recbole_automl.search.tpe import HyperoptStrategy

__all__ = [
    "ArchitecturePredictor",
    "Budget",
    "BranchSpace",
    "CategoricalSpace",
    "COMPLETE",
    "CONTINUE",
    "EXECUTORS",
    "Executor",
    "FAILED",
    "ForkExecutor",
    "GridStrategy",
    "HyperSpace",
    "HyperoptStrategy",
    "JointSpace",
    "Journal",
    "NoScheduler",
    "StalledBehind",
    "PRUNED",
    "PredictorStrategy",
    "ProgressiveStrategy",
    "RandomStrategy",
    "SCHEDULERS",
    "SeededStrategy",
    "STOP",
    "STRATEGIES",
    "Scheduler",
    "SearchError",
    "SearchProgress",
    "SearchState",
    "SerialExecutor",
    "Space",
    "StopTraining",
    "Strategy",
    "SuccessiveHalving",
    "Trial",
    "TrialOutcome",
    "TrialRecorder",
    "best_so_far",
    "best_trial",
    "evaluate_point",
    "export_config",
    "plot_trajectory",
    "plot_weights",
    "point_key",
    "run_key",
    "run_search",
]
