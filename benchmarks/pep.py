"""PEP on ml-100k (RecBole's built-in CTR setup): parameters vs AUC, PEP vs uniform sizes.

For each base model (FM, DeepFM) and seed, in its own process: the base model with every
feature embedding of a uniform size (1, 2, 4, ..., 64), and PEP (embedding 64) retrained
with the mask of each target fraction. The first PEP run of a (base, seed) searches all
masks (its wall time includes the search); the others reuse them. Records go to
``results/raw/ml-100k-pep.jsonl`` (a rerun skips recorded runs); the table and the
parameter-vs-AUC curves are rebuilt into ``results/ml-100k-pep.md`` and ``.png``.

Example:
    python benchmarks/pep.py --bases FM DeepFM --seeds 2020 2021 2022
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
    run_jobs,
    runs_note,
    train_and_record,
)

SIZES = [1, 2, 4, 8, 16, 32, 64]
TARGETS = [0.5, 0.2, 0.1, 0.05]
RECORDS = os.path.join(RESULTS, "raw", "ml-100k-pep.jsonl")


def variants(base):
    """label -> (model, config overrides)."""
    out = {f"{base} d={k}": (base, {"embedding_size": k}) for k in SIZES}
    for target in TARGETS:
        out[f"PEP-{base} {target:g}"] = ("PEP", {"base_model": base, "pep_target": target})
    return out


def write_table(bases):
    records = load_records(RECORDS)
    if not records:
        return
    lines = [
        "# PEP on ml-100k: parameters vs AUC (RecBole's built-in CTR setup)",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "Protocol: RecBole's context-aware defaults on ml-100k (label = rating >= 4, random",
        "8:1:1, labeled evaluation, global AUC from RecBole's evaluator, early stopping on valid",
        "AUC, test evaluated once per run). `B d=k`: RecBole's model B with every feature",
        "embedding of size k. `PEP-B f`: PEP (embedding 64, feature_dim thresholds from s = -6",
        "with lr 1e-2, search weight decay 1e-5; PEP.yaml's defaults) retrained (lottery",
        "ticket, weight decay 0 like the uniform runs) with the mask found when the non-zero",
        "embedding weights fell to the fraction f. Params: non-zero embedding weights plus",
        "every other weight (PEP), or every trainable weight (uniform). Mean ± std over seeds.",
        "",
        "Reproduce (skips runs already recorded):",
        "",
        *command_lines(records),
        "",
    ]
    curves = {}
    full = {
        r["label"].split()[0][4:]: r["search"]["embedding_total"] for r in records if r["search"]
    }
    for base in bases:
        rows = []
        for label in variants(base):
            runs = [r for r in records if r["label"] == label]
            if not runs:
                continue
            params = [r["search"]["parameters"] if r["search"] else r["params"] for r in runs]
            embed = [r["search"]["embedding_nonzero"] for r in runs if r["search"]]
            auc = [r["test"]["auc"] for r in runs]
            rows.append(
                f"| {label} | {len(runs)} | {np.mean(params):,.0f} | "
                + (f"{np.mean(embed):,.0f}" if embed else "all")
                + f" | {np.mean([r['valid']['auc'] for r in runs]):.4f} | {np.mean(auc):.4f} ± "
                f"{np.std(auc):.4f} | {np.mean([r['test']['logloss'] for r in runs]):.4f} | "
                f"{np.mean([r['wall_s'] for r in runs]):.0f} |"
            )
            kind = "PEP" if runs[0]["search"] else "uniform"
            # A uniform model's tables have the rows of PEP's 64-wide tables, k wide each.
            in_use = (
                np.mean(embed) if embed else full.get(base, np.nan) * int(label.split("d=")[1]) / 64
            )
            curves.setdefault((base, kind), []).append((np.mean(params), in_use, np.mean(auc)))
        lines += [
            f"## {base}",
            "",
            "| run | seeds | params | non-zero embedding weights | valid AUC | test AUC | "
            "test LogLoss | wall s |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
        lines += _goal_lines(records, base)
    lines += ["![parameters vs test AUC](ml-100k-pep.png)", ""]
    with open(os.path.join(TABLES, "ml-100k-pep.md"), "w") as f:
        f.write("\n".join(lines))
    _plot(curves, os.path.join(TABLES, "ml-100k-pep.png"))


def _goal_lines(records, base):
    """Smallest PEP target within 0.001 test AUC of the full-size model, and the time cost."""
    full = [r for r in records if r["label"] == f"{base} d=64"]
    peps = [r for r in records if r["label"].startswith(f"PEP-{base} ")]
    if not full or not peps:
        return []
    full_auc = np.mean([r["test"]["auc"] for r in full])
    lines = []
    for target in TARGETS:
        runs = [r for r in peps if r["label"] == f"PEP-{base} {target:g}"]
        if runs:
            auc = np.mean([r["test"]["auc"] for r in runs])
            saved = 1 - np.mean([r["search"]["embedding_nonzero"] / r["search"]["embedding_total"]
                                 for r in runs])  # fmt: skip
            ok = "yes" if auc >= full_auc - 0.001 else "no"
            lines.append(f"| {target:g} | {100 * saved:.1f}% | {auc - full_auc:+.4f} | {ok} |")
    # One search per seed: the first target's run searches, later targets reuse its masks
    # (their search_seconds are ~0), so a seed's search time is the sum over its runs.
    per_seed = {}
    for r in peps:
        per_seed[r["seed"]] = per_seed.get(r["seed"], 0.0) + r["search"]["search_seconds"]
    full_wall = np.mean([r["wall_s"] for r in full])
    time_line = ""
    if per_seed:
        search = np.mean(list(per_seed.values()))
        retrain = np.mean([r["search"]["retrain_seconds"] for r in peps])
        time_line = (
            f"Time: search {search:.0f} s + one retraining {retrain:.0f} s vs one training of "
            f"{base} d=64 ({full_wall:.0f} s wall): {(search + retrain) / full_wall:.2f}x."
        )
    return [
        f"Against {base} d=64 (test AUC {full_auc:.4f}):",
        "",
        "| target | fewer embedding weights | test AUC vs d=64 | within 0.001 |",
        "|---|---|---|---|",
        *lines,
        "",
        time_line,
        "",
    ]


def _plot(curves, path):
    """Test AUC against all parameters, and against the embedding weights in use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (base, kind), points in sorted(curves.items()):
        points = sorted(points)
        style = (
            {"marker": "o", "linestyle": "-"}
            if kind == "PEP"
            else {"marker": "s", "linestyle": "--"}
        )
        for ax, x in zip(axes, (0, 1)):
            ax.plot([p[x] for p in points], [p[2] for p in points], label=f"{kind} {base}", **style)
    axes[0].set_xlabel("parameters (non-zero embedding weights + the rest of the model)")
    axes[1].set_xlabel("embedding weights in use (non-zero)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_ylabel("test AUC (mean over seeds)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", nargs="+", default=["FM", "DeepFM"])
    parser.add_argument("--only", choices=["uniform", "pep"], help="run one kind of variant")
    add_run_arguments(parser)
    args = parser.parse_args()

    everything = {k: v for base in args.bases for k, v in variants(base).items()}
    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        model, overrides = everything[label]
        train_and_record(label, model, seed, overrides=overrides)
    elif not args.table:
        labels = [
            k
            for k in everything
            if args.only is None or k.startswith("PEP") == (args.only == "pep")
        ]
        jobs = [(label, seed) for seed in args.seeds for label in labels]
        workdir = os.path.join(HERE, ".work", "pep")
        run_jobs(
            __file__,
            ["--bases", *args.bases],
            jobs,
            RECORDS,
            workdir,
            lambda: write_table(args.bases),
        )
    write_table(args.bases)


if __name__ == "__main__":
    main()
