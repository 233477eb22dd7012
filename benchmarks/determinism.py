"""Same seed, same command: the same AutoCF search on ml-100k, however busy the machine.

Runs one AutoCF search command three ways, each in its own process and search folder:
``fresh``; ``under load`` (the same command while two busy-loop processes take the CPU);
``killed and resumed`` (``kill -9`` once the journal holds half the candidates, then the same
command again, which resumes from the journal). Each run's journal (points and validation
scores) and final test result are recorded in ``results/raw/ml-100k-determinism.jsonl``;
the table compares every run with the fresh one of its invocation.

Example:
    python benchmarks/determinism.py --trials 12 --search_epochs 2
"""

import argparse
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    append_record,
    by_run,
    load_records,
    reproduce_lines,
    runs_note,
    write_lines,
)

RECORDS = os.path.join(HERE, "results", "raw", "ml-100k-determinism.jsonl")
WORK = os.path.join(HERE, ".work", "determinism")


def _busy():
    while True:
        pass


def _command(args, folder):
    return [
        sys.executable, os.path.join(ROOT, "run_recbole_automl.py"), "--model=AutoCF",
        "--dataset=ml-100k", f"--search_trials={args.trials}",
        f"--search_epochs={args.search_epochs}", "--epochs=2", f"--search_dir={folder}",
        "--show_progress=False",
        # AutoCF's defaults when its records were made (pinned):
        "--loss_type=BPR", "--search_presets=['MF', 'FISM', 'NeuMF', 'SVD++']",
    ]  # fmt: skip


def _journal(folder):
    with open(os.path.join(folder, "journal.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [[r["point"], r["value"]] for r in records]


def _run(args, folder, kill_after=None):
    """Run the command (killing it once ``kill_after`` candidates are journaled, then
    rerunning it); return the test NDCG@10 the last run printed."""
    if kill_after is not None:
        proc = subprocess.Popen(_command(args, folder), cwd=WORK, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        journal = os.path.join(folder, "journal.jsonl")
        while proc.poll() is None:
            if os.path.exists(journal) and len(open(journal).readlines()) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.2)
        proc.wait()
    out = subprocess.run(_command(args, folder), cwd=WORK, capture_output=True, text=True)
    lines = [x for x in (out.stdout + out.stderr).splitlines() if "test result" in x]
    return lines[-1].split("test result")[-1].strip(" :\x1b[0m") if lines else out.stderr[-300:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--search_epochs", type=int, default=2)
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    if not args.table:
        os.makedirs(WORK, exist_ok=True)
        command = (
            f"python benchmarks/determinism.py --trials {args.trials} "
            f"--search_epochs {args.search_epochs}"
        )
        stamp = int(time.time())
        for variant in ("fresh", "under load", "killed and resumed"):
            folder = os.path.join(WORK, f"{stamp}-{variant.replace(' ', '-')}")
            load = []
            if variant == "under load":
                load = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(2)]
                for p in load:
                    p.start()
            kill_after = args.trials // 2 if variant == "killed and resumed" else None
            test = _run(args, folder, kill_after)
            for p in load:
                p.terminate()
            append_record(RECORDS, {
                "variant": variant, "trials": args.trials, "search_epochs": args.search_epochs,
                "journal": _journal(folder), "test": test, "command": command,
            })  # fmt: skip
    print("\n".join(write_table(load_records(RECORDS))))


def _ndcg(test):
    """NDCG@10 from the test result line the command printed."""
    found = re.search(r"'ndcg@10', (?:np\.float64\()?([0-9.]+)", test)
    return found.group(1) if found else "-"


def write_table(records):
    lines = [
        "# Same seed, same command: one AutoCF search three ways (ml-100k)",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "",
        "The same `run_recbole_automl.py --model=AutoCF` search (candidates x search epochs,",
        "then a 2-epoch retrain and the test), fresh; while two busy-loop processes load the",
        "2 cores; and killed with SIGKILL after half the candidates, then rerun (it resumes",
        "from the journal). Each is compared with the fresh run of the same invocation.",
        "",
        *reproduce_lines(records),
        "| run | variant | candidates x epochs | candidates identical to fresh (point and score) "
        "| same test result as fresh | test NDCG@10 |",
        "|---|---|---|---|---|---|",
    ]
    for run, rows in by_run(records).items():
        fresh = next(r for r in rows if r["variant"] == "fresh")
        for r in rows:
            same = sum(a == b for a, b in zip(fresh["journal"], r["journal"]))
            lines.append(
                f"| {run} | {r['variant']} | {r['trials']} x {r['search_epochs']} | {same} of "
                f"{len(r['journal'])} | {r['test'] == fresh['test']} | {_ndcg(r['test'])} |"
            )
    lines.append("")
    return write_lines("ml-100k-determinism.md", lines)


if __name__ == "__main__":
    main()
