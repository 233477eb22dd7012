"""The search core: spaces, strategies, journal, budget, loop, report."""

import math
import time

import numpy as np
import pytest
import torch

from recbole_automl.search import (
    ArchitecturePredictor,
    BranchSpace,
    Budget,
    CategoricalSpace,
    ForkExecutor,
    GridStrategy,
    Journal,
    PredictorStrategy,
    RandomStrategy,
    TrialOutcome,
    best_so_far,
    best_trial,
    export_config,
    plot_trajectory,
    run_key,
    run_search,
)

CHOICES = {"a": list(range(6)), "b": list(range(6))}


def toy_objective(point, report=None):
    """Peaks at a=4, b=1; a=0 fails, like a diverging candidate."""
    if point["a"] == 0:
        raise ValueError("Training loss is nan")
    return TrialOutcome(10 - abs(point["a"] - 4) - abs(point["b"] - 1), epochs=1)


def search(tmp_path, strategy=None, trials=12, seed=0, objective=toy_objective):
    space = CategoricalSpace(CHOICES)
    strategy = strategy or RandomStrategy(space)
    journal = Journal(tmp_path / "journal.jsonl")
    return run_search(
        objective, space, strategy, Budget(max_trials=trials), journal, seed=seed, batch_size=3
    )


def test_categorical_space_encodes_one_hot_and_enumerates_its_grid():
    space = CategoricalSpace(CHOICES)
    assert space.encode({"a": 2, "b": 5}).tolist() == [0, 0, 1, 0, 0, 0] + [0] * 5 + [1]
    assert len(list(space.grid())) == len(space) == 36


def test_branch_space_points_are_order_free_sets():
    space = BranchSpace(CategoricalSpace(CHOICES), max_branches=3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        point = space.sample(rng)
        keys = [space.branch.key(b) for b in point]
        assert 1 <= len(point) <= 3 and keys == sorted(set(keys))
        assert space.encode(point).sum() == 2 * len(point)


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path):
    trials = search(tmp_path, trials=30)
    failed = [t for t in trials if not t.complete]
    assert failed and all("nan" in t.error for t in failed)
    assert len(trials) == 30 and sum(t.complete for t in trials) == 30 - len(failed)


def test_search_is_reproducible_and_never_repeats_a_point(tmp_path):
    first = search(tmp_path / "1", seed=3)
    second = search(tmp_path / "2", seed=3)
    assert [t.point for t in first] == [t.point for t in second]
    keys = [str(t.point) for t in first]
    assert len(keys) == len(set(keys))


def test_resume_takes_finished_trials_from_the_journal(tmp_path):
    calls = []

    def counting(point, report=None):
        calls.append(point)
        return toy_objective(point)

    space = CategoricalSpace(CHOICES)
    strategy = PredictorStrategy(space, k2=10, steps=20, seed=1)
    full = search(tmp_path / "full", strategy, trials=12, seed=5)
    # An interrupted run: 7 trials, then the same search again with the full budget.
    search(tmp_path / "cut", PredictorStrategy(space, k2=10, steps=20, seed=1), trials=7, seed=5)
    resumed = search(
        tmp_path / "cut",
        PredictorStrategy(space, k2=10, steps=20, seed=1),
        trials=12,
        seed=5,
        objective=counting,
    )
    assert [t.point for t in resumed] == [t.point for t in full]
    assert len(calls) == 5  # only the trials the interrupted run had not finished
    assert len(Journal(tmp_path / "cut" / "journal.jsonl").load()) == 12


def test_journal_ignores_a_torn_last_line(tmp_path):
    search(tmp_path, trials=3)
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"number": 3, "rou')
    assert len(Journal(tmp_path / "journal.jsonl").load()) == 3


def test_time_budget_stops_the_search_and_counts_credited_seconds():
    budget = Budget(max_seconds=100)
    assert not budget.exhausted
    budget.credit(150)
    assert budget.exhausted and budget.seconds_left == 0


def test_predictor_learns_to_rank():
    torch.manual_seed(0)
    x = torch.eye(6)
    utility = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, float("nan")])
    predictor = ArchitecturePredictor(6)
    predictor.fit(x, utility, steps=300)
    with torch.no_grad():
        scores = predictor(x)
    assert torch.argsort(scores[:5]).tolist() == [0, 1, 2, 3, 4]
    assert scores[5] < scores[0]


def test_predictor_strategy_finds_the_peak_sooner_than_random(tmp_path):
    def first_hit(strategy_factory):
        hits = []
        for seed in range(8):
            space = CategoricalSpace(CHOICES)
            trials = search(tmp_path / f"{seed}-{id(strategy_factory)}", strategy_factory(space),
                            trials=24, seed=seed)  # fmt: skip
            values = [t.value if t.complete else -math.inf for t in trials]
            hits.append(next((i for i, v in enumerate(values) if v >= 10), len(values)))
        return np.mean(hits)

    arsp = first_hit(lambda space: PredictorStrategy(space, k2=20, steps=100, seed=0))
    rand = first_hit(RandomStrategy)
    assert arsp < rand, (arsp, rand)


def test_best_trial_and_best_so_far_respect_the_direction(tmp_path):
    trials = search(tmp_path, trials=10)
    best = best_trial(trials, bigger=True)
    assert best.value == max(t.value for t in trials if t.complete)
    curve = best_so_far(trials, bigger=False)
    finite = curve[~np.isnan(curve)]
    assert np.all(np.diff(finite) <= 0)


def test_report_writes_plot_and_yaml(tmp_path):
    trials = search(tmp_path, trials=6)
    plot_trajectory({"random": trials}, tmp_path / "trajectory.png", "score", bigger=True)
    assert (tmp_path / "trajectory.png").stat().st_size > 1000
    path = export_config({"seed": np.int64(3), "architecture": [{"a": 1}]}, tmp_path / "b.yaml")
    assert open(path).read() == "seed: 3\narchitecture:\n- a: 1\n"


def test_run_key_ignores_budget_keys():
    assert run_key({"a": 1, "budget": 5}, ["budget"]) == run_key({"a": 1, "budget": 9}, ["budget"])
    assert run_key({"a": 1}) != run_key({"a": 2})


@pytest.mark.parametrize("max_branches", [0, -1])
def test_branch_space_rejects_bad_sizes(max_branches):
    with pytest.raises(ValueError, match="max_branches"):
        BranchSpace(CategoricalSpace(CHOICES), max_branches)


def test_grid_strategy_visits_every_point_once(tmp_path):
    space = CategoricalSpace(CHOICES)
    trials = search(tmp_path, GridStrategy(space, space.grid(), seed=1), trials=100)
    assert len(trials) == 36
    assert sorted(space.key(t.point) for t in trials) == sorted(map(space.key, space.grid()))


def test_fork_executor_runs_the_same_search_in_parallel(tmp_path):
    serial = search(tmp_path / "serial", trials=9, seed=2)
    space = CategoricalSpace(CHOICES)
    parallel = run_search(
        toy_objective, space, RandomStrategy(space), Budget(max_trials=9),
        Journal(tmp_path / "parallel" / "journal.jsonl"), seed=2, batch_size=3,
        executor=ForkExecutor(2),
    )  # fmt: skip
    assert [(t.point, t.value, t.status) for t in parallel] == [
        (t.point, t.value, t.status) for t in serial
    ]


def test_a_time_cap_stops_starting_trials_and_never_cuts_one(tmp_path):
    """A trial's score must not depend on the machine's load: the objective gets no time
    limit, and a search whose time is up starts no further trial."""
    seen = []

    def slow(point, report=None):
        seen.append(point)
        time.sleep(0.2)
        return toy_objective(point)

    space = CategoricalSpace(CHOICES)
    trials = run_search(
        slow, space, RandomStrategy(space), Budget(max_trials=10, max_seconds=0.3),
        Journal(tmp_path / "journal.jsonl"), seed=0,
    )  # fmt: skip
    assert 1 <= len(trials) == len(seen) < 10
    assert all(t.complete and t.seconds >= 0.2 for t in trials)  # none was cut short


def test_a_seeded_strategy_evaluates_its_first_points_first_and_resumes(tmp_path):
    from recbole_automl.search import SeededStrategy

    space = CategoricalSpace(CHOICES)
    first = [{"a": 5, "b": 5}, {"a": 0, "b": 0}, {"a": 3, "b": 1}]

    def search(journal, objective):
        strategy = SeededStrategy(RandomStrategy(space), first)
        trials = run_search(objective, space, strategy, Budget(max_trials=6), journal,
                            seed=3, batch_size=2)  # fmt: skip
        return trials, strategy

    calls = []

    def objective(point, report):
        calls.append(point)
        return TrialOutcome(point["a"] + point["b"])

    journal = Journal(tmp_path / "journal.jsonl")
    trials, strategy = search(journal, objective)
    assert [t.point for t in trials[:3]] == first  # in the order given, then the strategy's
    assert len({space.key(t.point) for t in trials}) == 6
    assert strategy.strategy.points == [t.point for t in trials]  # told every result
    calls.clear()
    again, _ = search(journal, objective)
    assert not calls and [t.point for t in again] == [t.point for t in trials]


def test_a_fidelity_aware_predictor_ranks_what_was_stopped_early_by_its_end():
    # "slow" points (b >= 3) are best at the end (utility 10 + a) but score 0.1 * a when a
    # scheduler stops them after 1 of 10 epochs; "fast" ones score a at the end.
    space = CategoricalSpace(CHOICES)

    def told(fidelity):
        strategy = PredictorStrategy(space, k2=36, steps=300, seed=0, fidelity=fidelity)
        for a in range(6):
            for b in range(6):
                if b < 3:
                    strategy.tell({"a": a, "b": b}, float(a), 10)
                elif (a + b) % 9:  # all but two slow points were stopped at the first rung
                    strategy.tell({"a": a, "b": b}, 0.1 * a, 1)
                else:
                    strategy.tell({"a": a, "b": b}, 10.0 + a, 10)
        return strategy

    def slow_share(strategy):
        points = strategy.ask(6, np.random.default_rng(0), exclude=set())
        return sum(p["b"] >= 3 for p in points) / len(points)

    assert slow_share(told(True)) >= slow_share(told(False)) + 0.3  # 0.67 vs 0.33


def test_a_trial_epochs_budget_counts_what_each_trial_trained_and_resumes(tmp_path):
    """search_trial_epochs: the trials' epochs summed (deterministic compute); the trial
    that crosses the limit finishes; a resumed search counts the journal's epochs."""

    def costly(point, report=None):  # a trial trains a + 1 epochs
        return TrialOutcome(float(point["a"] + point["b"]), epochs=point["a"] + 1)

    space = CategoricalSpace(CHOICES)

    def run(max_epochs):
        return run_search(
            costly, space, RandomStrategy(space), Budget(max_epochs=max_epochs),
            Journal(tmp_path / "journal.jsonl"), seed=4,
        )  # fmt: skip

    trials = run(20)
    spent = [sum(t.epochs for t in trials[: i + 1]) for i in range(len(trials))]
    assert spent[-1] >= 20 > spent[-2]  # stopped by the epochs, not by the space
    assert len(trials) < len(space)
    longer = run(40)
    assert [t.point for t in longer[: len(trials)]] == [t.point for t in trials]
    assert sum(t.epochs for t in longer) >= 40 > sum(t.epochs for t in longer[:-1])
