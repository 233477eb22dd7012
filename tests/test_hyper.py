"""Hyper-parameter search: spaces, TPE, grid, ASHA, and the search of any model end to end."""

import math

import numpy as np
import pytest
import yaml
from conftest import tiny_config

from recbole_automl import ConfigError, run_recbole_automl
from recbole_automl.search import (
    Budget,
    GridStrategy,
    HyperoptStrategy,
    HyperSpace,
    Journal,
    StopTraining,
    SuccessiveHalving,
    TrialOutcome,
    evaluate_point,
    run_search,
)

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


def write(path, data):
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def test_yaml_space_samples_every_kind_and_conditions(tmp_path):
    space = HyperSpace.from_file(write(tmp_path / "space.yaml", SPACE))
    rng = np.random.default_rng(0)
    points = [space.sample(rng) for _ in range(200)]
    for point in points:
        assert 1e-4 <= point["learning_rate"] <= 1e-1
        assert point["embedding_size"] in (8, 16, 32)
        assert point["dropout_prob"] in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
        assert point["n_layers"] in (1, 2, 3) and isinstance(point["n_layers"], int)
        assert point["train_batch_size"] == 512
        assert ("momentum_like" in point) == (point["learner"] == "sgd")
        assert space.point_from_vals(space.vals_from_point(point)) == point
    # loguniform is uniform in the logarithm: about a third of the draws per decade
    low_decade = np.mean([p["learning_rate"] < 1e-3 for p in points])
    assert 0.2 < low_decade < 0.5


def test_recbole_params_file_format_is_read_as_recbole_reads_it(tmp_path):
    text = "learning_rate loguniform -8,0\nembedding_size choice [64,96,128]\n"
    space = HyperSpace.from_file(write(tmp_path / "hyper.test", text))
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
    with pytest.raises(ConfigError, match=message):
        HyperSpace.from_file(write(tmp_path / "space.yaml", entry))


def test_grid_needs_finite_keys_and_enumerates_conditions(tmp_path):
    space = HyperSpace.from_file(write(tmp_path / "space.yaml", SPACE))
    with pytest.raises(ConfigError, match="'learning_rate' is loguniform"):
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
        asha.report(number, 1, score)
    with pytest.raises(StopTraining):
        asha.report(3, 1, 0.55)  # below the 2/3 quantile of [0.5, 0.6, 0.7]
    asha.report(4, 1, 0.69)  # the quantile of [.5, .6, .7, .55] is .6
    smaller = SuccessiveHalving(1, 10, 3, bigger=False)
    smaller.report(0, 1, 0.5)
    with pytest.raises(StopTraining):
        smaller.report(1, 1, 0.9)


def test_a_stopped_trial_keeps_its_best_epoch_and_is_recorded_complete():
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
    assert good.epochs == 4 and bad.complete and bad.epochs == 2 and bad.value == 0.2


def hyper_config(tmp_path, space=None, **overrides):
    space_file = write(
        tmp_path / "space.yaml",
        space
        or {"learning_rate": {"choice": [0.001, 0.01]}, "embedding_size": {"choice": [8, 16]}},
    )  # noqa: E501
    return tiny_config(
        search="hyper", params_file=space_file, epochs=4, eval_step=1, asha_min_epochs=1,
        asha_reduction_factor=2, **overrides,
    )  # fmt: skip


def test_hyper_search_selects_on_valid_exports_and_reproduces(isolated_run):
    config = hyper_config(isolated_run, search_strategy="grid", search_scheduler="none")
    result = run_recbole_automl(model="BPR", config_dict=config)
    trials = result["trials"]
    assert len(trials) == 4 and all(t.complete and t.epochs == 4 for t in trials)
    best = max(trials, key=lambda t: t.value)
    assert result["best_params"] == best.point
    # The final model is the exported file trained again: same validation score.
    assert result["best_valid_score"] == pytest.approx(best.value)
    exported = yaml.safe_load(open(result["config_file"]))
    assert exported["learning_rate"] == best.point["learning_rate"]
    assert not any(k.startswith(("search", "params_file", "asha_")) for k in exported)
    folder = isolated_run / "saved" / "search"
    (search_dir,) = folder.iterdir()
    assert (search_dir / "trajectory.png").exists()
    reproduced = run_recbole_automl(config_file_list=[result["config_file"]])
    assert reproduced["test_result"] == result["test_result"]


def test_hyper_search_with_asha_stops_bad_trials_and_resumes(isolated_run):
    config = hyper_config(isolated_run, search_trials=3, search_strategy="random")
    first = run_recbole_automl(model="BPR", config_dict=config)["trials"]
    assert any(t.epochs < 4 for t in first), "ASHA stopped no trial"
    config["search_trials"] = 4  # a larger budget extends the same search
    again = run_recbole_automl(model="BPR", config_dict=config)["trials"]
    assert again[:3] == first  # read from the journal, not trained again
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    assert len(Journal(search_dir / "journal.jsonl").load()) == 4


def test_a_failing_trial_is_recorded_and_the_search_goes_on(isolated_run):
    space = {"embedding_size": {"choice": [8, -3]}}
    config = hyper_config(isolated_run, space, search_strategy="grid")
    result = run_recbole_automl(model="BPR", config_dict=config)
    failed = [t for t in result["trials"] if not t.complete]
    assert len(failed) == 1 and failed[0].point == {"embedding_size": -3} and failed[0].error
    assert result["best_params"] == {"embedding_size": 8}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"search": "bayes"}, "'search' must be one of"),
        ({"search_strategy": "bayes"}, r"'search_strategy' must be one of \['tpe', 'random'"),
        ({"search_scheduler": "hyperband"}, r"'search_scheduler' must be one of \['asha'"),
        ({"search_executor": "spark"}, r"'search_executor' must be one of \['local', 'ray'\]"),
        ({"params_file": None}, "'params_file' is required"),
        ({"params_file": "missing.yaml"}, "'params_file': cannot read"),
    ],
)
def test_bad_search_settings_name_the_key(isolated_run, overrides, message):
    config = {**hyper_config(isolated_run), **overrides}
    with pytest.raises(ConfigError, match=message):
        run_recbole_automl(model="BPR", config_dict=config)


def test_cli_searches_hyper_parameters_and_prints_the_exported_config(isolated_run):
    from conftest import TEST_DATA
    from test_foundation import _cli

    space = write(isolated_run / "space.yaml", {"learning_rate": {"loguniform": [1e-3, 1e-1]}})
    proc = _cli(
        "--model=BPR", "--dataset=tiny", f"--data_path={TEST_DATA}", "--search=hyper",
        f"--params_file={space}", "--search_trials=2", "--workers=1", "--epochs=2",
        "--use_gpu=False", "--show_progress=False",
        cwd=isolated_run,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "best hyper-parameters" in output and "best.yaml" in output and "test result" in output


def test_forked_workers_run_a_round_of_trials_at_once_with_asha(isolated_run):
    config = hyper_config(isolated_run, search_trials=4, search_workers=2)
    trials = run_recbole_automl(model="BPR", config_dict=config)["trials"]
    assert [t.round for t in trials] == [0, 0, 1, 1] and all(t.complete for t in trials)
