"""Hyper-parameter spaces (YAML and RecBole's format), hyperopt's TPE, grid, ASHA."""

import math

import numpy as np
import pytest
import yaml
from conftest import write_yaml

from recbole_automl.search import (
    COMPLETE,
    CONTINUE,
    PRUNED,
    STOP,
    Budget,
    GridStrategy,
    HyperoptStrategy,
    HyperSpace,
    SearchError,
    StopTraining,
    SuccessiveHalving,
    Trial,
    TrialOutcome,
    evaluate_point,
    run_search,
)
from recbole_automl.search.tpe import point_from_vals, vals_from_point

SPACE = {
    "learning_rate": {"loguniform": [1.0e-4, 1.0e-1]},
    "embedding_size": {"choice": [8, 16, 32]},
    "weight_decay": {"uniform": [0.0, 1.0e-3]},
    "dropout_prob": {"quniform": [0.0, 0.5, 0.1]},
    "n_layers": {"quniform": [1, 3, 1]},
    "train_batch_size": 512,
    "learner": {
        "choice": {
            "adam": None,
            "sgd": {"momentum_like": {"choice": [0.5, 0.9]}},
        }
    },
}


def test_yaml_space_samples_every_kind_and_conditions(tmp_path):
    space = HyperSpace.from_file(write_yaml(tmp_path / "space.yaml", SPACE))
    rng = np.random.default_rng(0)
    points = [space.sample(rng) for _ in range(200)]
    for point in points:
        assert 1e-4 <= point["learning_rate"] <= 1e-1
        assert point["embedding_size"] in (8, 16, 32)
        assert point["dropout_prob"] in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
        assert point["n_layers"] in (1, 2, 3) and isinstance(point["n_layers"], int)
        assert point["train_batch_size"] == 512
        assert ("momentum_like" in point) == (point["learner"] == "sgd")
        assert point_from_vals(space, vals_from_point(space, point)) == point
    # loguniform is uniform in the logarithm: about a third of the draws per decade
    low_decade = np.mean([p["learning_rate"] < 1e-3 for p in points])
    assert 0.2 < low_decade < 0.5


def test_recbole_params_file_format_is_read_as_recbole_reads_it(tmp_path):
    text = "learning_rate loguniform -8,0\nembedding_size choice [64,96,128]\n"
    space = HyperSpace.from_file(write_yaml(tmp_path / "hyper.test", text))
    lr, emb = space.params
    assert lr.args == pytest.approx((math.exp(-8), 1.0)) and emb.args == [64, 96, 128]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"lr": {"loguniform": [0, 1]}}, "'lr': loguniform needs low < high and low > 0"),
        ({"lr": {"uniform": [1]}}, r"'lr': uniform expects \[low, high\]"),
        ({"lr": {"choice": []}}, "'lr': choice expects a non-empty list"),
        ({"lr": {"choice": [1], "uniform": [0, 1]}}, "'lr' must have exactly one of"),
        ({"eval_args": {"choice": [1, 2]}}, "'eval_args', which changes the dataset"),
        ({"x": 1}, "has no searched key"),
    ],
)
def test_bad_space_entries_name_the_key(tmp_path, entry, message):
    with pytest.raises(SearchError, match=message):
        HyperSpace.from_file(write_yaml(tmp_path / "space.yaml", entry))


def test_grid_needs_finite_keys_and_enumerates_conditions(tmp_path):
    space = HyperSpace.from_file(write_yaml(tmp_path / "space.yaml", SPACE))
    with pytest.raises(SearchError, match="'learning_rate' is loguniform"):
        list(space.grid())
    finite = {k: SPACE[k] for k in ("embedding_size", "dropout_prob", "learner")}
    grid = list(HyperSpace.from_dict(finite).grid())
    assert len(grid) == 3 * 6 * (1 + 2)
    assert len({yaml.safe_dump(p) for p in grid}) == len(grid)


def quadratic(point, report=None):
    """Best at learning_rate 1e-2 and embedding_size 16."""
    value = -((math.log10(point["learning_rate"]) + 2) ** 2) - (point["embedding_size"] == 8)
    return TrialOutcome(value, epochs=1)


def test_tpe_is_seeded_and_beats_random_on_a_smooth_objective(tmp_path):
    space = HyperSpace.from_dict({k: SPACE[k] for k in ("learning_rate", "embedding_size")})

    def best(algo, seed):
        trials = run_search(
            quadratic, space, HyperoptStrategy(space, algo), Budget(max_trials=30), None, seed=seed
        )
        return [t.point for t in trials], max(t.value for t in trials)

    assert best("tpe", 0) == best("tpe", 0)
    assert best("tpe", 0)[0] != best("tpe", 1)[0]
    tpe = np.mean([best("tpe", s)[1] for s in range(5)])
    rand = np.mean([best("random", s)[1] for s in range(5)])
    assert tpe > rand


def test_grid_search_visits_the_whole_grid_even_without_improvement():
    # RecBole's exhaustive search stops after 10 trials without improvement; ours does not.
    space = HyperSpace.from_dict({"a": {"choice": list(range(8))}, "b": {"choice": [0, 1]}})
    trials = run_search(
        lambda p, t, r=None: TrialOutcome(-p["a"] - p["b"]),
        space,
        GridStrategy(space, space.grid()),
        Budget(),
        None,
    )
    assert len(trials) == 16 and len({(t.point["a"], t.point["b"]) for t in trials}) == 16


def test_tpe_never_repeats_a_point_and_ends_when_a_small_space_is_exhausted():
    space = HyperSpace.from_dict({"a": {"choice": [1, 2, 3]}, "b": {"choice": [1, 2]}})
    trials = run_search(
        lambda p, t, r=None: TrialOutcome(p["a"] * p["b"]),
        space,
        HyperoptStrategy(space, "tpe", startup_trials=2),
        Budget(max_trials=20),
        None,
    )
    assert sorted((t.point["a"], t.point["b"]) for t in trials) == [
        (a, b) for a in (1, 2, 3) for b in (1, 2)
    ]


def test_successive_halving_stops_trials_below_the_rung_cutoff():
    asha = SuccessiveHalving(min_epochs=1, max_epochs=10, reduction_factor=3)
    assert list(asha.rungs) == [1, 3, 9]
    for number, score in enumerate([0.5, 0.6, 0.7]):  # rung 1 records; the best go on
        assert asha.report(number, 1, score) == CONTINUE
    assert asha.report(3, 1, 0.55) == STOP  # below the 2/3 quantile of [0.5, 0.6, 0.7]
    assert asha.report(4, 1, 0.69) == CONTINUE  # the quantile of [.5, .6, .7, .55] is .6
    smaller = SuccessiveHalving(1, 10, 3, bigger=False)
    assert smaller.report(0, 1, 0.5) == CONTINUE
    assert smaller.report(1, 1, 0.9) == STOP


def test_successive_halving_in_brackets_compares_a_trial_with_its_own_bracket_only():
    asha = SuccessiveHalving(1, 10, 3, bracket_key="model")
    asha.begin(0, {"model": "EASE"})
    assert asha.report(0, 1, 0.9) == CONTINUE
    asha.begin(1, {"model": "MultiVAE"})  # first of its bracket: goes on
    assert asha.report(1, 1, 0.1) == CONTINUE
    asha.begin(2, {"model": "MultiVAE"})
    assert asha.report(2, 1, 0.05) == STOP  # below the other MultiVAE, not EASE's 0.9
    asha.observe(Trial(3, 0, {"model": "EASE"}, value=0.8, curve=[0.8], epochs=1))
    asha.begin(4, {"model": "EASE"})
    assert asha.report(4, 1, 0.85) == STOP  # the 2/3 quantile of EASE's [0.9, 0.8]


def test_extrapolated_rung_scores_keep_a_slow_riser_that_plain_asha_stops():
    """A plateauing trial (flat at 0.20) against one rising 0.005 an epoch (0.19 at rung 5
    of 40): plain ASHA stops the riser; with gamma 0.2 it is compared on 0.19 + 0.2 x
    0.005 x 35 = 0.225 and goes on. The same with smaller-is-better scores, mirrored."""
    flat = [0.2] * 5
    rising = [0.17, 0.175, 0.18, 0.185, 0.19]
    for bigger, sign, offset in ((True, 1, 0.0), (False, -1, 1.0)):
        decisions = {}
        for gamma in (0.0, 0.2):
            asha = SuccessiveHalving(5, 40, 3, bigger=bigger, extrapolation=gamma)
            for number, curve in enumerate((flat, rising)):
                for epoch, score in enumerate(curve, 1):
                    decision = asha.report(number, epoch, offset + sign * score)
            decisions[gamma] = decision
            assert asha.rungs[5][1] == pytest.approx(offset + sign * (0.19 + gamma * 0.175))
            # A finished trial observed from its curve gets the same rung score.
            again = SuccessiveHalving(5, 40, 3, bigger=bigger, extrapolation=gamma)
            curve = [offset + sign * s for s in rising]
            again.observe(Trial(1, 0, {}, value=curve[-1], curve=curve, epochs=5))
            assert again.rungs[5][1] == pytest.approx(asha.rungs[5][1])
        assert decisions == {0.0: STOP, 0.2: CONTINUE}


def test_a_stopped_trial_keeps_its_best_epoch_and_is_recorded_pruned():
    asha = SuccessiveHalving(min_epochs=2, max_epochs=8, reduction_factor=2)

    def curve_objective(point, report=None):
        curve = []
        try:
            for epoch, score in enumerate(point["curve"], 1):
                curve.append(score)
                report(epoch, score)
        except StopTraining:
            pass
        return TrialOutcome(max(curve), curve=curve, epochs=len(curve))

    good = evaluate_point(curve_objective, {"curve": [0.3, 0.5, 0.6, 0.7]}, 0, 0, asha)
    bad = evaluate_point(curve_objective, {"curve": [0.1, 0.2, 0.3, 0.4]}, 1, 0, asha)
    assert good.epochs == 4 and good.status == COMPLETE
    assert bad.status == PRUNED and bad.scored and bad.epochs == 2 and bad.value == 0.2


def test_tpe_takes_a_point_whose_branch_leaves_nested_conditions_inactive():
    """A condition inside a condition (a model's loss, and the negatives of one loss): a
    point on another branch leaves both levels inactive, and TPE still reads it."""
    space = HyperSpace.from_dict(
        {"model": {"choice": {
            "A": {"x": {"uniform": [0.0, 1.0]}},
            "B": {"loss": {"choice": {"BPR": None, "CE": {"n": {"choice": [1, 4]}}}}},
        }}}
    )  # fmt: skip
    strategy = HyperoptStrategy(space, "tpe", startup_trials=2)
    told = [{"model": "A", "x": 0.3}, {"model": "B", "loss": "CE", "n": 4},
            {"model": "B", "loss": "BPR"}]  # fmt: skip
    for utility, point in enumerate(told):
        strategy.tell(point, float(utility))
    (point,) = strategy.ask(1, np.random.default_rng(0), exclude=[space.key(p) for p in told])
    assert point["model"] in ("A", "B") and space.key(point) not in {space.key(p) for p in told}
