"""The benchmark scripts run end to end on tiny data and write real tables."""

import json
import os
import re
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
    assert re.search(r"\| BPR \| \d{8}-\d{6} \| 2 \| ", table) and "baselines.py" in table
    assert all(re.fullmatch(r"\d{8}-\d{6}", r["run"]) and r["machine"] for r in records)
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


def test_joint_strategy_replay_draws_table_points_with_their_hyper_parameters():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import autocf_search
    import numpy as np

    from recbole_automl.search import Trial, point_key

    space = autocf_search.table_space("joint")
    rng = np.random.default_rng(0)
    points = [space.sample(rng) for _ in range(30)]
    assert {"architecture", "embedding_size", "learning_rate"} <= set(points[0])
    table = {
        point_key(p): Trial(number=i, round=0, point=p, value=p["learning_rate"])
        for i, p in enumerate(points)
    }
    for strategy in ("random", "arsp"):
        trials = autocf_search.replay(table, strategy, 0, 20, 5, 10, True, space)
        keys = [point_key(t.point) for t in trials]
        assert len(keys) == 20 == len(set(keys)) and set(keys) <= set(table)


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


def _benchmarks():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def _general(model, seed, ndcg, run, row=None, **extra):
    metrics = {"ndcg@10": ndcg, "recall@10": ndcg / 2}
    return {
        "run": run, "row": row or model, "model": model, "seed": seed, "valid": metrics,
        "test": metrics, "wall_s": 1.0, "peak_rss_mib": 1, "params": 10, "command": "c", **extra,
    }  # fmt: skip


def test_baseline_table_keeps_a_rerun_as_its_own_row_and_names_its_runs():
    _benchmarks()
    import baselines

    records = [
        _general("BPR", 1, 0.2, "r1"), _general("BPR", 2, 0.4, "r1"),
        _general("AutoCF", 1, 0.1, "r1", "AutoCF (search_time 480 s)"),
        _general("AutoCF", 1, 0.3, "r2", "AutoCF (search_time 480 s)"),
        _general("AutoCF", 1, 0.5, "r3", protocol={"search_trials": 40}),
        _general("AutoCF", 2, 0.7, "r4", protocol={"search_trials": 40}),  # r3, resumed
        {k: v for k, v in _general("Pop", 1, 0.05, "x").items() if k not in ("run", "row")},
    ]  # fmt: skip
    lines, chart = baselines.table_lines(records, "general", "fake", "protocol")
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "---" not in line]
    body = {(r[0][2:], r[1]): r for r in rows[1:]}
    assert list(body) == [
        ("Pop", "unknown"), ("BPR", "r1"), ("AutoCF (search_time 480 s)", "r1"),
        ("AutoCF (search_time 480 s)", "r2"), ("AutoCF", "r3+r4"),
    ]  # fmt: skip
    ndcg = rows[0].index("test ndcg@10")
    assert body[("BPR", "r1")][ndcg] == "0.3000 ± 0.1000" and body[("BPR", "r1")][2] == "2"
    assert body[("AutoCF (search_time 480 s)", "r2")][ndcg] == "0.3000 ± 0.0000"
    assert body[("AutoCF", "r3+r4")][-1].strip(" |") == "search_trials 40"
    assert body[("AutoCF", "r3+r4")][ndcg] == "0.6000 ± 0.1000"
    note = "r1 (3 records), r2 (1 records), r3 (1 records), r4 (1 records), unknown (1 records)"
    assert note in "\n".join(lines)
    assert len(chart) == 5


def test_pep_time_counts_one_search_per_seed_not_the_reused_ones():
    _benchmarks()
    import pep

    def run(label, seed, auc, search=None, wall=10.0):
        return {"label": label, "seed": seed, "test": {"auc": auc}, "wall_s": wall,
                "search": search}  # fmt: skip

    def searched(seconds, nonzero):
        return {"search_seconds": seconds, "retrain_seconds": 20.0,
                "embedding_nonzero": nonzero, "embedding_total": 100}  # fmt: skip

    records = [
        run("FM d=64", 1, 0.78), run("FM d=64", 2, 0.78), run("FM d=64", 3, 0.78),
        run("PEP-FM 0.5", 1, 0.78, searched(30.0, 50)),
        run("PEP-FM 0.1", 1, 0.77, searched(0.004, 10)),
        run("PEP-FM 0.5", 2, 0.78, searched(0.0, 50)),
        run("PEP-FM 0.1", 2, 0.77, searched(10.0, 10)),
    ]  # fmt: skip
    text = "\n".join(pep._goal_lines(records, "FM"))
    # 0.1's search is its seed's (30 s on seed 1, 10 s on seed 2): mean (20 + 20) / 10 s.
    row = "| 0.1 | 0.01 | elements | rewind | 2 | 90.0% | -0.0100 | no | - | d=8: - | - |"
    assert row + " 4.00x (20 + 20 s) |" in text
    # Seed 3's masks were searched twice (the first run's not kept): one search, not two.
    records += [run("PEP-FM 0.5", 3, 0.78, searched(30.0, 50)),
                run("PEP-FM 0.1", 3, 0.77, searched(30.0, 10))]  # fmt: skip
    text = "\n".join(pep._goal_lines(records, "FM"))
    assert "| 3 | 90.0% | -0.0100 | no | - | d=8: - | - | 4.33x (23 + 20 s) |" in text


def test_pep_rows_compare_on_the_seeds_their_pep_runs_have():
    # PEP ran seed 1 only: the full model, MAG and the uniform size are taken on seed 1
    # too (over both seeds the full model would be 0.75, and PEP seemingly above it).
    _benchmarks()
    import pep

    def run(label, seed, auc, nonzero=None):
        search = None if nonzero is None else {
            "search_seconds": 1.0, "retrain_seconds": 1.0, "embedding_nonzero": nonzero,
            "embedding_total": 100,
        }  # fmt: skip
        return {"label": label, "seed": seed, "test": {"auc": auc}, "wall_s": 1.0,
                "search": search}  # fmt: skip

    records = [
        run("FM d=64", 1, 0.80), run("FM d=64", 2, 0.70), run("PEP-FM 0.1", 1, 0.79, 10),
        run("MAG-FM 0.1", 1, 0.78, 10), run("FM d=8", 1, 0.785), run("FM d=8", 2, 0.60),
    ]  # fmt: skip
    text = "\n".join(pep._goal_lines(records, "FM"))
    row = "| 0.1 | 0.01 | elements | rewind | 1 | 90.0% | -0.0100 | no | -0.0200 | d=8: -0.0150 |"
    assert row + " yes | 2.00x (1 + 1 s) |" in text  # (search 1 s + retraining 1 s) / d=64's 1 s


def test_autocross_goals_compare_on_shared_seeds_and_beyond_the_spread():
    # LR + AutoCross ran seeds 1 and 2, FM seed 1 only: the goal is taken on seed 1. DeepFM
    # + AutoCross is above DeepFM on the mean, by less than DeepFM's spread: not met.
    _benchmarks()
    import autocross

    def runs(label, *aucs):
        return [{"label": label, "seed": s, "test": {"auc": a}} for s, a in enumerate(aucs, 1)]

    by = {"LR + AutoCross": runs("LR + AutoCross", 0.80, 0.60), "FM": runs("FM", 0.79),
          "DeepFM + AutoCross": runs("DeepFM + AutoCross", 0.82, 0.80),
          "DeepFM": runs("DeepFM", 0.83, 0.78)}  # fmt: skip
    text = "\n".join(autocross._goal_lines(by))
    assert "| LR + AutoCross >= FM | 1 | 0.8000 | 0.7900 | - | yes (+0.0100) |" in text
    assert "| DeepFM + AutoCross > DeepFM | 2 | 0.8100 | 0.8050 | 0.0250 | no (+0.0050) |" in text


def test_sif_compares_with_the_best_single_operation_only():
    _benchmarks()
    import sif

    def run(label, valid, test):
        search = {"interaction": "minus", "search_epochs": 10, "search_seconds": 10.0,
                  "retrain_seconds": 10.0} if label == "SIF" else None  # fmt: skip
        return {"label": label, "seed": 1, "valid": {"rmse": valid}, "test": {"rmse": test},
                "search": search, "wall_s": 40.0 if search else 10.0}  # fmt: skip

    records = [
        run("SIF", 0.30, 0.30), run("SIF[multiply]", 0.25, 0.26), run("SIF[minus]", 0.27, 0.27),
        run("SIF[multiply] + user/item offsets", 0.20, 0.21),
    ]  # fmt: skip
    (row,) = sif._search_lines(records, sif.TASKS["explicit"])[2:]
    assert "| multiply (1.0400) |" in row and "| 1.2000 |" in row and "offsets" not in row
    assert "| 4.0 |" in row  # wall: 4x SIF[multiply]'s


# Every committed table, and the command that rebuilds it from the committed raw records
# alone (no training). Replays of recorded grids (strategies, hyper, hyper-asha) take
# minutes and are covered by the replay tests above.
REBUILD = {
    "ml-100k-general.md": ["baselines.py", "--task", "general", "--table"],
    "ml-100k-ctr.md": ["baselines.py", "--task", "ctr", "--table"],
    "ml-100k-explicit.md": ["baselines.py", "--task", "explicit", "--table"],
    "ml-100k-kg.md": ["baselines.py", "--task", "kg", "--table"],
    "ml-1m-pep.md": ["pep.py", "--dataset", "ml-1m", "--table"],
    "ml-100k-anytime.md": ["anytime.py", "--table"],
    "ml-1m-general.md": ["baselines.py", "--task", "general", "--dataset", "ml-1m", "--table"],
    "synth-100k-general.md": ["baselines.py", "--dataset", "synth-100k", "--table"],
    "ml-1m-ctr.md": ["baselines.py", "--task", "ctr", "--dataset", "ml-1m", "--table"],
    "ml-100k-sif.md": ["sif.py", "--table"],
    "ml-1m-sif.md": ["sif.py", "--dataset", "ml-1m", "--table"],
    "ml-100k-pep.md": ["pep.py", "--table"],
    "ml-100k-lambdaopt.md": ["lambdaopt.py", "--table"],
    "ml-1m-lambdaopt.md": ["lambdaopt.py", "--dataset", "ml-1m", "--table"],
    "ml-100k-autocross.md": ["autocross.py", "--table"],
    "ml-1m-autocross.md": ["autocross.py", "--dataset", "ml-1m", "--table"],
    "ml-100k-autocross-token-seq.md": ["autocross_token_seq.py", "--table"],
    "ml-100k-autocf-overhead.md": ["autocf_overhead.py", "--table"],
    "ml-100k-autocf-workers.md": ["autocf_search.py", "workers", "--table"],
    "ml-100k-autocf-space.md": ["autocf_search.py", "space"],
    "ml-100k-hyper-ray-workers.md": ["hyper_search.py", "workers", "--table"],
    "ml-100k-determinism.md": ["determinism.py", "--table"],
    "ml-100k-autocf-diagnosis.md": ["autocf_diagnosis.py", "--table"],
    "ml-100k-autocf-joint.md": ["autocf_joint.py", "--table"],
    "scale.md": ["scale.py", "table"],
}
REPLAYED = {
    "ml-100k-autocf-strategies.md", "ml-100k-autocf-strategies-joint.md", "ml-100k-hyper.md",
    "ml-100k-hyper-asha.md", "ml-100k-hyper-asha-extrapolation.md",
}  # fmt: skip


def test_every_committed_table_is_rebuilt_from_committed_records(tmp_path):
    results = os.path.join(ROOT, "benchmarks", "results")
    tables = {f for f in os.listdir(results) if f.endswith(".md")}
    assert tables - set(REBUILD) - REPLAYED == set(), "a table no script rebuilds"
    env = {**os.environ, "BENCHMARK_TABLES": str(tmp_path)}

    def text(path):
        return re.sub(r"Table written \d{4}-\d{2}-\d{2}", "", open(path).read())

    for name, command in REBUILD.items():
        if name not in tables:
            continue
        script = os.path.join(ROOT, "benchmarks", command[0])
        proc = subprocess.run(
            [sys.executable, script, *command[1:]], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert text(tmp_path / name) == text(os.path.join(results, name)), name


def test_a_job_another_invocation_recorded_meanwhile_is_not_run_again(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import runner

    path = tmp_path / "raw" / "records.jsonl"
    calls = []
    real_run = subprocess.run

    def fake_run(cmd, **kwargs):
        if "--run-one" not in cmd:  # the machine's description
            return real_run(cmd, **kwargs)
        label, seed = cmd[-2], int(cmd[-1])
        calls.append((label, seed))
        # Meanwhile another invocation of the benchmark records job (b, 1).
        runner.append_record(str(path), {"label": "b", "seed": 1, "test": {}})
        record = {"label": label, "seed": seed, "test": {}, "wall_s": 1.0}
        return subprocess.CompletedProcess(cmd, 0, "RECORD " + json.dumps(record), "")

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    runner.run_jobs("bench.py", [], [("a", 1), ("b", 1)], str(path), str(tmp_path / "work"))
    assert calls == [("a", 1)]
    labels = [json.loads(line)["label"] for line in open(path)]
    assert sorted(labels) == ["a", "b"]


def test_baseline_row_of_runs_timed_unalike_says_so():
    _benchmarks()
    import baselines

    records = [
        _general("EASE", 1, 0.3, "r1"),  # recorded before autograd_anomaly was: on
        _general("EASE", 2, 0.3, "r2", autograd_anomaly=False),
        _general("BPR", 1, 0.2, "r1", autograd_anomaly=False),
    ]
    lines, _ = baselines.table_lines(records, "general", "fake", "protocol")
    (ease,) = [line for line in lines if line.startswith("| EASE |")]
    (bpr,) = [line for line in lines if line.startswith("| BPR |")]
    assert "(timed unalike: 1 of 2 with anomaly detection on)" in ease and "unalike" not in bpr


def test_a_search_begun_by_an_earlier_process_marks_its_run_resumed(tmp_path):
    # The run's wall time then counts the last process only: its record says resumed.
    _benchmarks()
    import baselines

    journal = tmp_path / "journal.jsonl"
    journal.write_text(
        '{"number": 0, "round": 0, "point": {}, "started": 100.0}\n'
        '{"number": 1, "round": 0, "point": {}, "started": 200.0}\n'
    )
    search = {"folder": str(tmp_path)}
    assert baselines.search_resumed(search, started=150.0)
    assert not baselines.search_resumed(search, started=50.0)
    assert not baselines.search_resumed({"folder": str(tmp_path / "none")}, started=150.0)
    assert not baselines.search_resumed(None, started=150.0)
