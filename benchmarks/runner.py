"""What the method benchmarks share: one (variant, seed) run per process, recorded as a JSON
line, skipped when already recorded (a killed benchmark resumes)."""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def add_run_arguments(parser):
    """``--seeds``, ``--table`` (only rebuild the tables) and the hidden ``--run-one``."""
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--table", action="store_true", help="only rebuild the tables")
    parser.add_argument("--run-one", nargs=2, metavar=("LABEL", "SEED"), help=argparse.SUPPRESS)


def mean_std(values, scale=1.0):
    """``"mean ± std"`` of ``values`` (times ``scale``), for a table cell."""
    values = np.asarray(values, dtype=float) * scale
    return f"{values.mean():.4f} ± {values.std():.4f}"


def load_records(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def train_and_record(label, model, seed, config_files=None, overrides=None):
    """Train and test ``model`` on ml-100k in this process; print its record for the parent."""
    sys.path.insert(0, ROOT)
    from recbole_automl import Config
    from recbole_automl.quick_start import train_and_test

    start = time.perf_counter()
    config = Config(
        model=model,
        dataset="ml-100k",
        config_file_list=config_files,
        config_dict={**(overrides or {}), "seed": seed, "show_progress": False},
        read_cmd_line=False,
    )
    result = train_and_test(config, verbose=False)
    record = {
        "label": label,
        "seed": seed,
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
        "wall_s": round(time.perf_counter() - start, 1),
        "params": sum(p.numel() for p in result["model"].parameters() if p.requires_grad),
        "search": result["search"],
    }
    print("RECORD " + json.dumps(record))


def run_jobs(script, script_args, jobs, path, workdir, on_record=None, key="label"):
    """Run ``script *script_args --run-one LABEL SEED`` for each (label, seed) not in ``path``.

    Each record gets the command that reproduces it and is appended to ``path``;
    ``on_record()`` is called after each (to rebuild tables). ``key`` is the record field
    that holds the label.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    done = {(r[key], r["seed"]) for r in load_records(path)}
    command = f"python benchmarks/{os.path.basename(script)} " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if not a.startswith("--run-one")
    )
    for label, seed in jobs:
        if (label, seed) in done:
            continue
        cmd = [sys.executable, os.path.abspath(script), *script_args, "--run-one", label, str(seed)]
        print(
            f"[{time.strftime('%H:%M:%S')}] {' '.join(script_args)} {label} seed {seed}", flush=True
        )
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RECORD ")]
        if proc.returncode != 0 or not lines:
            print(f"  failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
            continue
        record = json.loads(lines[-1][len("RECORD ") :])
        record["command"] = command
        print(f"  test {record['test']} in {record['wall_s']} s", flush=True)
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if on_record is not None:
            on_record()
