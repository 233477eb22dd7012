"""Anytime curves on ml-100k: the best validation NDCG@10 a search has found against the
compute it has spent, for the model search and for one candidate tuned alone.

Variants (each ``search: models`` with its defaults: 30 trials shared by the candidates,
each trial at most 50 epochs, ASHA on epochs within each model, defaults first, TPE):
    search=models   the default candidates of search_task general, then the ensemble step
    EASE alone      search_models: [EASE] (its space: 8 values of reg_weight)
    AutoCF alone    search_models: [AutoCF] (its conditional family space)

Compute is counted in trial-epochs (the epochs every trial trained, summed; a closed-form
fit is one epoch; the ensemble step trains nothing) and in seconds. Each (variant, seed)
runs in its own process; its record holds every trial (model, epochs, seconds, valid
score, status) and the winner's test score (the search's only use of the test split).
Records go to ``results/raw/ml-100k-anytime.jsonl`` (a rerun skips recorded runs); the
table and the plot are rebuilt from them.

Example:
    python benchmarks/anytime.py --seeds 2020
    python benchmarks/anytime.py --table
"""

import argparse
import json
import os
import sys
import time
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    TABLES,
    add_run_arguments,
    reproduce_lines,
    run_and_tabulate,
    runs_note,
    write_lines,
)

RECORDS = os.path.join(HERE, "results", "raw", "ml-100k-anytime.jsonl")
VARIANTS = {"search=models": None, "EASE alone": ["EASE"], "AutoCF alone": ["AutoCF"]}
# The budget and scheduler keys a record keeps.
PROTOCOL_KEYS = ("search_trials", "epochs", "search_scheduler", "asha_extrapolation")
# Where the table reads each curve: these shares of the search=models run's compute.
SHARES = (0.1, 0.25, 0.5, 1.0)


def run_one(label, seed):
    from recbole_automl import Config
    from recbole_automl.methods.model_search import model_search

    start = time.perf_counter()
    settings = {"search": "models", "valid_metric": "NDCG@10", "seed": seed,
                "show_progress": False, "search_models": VARIANTS[label]}  # fmt: skip
    config = Config(dataset="ml-100k", config_dict=settings, read_cmd_line=False)
    result = model_search(config, show_progress=False)
    trials = [[t.point["model"], t.epochs, round(t.seconds, 2), t.value, t.status]
              for t in result["trials"]]  # fmt: skip
    ensemble = [r for r in result["leaderboard"] if r["model"] == "ModelEnsemble"]
    record = {
        "label": label,
        "seed": seed,
        "trials": trials,
        "ensemble": [ensemble[0]["best"], round(ensemble[0]["seconds"], 2)] if ensemble else None,
        "winner": result["best_params"],
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
        "wall_s": round(time.perf_counter() - start, 1),
        "protocol": {k: config[k] for k in PROTOCOL_KEYS},
    }
    print("RECORD " + json.dumps(record))


def curve(record):
    """``[(trial-epochs, seconds, best valid so far)]`` after each trial (and the ensemble
    step, which adds seconds but no epochs)."""
    points, epochs, seconds, best = [], 0, 0.0, None
    for _model, trial_epochs, trial_seconds, value, _status in record["trials"]:
        epochs, seconds = epochs + trial_epochs, seconds + trial_seconds
        if value is not None and (best is None or value > best):
            best = value
        points.append((epochs, seconds, best))
    if record["ensemble"] is not None:
        value, ensemble_seconds = record["ensemble"]
        points.append((epochs, seconds + ensemble_seconds, max(best, value)))
    return points


def best_at(points, epochs):
    """The best valid score found within ``epochs`` trial-epochs (None before any)."""
    scores = [b for e, _, b in points if e <= epochs and b is not None]
    return scores[-1] if scores else None


def cell(values):
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.4f}" if values else "-"


def write_table(records):
    if not records:
        return []
    by_seed = {r["seed"]: r for r in records if r["label"] == "search=models"}
    header = ["search", "seeds"] + [f"valid at {s:.0%}" for s in SHARES]
    header += ["trial-epochs", "seconds", "test ndcg@10", "winners (by seed)"]
    lines = [
        "# Anytime: best valid NDCG@10 against compute, ml-100k",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "Protocol: RecBole's ml-100k defaults (random 8:1:1, full ranking, @10), valid_metric",
        "NDCG@10; every search is `search: models` with its defaults (30 trials, 50 epochs a",
        "trial, ASHA within each model, defaults first, then TPE) over its candidates: all of",
        "search_task general's, or one model alone. `valid at x%`: the best validation score",
        "found within x% of the trial-epochs the search=models run of the same seed spent",
        "(mean over seeds; a search that ended before, its final best). Seconds and trial-epochs:",
        "the whole search (mean). Test: the winner, trained again and tested once.",
        "",
        *reproduce_lines(records),
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for label in VARIANTS:
        runs = [r for r in records if r["label"] == label]
        if not runs:
            continue
        shares = []
        for share in SHARES:
            shares.append(cell([
                best_at(curve(r), share * curve(by_seed[r["seed"]])[-1][0])
                for r in runs if r["seed"] in by_seed
            ]))  # fmt: skip
        lines.append("| " + " | ".join([
            label, str(len(runs)), *shares,
            f"{np.mean([curve(r)[-1][0] for r in runs]):.0f}",
            f"{np.mean([curve(r)[-1][1] for r in runs]):.0f}",
            cell([r["test"]["ndcg@10"] for r in runs]),
            "; ".join(winner_name(r["winner"]) for r in runs),
        ]) + " |")  # fmt: skip
    lines += ["", "![anytime](ml-100k-anytime.png)", ""]
    plot(records, os.path.join(TABLES, "ml-100k-anytime.png"))
    return write_lines("ml-100k-anytime.md", lines)


def winner_name(winner):
    """``EASE``, or an ensemble's members: ``EASE+SLIMElastic+AutoCF``."""
    members = winner.get("ensemble_members")
    return "+".join(m["model"] for m in members) if members else winner["model"]


def plot(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = dict(zip(VARIANTS, ("C0", "C1", "C2")))
    for record in records:
        points = [p for p in curve(record) if p[2] is not None]
        for ax, index in zip(axes, (0, 1)):
            ax.step([p[index] for p in points], [p[2] for p in points], where="post",
                    color=colors[record["label"]], alpha=0.8,
                    label=f"{record['label']} ({record['seed']})")  # fmt: skip
    for ax, unit in zip(axes, ("trial-epochs", "seconds")):
        ax.set_xscale("log")
        ax.set_xlabel(f"compute ({unit}, log)")
        ax.set_ylabel("best valid NDCG@10 so far")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("ml-100k: model search vs one model tuned alone")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one[0], int(args.run_one[1]))
        return
    jobs = [(label, seed) for label in args.variants for seed in args.seeds]
    run_and_tabulate(__file__, args, jobs, RECORDS, write_table)


if __name__ == "__main__":
    main()
