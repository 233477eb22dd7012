"""What the benchmarks share: one (variant, seed) run per process, recorded as a JSON line
with the id of the run (one invocation of a script) that made it, skipped when already
recorded (a killed benchmark resumes). Records are only ever appended: a rerun of a changed
protocol is a new row, never a replacement, and every table says which runs it shows."""

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Where tables (.md, .png) are written: results/, or $BENCHMARK_TABLES (a test rebuilds every
# table from the committed records there and compares). Records always live in results/raw.
TABLES = os.environ.get("BENCHMARK_TABLES") or os.path.join(HERE, "results")
# One id per invocation of a benchmark script: every record it appends carries it.
RUN_ID = time.strftime("%Y%m%d-%H%M%S")


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
    """The records of a JSON-lines file, with the fields that records written before they
    carried them get from ``raw/legacy.json`` (run id, machine, table row, budget); the
    file's lines themselves are never rewritten."""
    if not os.path.exists(path):
        return []
    legacy_path = os.path.join(os.path.dirname(path), "legacy.json")
    defaults, lines = {}, {}
    if os.path.exists(legacy_path):
        with open(legacy_path) as f:
            legacy = json.load(f)
        lines = legacy["lines"].get(os.path.basename(path), {})
        defaults = legacy["defaults"]
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [
        record if "run" in record else {**defaults, **lines.get(str(i), {}), **record}
        for i, record in enumerate(records)
    ]


def machine():
    """This machine in a few words: CPU, cores, Python, torch."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    python = platform.python_version()
    threads = torch.get_num_threads()  # fewer than the cores: OMP_NUM_THREADS was set
    cores = f"{os.cpu_count()} cores" + (
        f" ({threads} torch thread(s))" if threads < os.cpu_count() else ""
    )
    return f"{cpu}, {cores}, Python {python}, torch {torch.__version__}"


def anomaly_detection():
    """Whether the plugin's processes train with autograd's anomaly detection on: True for
    every record made before 2026-12-05, when RecBole's sine.py turned it on in each of
    them (recbole_automl/compat.py now leaves it off); wall times made with it on are slower
    (a SIF search on ml-100k ratings 2x, its element-wise networks' training 3.5x) and are
    compared only with each other."""
    sys.path.insert(0, ROOT)
    import torch

    import recbole_automl  # noqa: F401  (the same imports as a benchmark's run)

    return torch.is_anomaly_enabled()


# The label suffix of a row run again for its time once anomaly detection was off.
RETIMED = " (anomaly detection off)"


def timed_with_anomaly(record):
    """Whether ``record`` was timed with anomaly detection on (``autograd_anomaly``; absent,
    so on, in the records made before it was recorded)."""
    return record.get("autograd_anomaly", True)


def same_timing(record, others):
    """The records of ``others`` timed as ``record`` was (anomaly detection on or off)."""
    mode = timed_with_anomaly(record)
    return [r for r in others if timed_with_anomaly(r) == mode]


def checkpoint_dir(name):
    """``saved/<name>``, with every run of non-word characters of ``name`` a hyphen: the
    checkpoint folder of a row (or a row and seed) of its own, so that rows never resume
    each other's searches."""
    return os.path.join("saved", re.sub(r"\W+", "-", name))


def append_record(path, record):
    """Append ``record`` to the JSON-lines file ``path``, stamped with this run's id, machine
    and whether anomaly detection was on (a table rebuilt later says where and when its
    numbers were made, and compares times made alike)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    record = {"run": RUN_ID, "machine": machine(), "autograd_anomaly": anomaly_detection(),
              **record}  # fmt: skip
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def by_run(records):
    """``{run id: [its records]}``, runs in the order they first appear."""
    runs = {}
    for record in records:
        runs.setdefault(record.get("run", "unknown"), []).append(record)
    return runs


def portable(command):
    """``command`` with a path into a checkout's benchmarks/ (``--config_files
    /somewhere/benchmarks/configs/x.yaml``) written from the repository root, as a fresh
    clone runs it."""
    words = [
        "benchmarks/" + w.split("/benchmarks/", 1)[1] if w.startswith("/") and "/benchmarks/" in w
        else w
        for w in shlex.split(command)
    ]  # fmt: skip
    return " ".join(shlex.quote(w) for w in words)


def command_lines(records):
    """Every distinct command of ``records``, portable, indented as a Markdown code block."""
    return [f"    {c}" for c in dict.fromkeys(portable(r["command"]) for r in records)]


def reproduce_lines(records):
    """The table's "Reproduce:" block: every distinct command of its records."""
    return ["Reproduce:", "", *command_lines(records), ""]


def write_lines(name, lines):
    """Write a table's lines to ``TABLES/name``; return them."""
    with open(os.path.join(TABLES, name), "w") as f:
        f.write("\n".join(lines))
    return lines


def runs_note(records):
    """What a table prints under its title: the runs it shows (their ids start with the
    date, YYYYMMDD), how many records each, and the machines they ran on."""
    runs, machines = {}, {}
    for record in records:
        run = record.get("run", "unknown")
        runs[run] = runs.get(run, 0) + 1
        machines.setdefault(record.get("machine", "not recorded"), None)
    shown = ", ".join(f"{run} ({n} records)" for run, n in runs.items())
    return f"Runs shown (raw records' run ids): {shown}. Machine: {'; '.join(machines)}."


def train_and_record(
    label, model, seed, config_files=None, overrides=None, extra=None, dataset="ml-100k"
):
    """Train and test ``model`` on ``dataset`` in this process; print its record for the
    parent (plus ``extra(result)``, a dict of more fields)."""
    sys.path.insert(0, ROOT)
    from recbole_automl import Config
    from recbole_automl.quick_start import train_and_test

    start = time.perf_counter()
    config = Config(
        model=model,
        dataset=dataset,
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
        **(extra(result) if extra else {}),
    }
    print("RECORD " + json.dumps(record))


def ease_valid(seeds):
    """EASE's validation NDCG@10 in the ml-100k general table's records, per seed: the line
    the AutoCF benchmarks compare with."""
    path = os.path.join(HERE, "results", "raw", "ml-100k-general.jsonl")
    records = [r for r in load_records(path) if r.get("row", r["model"]) == "EASE"]
    return {r["seed"]: r["valid"]["ndcg@10"] for r in records if r["seed"] in seeds}


def run_and_tabulate(script, args, jobs, path, write_table):
    """Run the ``(label, seed)`` jobs not yet in ``path`` (unless ``--table``), rebuilding
    the table with ``write_table(records)`` after each; print the table."""
    if not args.table:
        run_jobs(script, [], jobs, path, os.path.join(HERE, ".work"),
                 lambda: write_table(load_records(path)))  # fmt: skip
    print("\n".join(write_table(load_records(path))))


def run_jobs(script, script_args, jobs, path, workdir, on_record=None, key="label"):
    """Run ``script *script_args --run-one LABEL SEED`` for each (label, seed) not in ``path``.

    Each record gets the command that reproduces it and is appended to ``path``;
    ``on_record()`` is called after each (to rebuild tables). ``key`` is the record field
    that holds the label.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    done = {(r[key], r["seed"]) for r in load_records(path)}
    command = portable(
        f"python benchmarks/{os.path.basename(script)} "
        + " ".join(shlex.quote(a) for a in sys.argv[1:] if not a.startswith("--run-one"))
    )
    for label, seed in jobs:
        # Records are read again before each job: another invocation may have run it since.
        done |= {(r[key], r["seed"]) for r in load_records(path)}
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
        print(f"  test {record.get('test', '-')} in {record.get('wall_s', '-')} s", flush=True)
        append_record(path, record)
        if on_record is not None:
            on_record()
