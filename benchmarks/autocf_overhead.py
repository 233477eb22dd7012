"""Overhead of AutoCF's generic model: the MF preset vs RecBole's BPR on ml-100k.

Both train on the same dataloader with the same seed (they compute the same losses); the
two are timed alternately, epoch by epoch, so a busy machine slows both alike. Reports the
median seconds per training epoch and per full-ranking validation.

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
sys.path.insert(0, os.path.dirname(HERE))

from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402

from recbole_automl import Config, get_model  # noqa: E402
from recbole_automl.utils import reseed  # noqa: E402

MODELS = {"BPR": {}, "AutoCF (MF preset)": {"architecture": "MF"}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
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

    base = runs["BPR"]
    lines = [
        "# AutoCF overhead: MF preset vs RecBole's BPR (ml-100k)",
        "",
        f"Median over {args.epochs} epochs, timed alternately in one process; RecBole defaults",
        f"(batch 2048, embedding 64). Machine: 2-core CPU. Date: {date.today().isoformat()}.",
        "",
        "Reproduce:",
        "",
        f"    python benchmarks/autocf_overhead.py --epochs {args.epochs}",
        "",
        "| model | s / training epoch | ratio | s / full-ranking validation | ratio |",
        "|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        fit, ev = statistics.median(run["fit"]), statistics.median(run["eval"])
        fit_ratio = fit / statistics.median(base["fit"])
        eval_ratio = ev / statistics.median(base["eval"])
        lines.append(f"| {label} | {fit:.3f} | {fit_ratio:.2f}x | {ev:.3f} | {eval_ratio:.2f}x |")
    lines.append("")
    with open(os.path.join(HERE, "results", "ml-100k-autocf-overhead.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
