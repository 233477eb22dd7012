"""Strategies, schedulers and executors found by name: the names a config file uses.

Each entry is a factory that reads what it needs from ``settings``, a mapping of setting
names to values (a RecBole ``Config`` is one). A new strategy is one ``register`` call::

    @STRATEGIES.register("evolution")
    def _evolution(space, settings):
        return EvolutionStrategy(space, population=settings["evolution_population"])

Which names a method allows is data next to its config (``properties/checks/``); the
registry only knows what exists.
"""

from recbole_automl.search.errors import SearchError
from recbole_automl.search.executors import local_executor
from recbole_automl.search.hyper_space import HyperSpace
from recbole_automl.search.schedulers import NoScheduler, StalledBehind, SuccessiveHalving
from recbole_automl.search.strategies import (
    GridStrategy,
    PredictorStrategy,
    ProgressiveStrategy,
    RandomStrategy,
)


class Registry:
    """Factories by name, for the setting ``key``."""

    def __init__(self, key):
        self.key = key
        self.factories = {}

    def register(self, name):
        def add(factory):
            self.factories[name] = factory
            return factory

        return add

    def names(self):
        return list(self.factories)

    def create(self, name, *args):
        """What the factory of ``name`` makes from ``args``."""
        if name not in self.factories:
            raise SearchError(
                f"Config key '{self.key}' must be one of {self.names()}, got {name!r}."
            )
        return self.factories[name](*args)


STRATEGIES = Registry("search_strategy")  # factory(space, settings) -> Strategy
SCHEDULERS = Registry("search_scheduler")  # factory(settings, bigger, max_epochs) -> Scheduler
EXECUTORS = Registry("search_executor")  # factory(settings) -> Executor


@STRATEGIES.register("arsp")
def _arsp(space, settings):
    return PredictorStrategy(
        space, k2=settings["arsp_k2"], steps=settings["arsp_predictor_epochs"],
        seed=settings["seed"], fidelity=bool(settings["arsp_fidelity"]),
    )  # fmt: skip


@STRATEGIES.register("progressive")
def _progressive(space, settings):
    return ProgressiveStrategy(
        space, per_stage=settings["autosf_stage_trials"], top_k=settings["autosf_top_k"],
        candidates=settings["autosf_candidates"], seed=settings["seed"],
    )  # fmt: skip


@STRATEGIES.register("random")
def _random(space, settings):
    if isinstance(space, HyperSpace):  # hyperopt's random search, as RecBole's HyperTuning
        from recbole_automl.search.tpe import HyperoptStrategy

        return HyperoptStrategy(space, "random")
    return RandomStrategy(space)


@STRATEGIES.register("grid")
def _grid(space, settings):
    seed = settings["seed"] if settings["search_grid_shuffle"] else None
    return GridStrategy(space, space.grid(), seed=seed)


@STRATEGIES.register("tpe")
def _tpe(space, settings):
    from recbole_automl.search.tpe import HyperoptStrategy

    return HyperoptStrategy(space, "tpe", startup_trials=settings["tpe_startup_trials"])


@SCHEDULERS.register("none")
def _no_scheduler(settings, bigger, max_epochs):
    return NoScheduler()


@SCHEDULERS.register("asha")
def _asha(settings, bigger, max_epochs):
    return SuccessiveHalving(
        settings["asha_min_epochs"], max_epochs, settings["asha_reduction_factor"], bigger,
        bracket_key=settings["asha_bracket_key"] if "asha_bracket_key" in settings else None,
        extrapolation=settings["asha_extrapolation"] if "asha_extrapolation" in settings else 0,
    )  # fmt: skip


@SCHEDULERS.register("stalled")
def _stalled(settings, bigger, max_epochs):
    return StalledBehind(settings["stopping_step"], settings["search_stall_delta"], bigger)


@EXECUTORS.register("local")
def _local(settings):
    return local_executor(settings["search_workers"], settings["device"])


@EXECUTORS.register("ray")
def _ray(settings):
    from recbole_automl.search.ray_executor import RayExecutor

    return RayExecutor(
        settings["search_workers"], address=settings["ray_address"], device=settings["device"]
    )
