"""Overhead of AutoCF's generic model: the MF preset vs RecBole's BPR on ml-100k.

Both train on the same dataloader with the same seed (they compute the same losses); the
two are timed alternately, epoch by epoch, so a busy machine slows both alike. Reports the
median seconds per training epoch and per full-ranking validation. Each run appends one
record per model to ``results/raw/ml-100k-autocf-overhead.jsonl``; the table shows every run.

Example:
    python benchmarks/autocf_overhead.py --epochs 10
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]

from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from runner import (  # noqa: E402
    append_record,
    by_run,
    load_records,
    reproduce_lines,
    runs_note,
    write_lines,
)

from recbole_automl import Config, get_model  # noqa: E402
from recbole_automl.utils import reseed  # noqa: E402

RECORDS = os.path.join(HERE, "results", "raw", "ml-100k-autocf-overhead.jsonl")

# The MF preset with BPR's loss (AutoCF's default loss when its records were made).
MODELS = {"BPR": {}, "AutoCF (MF preset)": {"architecture": "MF", "loss_type": "BPR"}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    if args.table:
        print("\n".join(write_table(load_records(RECORDS))))
        return
    os.makedirs(os.path.join(HERE, ".work"), exist_ok=True)
    os.chdir(os.path.join(HERE, ".work"))

    runs = {}
    for label, overrides in MODELS.items():
        name = "AutoCF" if overrides else "BPR"
        config = Config(
            model=name, dataset="ml-100k", config_dict={**overrides, "show_progress": False}
        )
        train, valid, _ = data_preparation(config, create_dataset(config))
        reseed(config, train)
        trainer = Trainer(config, get_model(name)(config, train._dataset).to(config["device"]))
        trainer.eval_collector.data_collect(train)
        runs[label] = {"trainer": trainer, "train": train, "valid": valid, "fit": [], "eval": []}

    for epoch in range(args.epochs):
        for run in runs.values():
            start = time.perf_counter()
            run["trainer"]._train_epoch(run["train"], epoch)
            run["fit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            run["trainer"]._valid_epoch(run["valid"])
            run["eval"].append(time.perf_counter() - start)

    command = f"python benchmarks/autocf_overhead.py --epochs {args.epochs}"
    load = os.getloadavg()[0]
    for label, run in runs.items():
        append_record(RECORDS, {
            "label": label, "epochs": args.epochs, "load_before": round(load, 2),
            "fit_s": [round(x, 5) for x in run["fit"]],
            "eval_s": [round(x, 5) for x in run["eval"]],
            "command": command,
        })  # fmt: skip
    print("\n".join(write_table(load_records(RECORDS))))


def write_table(records):
    """Median seconds per epoch of each model, and its ratio to BPR's in the same run."""
    lines = [
        "# AutoCF overhead: MF preset vs RecBole's BPR (ml-100k)",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "Median over the epochs of a run, the two models timed alternately in one process;",
        "RecBole defaults (batch 2048, embedding 64); load: the 1-minute load average before.",
        "",
        *reproduce_lines(records),
        "| run | model | epochs | s / training epoch | ratio | s / full-ranking validation "
        "| ratio | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, rows in by_run(records).items():
        base = next(r for r in rows if r["label"] == "BPR")
        for r in rows:
            label = r["label"]
            fit, ev = statistics.median(r["fit_s"]), statistics.median(r["eval_s"])
            fit_ratio = fit / statistics.median(base["fit_s"])
            eval_ratio = ev / statistics.median(base["eval_s"])
            lines.append(
                f"| {run} | {label} | {r['epochs']} | {fit:.3f} | {fit_ratio:.2f}x | {ev:.3f} "
                f"| {eval_ratio:.2f}x | {r['load_before']:.1f} |"
            )
    lines.append("")
    return write_lines("ml-100k-autocf-overhead.md", lines)


if __name__ == "__main__":
    main()
