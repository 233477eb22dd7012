"""The contract every strategy of the registry keeps (Optuna's pattern of one test suite
for every sampler): seeded reproducibility, ask/tell, resume from a journal, failed and
pruned trials. A new strategy is registered in ``search/registry.py`` and named in SPACES
below with the kinds of space it searches; then it runs this suite."""

import numpy as np
import pytest

from recbole_automl.model.knowledge_aware_recommender.autosf import BlockSpace, degenerate
from recbole_automl.search import (
    STOP,
    STRATEGIES,
    Budget,
    CategoricalSpace,
    HyperSpace,
    JointSpace,
    Journal,
    Scheduler,
    StopTraining,
    TrialOutcome,
    best_trial,
    point_key,
    run_search,
)

SETTINGS = {
    "seed": 7, "arsp_k2": 10, "arsp_predictor_epochs": 20, "search_grid_shuffle": True,
    "tpe_startup_trials": 3, "arsp_fidelity": False, "autosf_stage_trials": 3,
    "autosf_top_k": 2, "autosf_candidates": 32,
}  # fmt: skip


def categorical():
    return CategoricalSpace({"a": [0, 1, 2, 3, 4], "b": ["p", "q", "r", "s", "t"]})


def hyper():
    return HyperSpace.from_dict(
        {"x": {"quniform": [0.0, 1.0, 0.25]}, "k": {"choice": ["u", "v", "w"]}}
    )


def joint():
    return JointSpace({"a": CategoricalSpace({"v": [0, 1, 2]})}, hyper())


def blocks():
    """AutoSF's structures of 4, 6 and 8 blocks (a space grown stage by stage, no grid)."""
    return BlockSpace(8)


# Which kinds of space each registered strategy searches.
SPACES = {"arsp": [categorical, joint], "random": [categorical, hyper, joint],
          "grid": [categorical, hyper, joint], "tpe": [hyper], "progressive": [blocks]}  # fmt: skip
CASES = [(name, make) for name, makes in SPACES.items() for make in makes]
IDS = [f"{name}-{make.__name__}" for name, make in CASES]


def value(point):
    if isinstance(point, list):  # a block structure: more positive blocks score higher
        a = np.asarray(point)
        return float((a > 0).sum()) / 16 + float(np.abs(a).sum()) / 1000
    if "b" in point:
        return point["a"] + "pqrst".index(point["b"]) / 10
    joint = point["a"]["v"] / 3 if "a" in point else 0.0
    return joint + point["x"] + {"u": 0.0, "v": 0.5, "w": 0.2}[point["k"]]


class Counted:
    """Three validations per trial, the last the point's value; counts the evaluations."""

    def __init__(self, fails=()):
        self.calls, self.fails = 0, fails

    def __call__(self, point, report):
        self.calls += 1
        if point_key(point) in self.fails:
            raise RuntimeError("this candidate does not train")
        curve = []
        try:
            for epoch in (1, 2, 3):
                curve.append(value(point) * epoch / 3)
                report(epoch, curve[-1])
        except StopTraining:  # what Trainer.fit does: end at this validation
            pass
        return TrialOutcome(max(curve), curve=curve, epochs=len(curve))


def search(name, make, trials, journal=None, objective=None, seed=0, scheduler=None):
    space = make()
    strategy = STRATEGIES.create(name, space, SETTINGS)
    return run_search(
        objective or Counted(), space, strategy, Budget(max_trials=trials), journal, seed=seed,
        batch_size=2, scheduler=scheduler,
    )  # fmt: skip


def test_every_registered_strategy_is_in_this_suite():
    assert set(SPACES) == set(STRATEGIES.names())


@pytest.mark.parametrize("name, make", CASES, ids=IDS)
def test_the_same_seed_gives_the_same_search(name, make):
    first, again = search(name, make, 8, seed=4), search(name, make, 8, seed=4)
    assert [t.point for t in first] == [t.point for t in again]
    assert [t.value for t in first] == [t.value for t in again]
    assert len({make().key(t.point) for t in first}) == 8  # never a point twice


@pytest.mark.parametrize("name, make", CASES, ids=IDS)
def test_ask_returns_new_points_of_the_space_and_tell_takes_failures(name, make):
    space = make()
    strategy = STRATEGIES.create(name, space, SETTINGS)
    rng = np.random.default_rng(0)
    seen = strategy.ask(2, rng, exclude=set())
    for point, utility in zip(seen, (None, 0.5)):  # a failed trial is told None
        strategy.tell(point, utility)
    exclude = {space.key(p) for p in seen}
    points = strategy.ask(3, rng, exclude=exclude)
    keys = [space.key(p) for p in points]
    assert 1 <= len(points) <= 3 and len(set(keys)) == len(keys) and not exclude & set(keys)
    assert all(in_space(space, p) for p in points)


def in_space(space, point):
    if isinstance(space, BlockSpace):  # (too large to enumerate)
        return space.stage(point) in space.stages and not degenerate(point)
    return space.key(point) in {space.key(p) for p in space.grid()}


def some_points(space):
    return space.initial() if isinstance(space, BlockSpace) else list(space.grid())


@pytest.mark.parametrize("name, make", CASES, ids=IDS)
def test_a_resumed_search_trains_nothing_twice_and_extends_as_a_fresh_one(name, make, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    first = search(name, make, 6, journal)
    rerun = Counted()
    assert search(name, make, 6, journal, rerun) == first and rerun.calls == 0
    extended = Counted()
    longer = search(name, make, 9, journal, extended)
    assert extended.calls == 3 and longer[:6] == first
    assert [t.point for t in longer] == [t.point for t in search(name, make, 9)]


class StopsEveryOther(Scheduler):
    """Stops the odd trials at their second validation."""

    def report(self, number, epoch, score):
        return STOP if number % 2 and epoch == 2 else "continue"


@pytest.mark.parametrize("name, make", CASES, ids=IDS)
def test_failed_and_pruned_trials_are_recorded_and_the_search_goes_on(name, make):
    fails = {point_key(p) for p in some_points(make())[::3]}
    trials = search(name, make, 9, objective=Counted(fails), scheduler=StopsEveryOther())
    statuses = {t.status for t in trials}
    assert len(trials) == 9 and {"pruned", "complete"} <= statuses
    assert all(t.error and t.value is None for t in trials if t.status == "failed")
    assert all(t.epochs == 2 for t in trials if t.status == "pruned")
    best = best_trial(trials, bigger=True)
    assert best.scored and best.value == max(t.value for t in trials if t.scored)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_a_budget_larger_than_the_space_ends_when_the_space_is_exhausted(name):
    # (ARSP once crashed here: its predictor was asked to rank no candidates.)
    small = {"categorical": lambda: CategoricalSpace({"a": [0, 1, 2], "b": ["p", "q"]}),
             "hyper": lambda: HyperSpace.from_dict({"k": {"choice": ["u", "v", "w"]},
                                                    "x": {"choice": [0.0, 1.0]}})}  # fmt: skip
    small["blocks"] = lambda: BlockSpace(4)  # its first stage only: 5 classes
    kind = {hyper: "hyper", blocks: "blocks"}.get(SPACES[name][0], "categorical")
    trials = search(name, small[kind], 20)
    keys = [small[kind]().key(t.point) for t in trials]
    assert len(set(keys)) == len(keys) and len(trials) == (5 if kind == "blocks" else 6)
    # every point once, then the loop stops
