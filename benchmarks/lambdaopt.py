"""λOpt on ml-100k: learned coefficients at each granularity vs a grid of fixed ones.

For each seed, in its own process: LambdaOptBPR with one fixed coefficient for each value of
the grid (each trained fully with early stopping on validation NDCG@10; the grid's choice
is the best on validation), and LambdaOptBPR learning its coefficients at each
granularity (learning on half of the validation interactions, selected on the other half).
Same MF-BPR (embedding 64, Adam 1e-3, batch 2048, one negative), RecBole's
general protocol (random 8:1:1, full ranking) with valid_metric NDCG@10. Records go to
``results/raw/ml-100k-lambdaopt.jsonl`` (a rerun skips recorded runs); the table is rebuilt
into ``results/ml-100k-lambdaopt.md``.

Another dataset (its records and table are ``<dataset>-lambdaopt``): ``--dataset ml-1m
--data_path DIR`` (ml-1m: ``../shared/tools/ml-1m.py``, never committed).

Example:
    python benchmarks/lambdaopt.py --seeds 2020 2021 2022
    python benchmarks/lambdaopt.py --dataset ml-1m --data_path /data --seeds 2020
"""

import argparse
import os
import sys
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    TABLES,
    add_run_arguments,
    command_lines,
    load_records,
    mean_std,
    run_jobs,
    runs_note,
    train_and_record,
)

from recbole_automl.model.general_recommender.lambdaopt import GRANULARITIES  # noqa: E402

GRID = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
COMMON = {"valid_metric": "NDCG@10"}
# label -> config overrides of LambdaOptBPR
VARIANTS = {
    **{f"fixed {value:g}": {"reg_granularity": "fixed", "reg_weight": value} for value in GRID},
    **{g: {"reg_granularity": g} for g in GRANULARITIES if g != "fixed"},
    # The original code's simulated step (2 lambda theta over every row of both tables).
    "dimension+user+item, simulated penalty over the tables": {
        "reg_granularity": "dimension+user+item", "lambda_simulated_penalty": "tables"},
    # Validation-set size against gain: user+item learning on another share (ml-1m: 5% of
    # its ~100k validation interactions is what ml-100k's half gives, ~5k).
    **{f"user+item, learning on {share:.0%} of the validation": {
        "reg_granularity": "user+item", "lambda_valid_ratio": share} for share in (0.05, 0.2, 0.8)},
}  # fmt: skip
METRICS = ["ndcg@10", "recall@10"]


def records_path(dataset):
    return os.path.join(RESULTS, "raw", f"{dataset}-lambdaopt.jsonl")


def write_table(dataset="ml-100k"):
    records = load_records(records_path(dataset))
    if not records:
        return
    seeds = sorted({r["seed"] for r in records})
    grid_labels = [f"fixed {value:g}" for value in GRID]
    by = {(r["label"], r["seed"]): r for r in records}
    complete_grid = [s for s in seeds if all((label, s) in by for label in grid_labels)]
    chosen = {
        s: max((by[(label, s)] for label in grid_labels), key=lambda r: r["valid"]["ndcg@10"])
        for s in complete_grid
    }
    grid_time = {s: sum(by[(label, s)]["wall_s"] for label in grid_labels) for s in complete_grid}
    header = ["run", "seeds", "valid ndcg@10", *[f"test {m}" for m in METRICS], "wall s"]
    header += ["vs grid's choice (test ndcg@10)", "time / grid's time"]
    rows = []

    def row(label, runs):
        cells = [label, str(len(runs)), mean_std([r["valid"]["ndcg@10"] for r in runs])]
        cells += [mean_std([r["test"][m] for r in runs]) for m in METRICS]
        cells.append(f"{np.mean([r['wall_s'] for r in runs]):.0f}")
        paired = [r for r in runs if r["seed"] in chosen]
        if paired and not label.startswith("fixed"):
            gain = [r["test"]["ndcg@10"] / chosen[r["seed"]]["test"]["ndcg@10"] - 1 for r in paired]
            ratio = [r["wall_s"] / grid_time[r["seed"]] for r in paired]
            cells += [f"{100 * np.mean(gain):+.1f}%", f"{np.mean(ratio):.2f}"]
        else:
            cells += ["", ""]
        rows.append(cells)

    for label in VARIANTS:
        runs = [by[(label, s)] for s in seeds if (label, s) in by]
        if runs:
            row(label, runs)
    learned = [g for g in GRANULARITIES if g != "fixed"]
    for seed in seeds:
        runs = [by[(g, seed)] for g in learned if (g, seed) in by]
        if runs:  # the granularity a user would pick: the best on the selection half
            best = max(runs, key=lambda r: r["valid"]["ndcg@10"])
            ran = "all" if len(runs) == len(learned) else f"{len(runs)} of {len(learned)}"
            row(f"learned: the best on valid of the granularities run ({ran}; {best['label']}, "
                f"seed {seed})", [best])  # fmt: skip
            total = sum(r["wall_s"] for r in runs)  # choosing ran every one of them
            rows[-1][-3] = f"{total:.0f} (all run)"
            if seed in grid_time:
                rows[-1][-1] = f"{total / grid_time[seed]:.2f}"
    if chosen:
        row("fixed: grid's choice (on valid)", list(chosen.values()))
        rows[-1][-3:] = [f"{np.mean(list(grid_time.values())):.0f} (whole grid)", "", ""]
    picks = ", ".join(f"{s}: {chosen[s]['label']}" for s in complete_grid)
    lines = [
        f"# λOpt on {dataset}: learned vs fixed L2 coefficients for MF-BPR",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "MF-BPR = LambdaOptBPR (embedding 64, Adam 1e-3, batch 2048, one uniform negative);",
        "RecBole's general protocol (random 8:1:1, full ranking), early stopping and model",
        "selection on valid NDCG@10, test evaluated once per run. `fixed v`: one coefficient v",
        "for every row of the batch; the grid's choice is the fixed run with the best valid",
        "NDCG@10 per seed (" + picks + "). Learned runs start from 0, learn on a random half",
        "of the validation interactions (`learning on x%`: that share) and are selected on the",
        "rest (their valid column is on the rest, so it is lower than the fixed runs' and not",
        "comparable to them).",
        "Gain = test NDCG@10 relative to the grid's choice of the same seed; time = the run's",
        "wall time over the whole grid's (7 trainings) of the same seed. `learned: the best on",
        "valid`: the granularity with the best valid NDCG@10 (on the selection half) of those",
        "run for the seed, what a user choosing among them gets; its wall time is theirs summed.",
        "",
        "Reproduce (skips runs already recorded):",
        "",
        *command_lines(records),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
    ]
    lines += _frequency_lines(records)
    lines += _curve_lines(records, dataset)
    if os.path.exists(os.path.join(RESULTS, f"{dataset}-lambdaopt-coefficients.png")):
        lines += [
            "Mean learned coefficient against training frequency, dimension+user+item, seed "
            "2020",
            "(`coefficients.png` of that run's search folder, copied here):",
            "",
            f"![coefficients against frequency]({dataset}-lambdaopt-coefficients.png)",
            "",
        ]
    with open(os.path.join(TABLES, f"{dataset}-lambdaopt.md"), "w") as f:
        f.write("\n".join(lines))


def _frequency_lines(records):
    """Spearman correlation of the learned per-user / per-item coefficients with frequency."""
    lines = [
        "Do the coefficients grow with frequency? Spearman correlation between a user's "
        "(item's) mean learned coefficient and its number of training interactions:",
        "",
        "| granularity | users | items |",
        "|---|---|---|",
    ]
    for label in VARIANTS:
        runs = [r for r in records if r["label"] == label and r["search"]]
        if not runs:
            continue
        cells = []
        for side in ("user", "item"):
            found = [r["search"]["frequency_spearman"] for r in runs]
            values = [f[side] for f in found if side in f]
            cells.append(mean_std(values) if values else "-")
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def _curve_lines(records, dataset):
    """The mean learned coefficients after each epoch (runs recorded with their
    ``lambda_curve``), plotted into ``<dataset>-lambdaopt-curves.png``."""
    runs = [r for r in records if (r.get("search") or {}).get("lambda_curve")]
    if not runs:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = sorted({side for r in runs for point in r["search"]["lambda_curve"] for side in point})
    fig, axes = plt.subplots(1, len(sides), figsize=(5 * len(sides), 3.5), squeeze=False)
    for ax, side in zip(axes[0], sides):
        for r in runs:
            curve = [point.get(side) for point in r["search"]["lambda_curve"]]
            if any(v is not None for v in curve):
                ax.plot(range(1, len(curve) + 1), curve, label=f"{r['label']} ({r['seed']})")
        ax.set(title=f"{side} coefficients", xlabel="epoch", ylabel="mean coefficient")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.legend(fontsize=7)
    fig.tight_layout()
    name = f"{dataset}-lambdaopt-curves.png"
    fig.savefig(os.path.join(TABLES, name), dpi=100)
    plt.close(fig)
    return [
        "Mean learned coefficient after each epoch (the runs recorded with their trajectory):",
        "",
        f"![coefficients over the epochs]({name})",
        "",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    add_run_arguments(parser)
    args = parser.parse_args()
    data = {"data_path": os.path.abspath(args.data_path)} if args.data_path else {}

    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        overrides = {**COMMON, **VARIANTS[label], **data}
        train_and_record(label, "LambdaOptBPR", seed, overrides=overrides, dataset=args.dataset)
        return
    if not args.table:
        jobs = [(label, seed) for seed in args.seeds for label in args.variants]
        workdir = os.path.join(HERE, ".work", "lambdaopt")
        script_args = ["--dataset", args.dataset]
        script_args += ["--data_path", data["data_path"]] if data else []
        run_jobs(__file__, script_args, jobs, records_path(args.dataset), workdir,
                 lambda: write_table(args.dataset))  # fmt: skip
    write_table(args.dataset)


if __name__ == "__main__":
    main()
