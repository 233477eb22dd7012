"""Model selection (search: models), end to end on the tiny data."""

import pytest
import yaml
from conftest import ROOT, TEST_DATA, mean_predictor_rmse, tiny_config

from recbole_automl import ConfigError, load_data_and_model, run_recbole_automl
from recbole_automl.search import Journal

DEFAULTS = [  # each candidate at RecBole's defaults, in the order of search_models
    {"model": "Pop"},
    {"model": "EASE", "reg_weight": 250.0},
    {"model": "BPR", "learning_rate": 0.001, "embedding_size": 64},
]


def models_config(**overrides):
    search = {"search": "models", "search_models": ["Pop", "EASE", "BPR"], "search_trials": 5,
              "epochs": 2, "asha_min_epochs": 1, "asha_reduction_factor": 2,
              "search_ensemble": False}  # fmt: skip
    return tiny_config(**{**search, **overrides})


def test_each_candidate_trains_at_its_defaults_first_and_the_best_on_valid_is_exported(
    isolated_run,
):
    result = run_recbole_automl(config_dict=models_config())
    trials = result["trials"]
    assert [t.point for t in trials[:3]] == DEFAULTS
    assert len(trials) == 5 and all(t.scored for t in trials)
    assert [t.epochs for t in trials[:2]] == [1, 1]  # closed-form models: one epoch
    assert all(t.complete for t in trials[:3])  # ASHA halves within a model: defaults go on
    best = max(trials, key=lambda t: t.value)
    assert result["best_params"] == best.point
    assert result["best_valid_score"] == pytest.approx(best.value)  # the winner, retrained
    exported = yaml.safe_load(open(result["config_file"]))
    assert exported["model"] == best.point["model"] and exported["epochs"] == 2
    assert all(exported[k] == v for k, v in best.point.items())
    assert not any(k.startswith(("search", "asha_")) for k in exported)
    reproduced = run_recbole_automl(config_file_list=[result["config_file"]])
    assert reproduced["test_result"] == result["test_result"]


def test_the_leaderboard_has_every_model_best_first_with_its_cost(isolated_run):
    result = run_recbole_automl(config_dict=models_config())
    rows = result["leaderboard"]
    assert sorted(r["model"] for r in rows) == ["BPR", "EASE", "Pop"]
    assert [r["best"] for r in rows] == sorted((r["best"] for r in rows), reverse=True)
    assert sum(r["trials"] for r in rows) == 5
    assert sum(r["epochs"] for r in rows) == sum(t.epochs for t in result["trials"])
    for row in rows:
        scores = [t.value for t in result["trials"] if t.point["model"] == row["model"]]
        assert row["best"] == max(scores)
        (default,) = [p for p in DEFAULTS if p["model"] == row["model"]]
        assert row["defaults"] == next(t.value for t in result["trials"] if t.point == default)
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    text = (folder / "leaderboard.md").read_text()
    assert text.index(rows[0]["model"]) < text.index(rows[-1]["model"])
    assert (folder / "leaderboard.png").exists() and (folder / "trajectory.png").exists()


def test_a_model_search_resumes_and_the_same_seed_gives_the_same_search(isolated_run):
    config = models_config(search_trials=4)
    first = run_recbole_automl(config_dict=config)["trials"]
    config["search_trials"] = 5  # a larger budget extends the same search
    again = run_recbole_automl(config_dict=config)["trials"]
    assert again[:4] == first
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    assert len(Journal(folder / "journal.jsonl").load()) == 5
    fresh = run_recbole_automl(config_dict={**config, "search_dir": str(isolated_run / "b")})
    assert [(t.point, t.value) for t in fresh["trials"]] == [(t.point, t.value) for t in again]


def test_a_failing_candidate_is_recorded_and_the_search_goes_on(isolated_run, monkeypatch):
    import recbole_automl.methods.model_search as model_search

    spaces = {"Pop": {}, "BPR": {"embedding_size": {"choice": [-3]}}}
    monkeypatch.setattr(model_search, "model_space", spaces.get)
    config = models_config(search_models=["Pop", "BPR"], search_trials=2)
    result = run_recbole_automl(config_dict=config)
    failed = [t for t in result["trials"] if not t.scored]
    assert len(failed) == 1 and failed[0].point["model"] == "BPR" and failed[0].error
    assert result["best_params"] == {"model": "Pop"}
    (bpr,) = [r for r in result["leaderboard"] if r["model"] == "BPR"]
    assert bpr["failed"] == 1 and bpr["best"] is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"search_models": ["EASE", "Foo"]}, r"'search_models': \['Foo'\] have no space"),
        ({"search_models": []}, "'search_models' must be a list of models from"),
        ({"search_task": "implicit"}, r"'search_task' must be one of \['general', 'explicit'"),
        (
            {"search_task": "explicit", "search_models": ["FM"]},
            "'valid_metric': search_task explicit selects on one of \\['RMSE', 'MAE'\\], got",
        ),
        ({"model": "BPR"}, "'model': search: models chooses the model"),
        ({"search_strategy": "bayes"}, r"'search_strategy' must be one of \['tpe', 'random'"),
    ],
)
def test_bad_model_search_settings_name_the_key(isolated_run, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run_recbole_automl(config_dict={**models_config(), **overrides})


def test_a_model_search_takes_its_search_keys_from_no_candidate():
    from recbole_automl import Config

    config = Config(config_dict=models_config(search_models=["AutoCF", "EASE"]))
    assert config["search_strategy"] == "tpe" and config["search_scheduler"] == "asha"
    assert config["search_trials"] == 5 and config["search_grid_shuffle"] is False


def test_a_candidate_of_another_task_is_refused():
    from recbole_automl.methods.model_search import check_candidates

    with pytest.raises(ConfigError, match="'search_models': FM is a context model"):
        check_candidates(["EASE", "FM"], "general")


def test_every_default_candidate_starts_from_its_defaults_inside_its_space_and_trains(
    isolated_run,
):
    """The task's default list, one epoch each: every shipped space parses, every key is
    one its model reads, every model's defaults are a point of its space, and it trains."""
    from recbole_automl.methods.model_search import models_space
    from recbole_automl.search.tpe import vals_from_point
    from recbole_automl.spaces import task_models

    models = task_models()["general"]
    config = tiny_config(search="models", search_trials=len(models), epochs=1)
    result = run_recbole_automl(config_dict=config)
    trials = result["trials"]
    assert [t.point["model"] for t in trials] == models
    assert all(t.scored for t in trials), [t.error for t in trials if not t.scored]
    space = models_space(models)
    for trial in trials:
        vals_from_point(space, trial.point)  # raises if a value is not one of the space's


def test_cli_searches_models_and_prints_the_leaderboard(isolated_run):
    from test_foundation import _cli

    proc = _cli(
        "--dataset=tiny", f"--data_path={TEST_DATA}", "--search=models",
        "--search_models=Pop,EASE", "--search_trials=2", "--use_gpu=False",
        "--show_progress=False",
        cwd=isolated_run,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "leaderboard" in output and "best model" in output and "test result" in output


def test_an_ensemble_of_the_best_models_is_one_more_candidate_chosen_on_valid(
    isolated_run, monkeypatch
):
    from recbole_automl.trainer.ensemble_trainer import ModelEnsembleTrainer

    fits = []
    fit = ModelEnsembleTrainer.fit
    monkeypatch.setattr(ModelEnsembleTrainer, "fit", lambda *a, **k: fits.append(1) or fit(*a, **k))
    # on the tiny data, EASE and SLIMElastic together beat each alone; ItemKNN adds nothing
    config = models_config(search_ensemble=True, search_models=["ItemKNN", "EASE", "SLIMElastic"])
    result = run_recbole_automl(config_dict=config)
    rows = {r["model"]: r for r in result["leaderboard"]}
    single = max(t.value for t in result["trials"])
    assert rows["ModelEnsemble"]["best"] > single  # greedy, from the best member alone
    exported = yaml.safe_load(open(result["config_file"]))
    assert exported["model"] == "ModelEnsemble" == result["best_params"]["model"]
    assert [m["model"] for m in exported["ensemble_members"]] == ["EASE", "SLIMElastic"]
    assert len(exported["ensemble_weights"]) == 2
    assert result["best_valid_score"] == pytest.approx(rows["ModelEnsemble"]["best"])
    assert len(fits) == 1  # the members selection trained are the winner's, not trained again
    config, model, *_ = load_data_and_model(result["model_file"])  # its checkpoint reloads
    assert config["ensemble_members"] == exported["ensemble_members"] and len(model.members) == 2
    reproduced = run_recbole_automl(config_file_list=[result["config_file"]])
    assert reproduced["best_valid_result"] == result["best_valid_result"]
    assert reproduced["test_result"] == result["test_result"]
    assert len(fits) == 2


def test_forked_workers_train_a_round_of_candidates_at_once(isolated_run):
    config = models_config(search_trials=4, search_workers=2)
    trials = run_recbole_automl(config_dict=config)["trials"]
    assert [t.round for t in trials] == [0, 0, 1, 1] and all(t.scored for t in trials)
    assert [t.point for t in trials[:3]] == DEFAULTS


def test_a_ctr_model_search_compares_context_models_on_auc(isolated_run):
    from conftest import CTR_CONFIG_FILE

    from recbole_automl.methods.model_search import models_space
    from recbole_automl.search.tpe import vals_from_point
    from recbole_automl.spaces import task_models

    models = task_models()["ctr"]
    # PEP prunes to its targets on the tiny data from a high threshold (sigmoid(-1) = 0.27)
    config = tiny_config(
        search="models", search_task="ctr", search_trials=8, epochs=2, threshold_init=-1.0
    )
    result = run_recbole_automl(config_file_list=[CTR_CONFIG_FILE], config_dict=config)
    assert [t.point["model"] for t in result["trials"][: len(models)]] == models
    space = models_space(models)
    for trial in result["trials"]:
        vals_from_point(space, trial.point)  # each default is a point of its space
    assert all(t.scored for t in result["trials"]), [t.error for t in result["trials"]]
    assert "ModelEnsemble" not in [r["model"] for r in result["leaderboard"]]
    best = max(result["trials"], key=lambda t: t.value)
    assert result["best_params"] == best.point
    assert set(result["test_result"]) == {"auc", "logloss"}
    reproduced = run_recbole_automl(config_file_list=[result["config_file"]])
    assert reproduced["test_result"] == result["test_result"]


def test_an_explicit_model_search_compares_rating_models_on_rmse(isolated_run):
    """search_task explicit: every default candidate trains at its defaults on ratings
    (configs/explicit.yaml), the best valid RMSE wins and beats predicting the mean."""
    from recbole_automl.methods.model_search import models_space
    from recbole_automl.search.tpe import vals_from_point
    from recbole_automl.spaces import task_models

    models = task_models()["explicit"]
    config = tiny_config(search="models", search_task="explicit", search_trials=6, epochs=3,
                         search_epochs=2)  # fmt: skip
    explicit = f"{ROOT}/configs/explicit.yaml"
    result = run_recbole_automl(config_file_list=[explicit], config_dict=config)
    trials = result["trials"]
    assert [t.point["model"] for t in trials[: len(models)]] == models
    assert all(t.scored for t in trials), [t.error for t in trials]
    assert "loss_type" not in trials[models.index("AutoCF")].point  # MSE, the user's
    space = models_space(models, "explicit")
    for trial in trials:
        vals_from_point(space, trial.point)
    assert result["best_valid_score"] == min(t.value for t in trials)
    assert set(result["test_result"]) == {"rmse", "mae"}
    assert result["test_result"]["rmse"] < mean_predictor_rmse()


def test_a_model_search_can_be_budgeted_in_trial_epochs(isolated_run):
    """search_trial_epochs ends the search once its trials trained that many epochs."""
    config = models_config(search_trials=None, search_trial_epochs=3)
    trials = run_recbole_automl(config_dict=config)["trials"]
    assert [t.point for t in trials] == DEFAULTS  # Pop and EASE 1 epoch each, BPR 2
    assert [t.epochs for t in trials] == [1, 1, 2]
