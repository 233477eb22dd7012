"""The benchmark scripts run end to end on tiny data and write real tables."""

import json
import os
import subprocess
import sys

from conftest import ROOT, TEST_DATA, tiny_config


def test_baseline_benchmark_writes_records_table_and_chart(tmp_path):
    out = tmp_path / "results"
    command = [
        sys.executable, os.path.join(ROOT, "benchmarks", "baselines.py"),
        "--task", "general", "--dataset", "tiny", "--data_path", TEST_DATA,
        "--models", "Pop", "BPR", "--seeds", "1", "2", "--results_dir", str(out),
        "--config_files", os.path.join(TEST_DATA, "bench_fast.yaml"),
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in open(out / "raw" / "tiny-general.jsonl")]
    assert [(r["model"], r["seed"]) for r in records] == [
        ("Pop", 1), ("Pop", 2), ("BPR", 1), ("BPR", 2)
    ]  # fmt: skip
    assert all(0 <= r["test"]["ndcg@10"] <= 1 and r["peak_rss_mib"] > 0 for r in records)
    table = (out / "tiny-general.md").read_text()
    assert "| BPR | 2" in table and "baselines.py" in table
    assert (out / "tiny-general.png").stat().st_size > 1000

    # A rerun skips what is recorded.
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert "seed" not in again.stdout
    assert len(open(out / "raw" / "tiny-general.jsonl").readlines()) == 4


def test_strategy_replay_uses_only_the_table_and_never_repeats(monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import autocf_search

    from recbole_automl.model.general_recommender.autocf import SPACE
    from recbole_automl.search import CategoricalSpace, Trial, point_key

    points = [[b] for b in list(CategoricalSpace(SPACE).grid())[:30]]
    table = {
        point_key(p): Trial(number=i, round=0, point=p, value=float(i % 7))
        for i, p in enumerate(points)
    }
    for strategy in ("random", "arsp"):
        trials = autocf_search.replay(table, strategy, seed=0, trials=20, k1=5, k2=10, bigger=True)
        keys = [point_key(t.point) for t in trials]
        assert len(keys) == 20 == len(set(keys)) and set(keys) <= set(table)
        assert all(t.value == table[point_key(t.point)].value for t in trials)


def test_hyper_replay_predicts_a_live_tpe_asha_search(isolated_run):
    """The hyper-parameter benchmark replays strategies on a trained grid; a live search
    must train the same points for the same epochs to the same scores."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import hyper_search

    from recbole_automl import run_recbole_automl
    from recbole_automl.search import HyperSpace, point_key

    space_file = isolated_run / "space.yaml"
    space_file.write_text(
        "learning_rate: {choice: [0.001, 0.01, 0.05]}\nembedding_size: {choice: [8, 16]}\n"
    )  # noqa: E501
    base = tiny_config(
        search="hyper", params_file=str(space_file), epochs=4, eval_step=1, stopping_step=10,
        tpe_startup_trials=2, asha_min_epochs=1, asha_reduction_factor=2,
    )  # fmt: skip
    grid = run_recbole_automl("BPR", config_dict={
        **base, "search_strategy": "grid", "search_scheduler": "none", "search_dir": "grid",
    })  # fmt: skip
    live = run_recbole_automl("BPR", config_dict={**base, "search_trials": 4, "search_dir": "live"})
    table = {point_key(t.point): t for t in grid["trials"]}
    replayed = hyper_search.replay(
        table, HyperSpace.from_file(str(space_file)), "TPE+ASHA", seed=base["seed"],
        asha={"min_epochs": 1, "reduction_factor": 2}, startup=2, max_epochs=4,
    )  # fmt: skip
    assert any(t.epochs < 4 for t in live["trials"]), "ASHA stopped nothing: a weak test"
    assert [(t.point, t.epochs, t.value) for _, t in replayed[:4]] == [
        (t.point, t.epochs, t.value) for t in live["trials"]
    ]
