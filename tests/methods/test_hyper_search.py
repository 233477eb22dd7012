"""The hyper-parameter search of any model (search: hyper), end to end."""

import pytest
import yaml
from conftest import hyper_config, write_yaml

from recbole_automl import ConfigError, run_recbole_automl
from recbole_automl.search import (
    Journal,
)


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

    space = write_yaml(isolated_run / "space.yaml", {"learning_rate": {"loguniform": [1e-3, 1e-1]}})
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
    assert [t.round for t in trials] == [0, 0, 1, 1] and all(t.scored for t in trials)
