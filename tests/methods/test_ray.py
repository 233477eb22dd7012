"""Ray Tune as the executor: a local Ray with 2 workers runs searches end to end."""

import pytest
from conftest import autocf_search_config, hyper_config

from recbole_automl import run_recbole_automl
from recbole_automl.search import Journal

ray = pytest.importorskip("ray", reason="Ray is an optional install: pip install -e .[ray]")

RAY = {"search_executor": "ray", "search_workers": 2}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield
    ray.shutdown()


def test_hyper_search_runs_4_trials_on_2_ray_workers_and_resumes(isolated_run):
    config = hyper_config(isolated_run, search_trials=4, **RAY)
    result = run_recbole_automl(model="BPR", config_dict=config)
    trials = result["trials"]
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.scored for t in trials) and len({str(t.point) for t in trials}) == 4
    assert result["best_params"] == max(trials, key=lambda t: t.value).point
    assert "ndcg@10" in result["test_result"]
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    assert len(Journal(search_dir / "journal.jsonl").load()) == 4
    # Rerun: every trial comes from the journal, none is trained again.
    again = run_recbole_automl(model="BPR", config_dict=config)
    assert again["trials"] == trials and len(Journal(search_dir / "journal.jsonl").load()) == 4


def test_autocf_candidates_train_on_ray_workers(isolated_run):
    result = run_recbole_automl(model="AutoCF", config_dict=autocf_search_config(**RAY))
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert len(trials) == 4 and all(t.complete for t in trials)
    assert "ndcg@10" in result["test_result"]


def test_a_model_search_trains_its_candidates_on_ray_workers_and_resumes(isolated_run):
    from conftest import tiny_config

    config = tiny_config(search="models", search_models=["Pop", "EASE", "BPR"], search_trials=4,
                         epochs=2, search_ensemble=False, **RAY)  # fmt: skip
    result = run_recbole_automl(config_dict=config)
    trials = result["trials"]
    assert [t.point["model"] for t in trials[:3]] == ["Pop", "EASE", "BPR"]  # defaults first
    assert len(trials) == 4 and all(t.scored for t in trials)
    assert {r["model"] for r in result["leaderboard"]} == {"Pop", "EASE", "BPR"}
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    again = run_recbole_automl(config_dict=config)
    assert again["trials"] == trials and len(Journal(search_dir / "journal.jsonl").load()) == 4
