"""PEP: parameters vs AUC, against uniform sizes and magnitude pruning.

For each base model (FM, DeepFM, AutoInt) and seed, in its own process: the base model with
every feature embedding of a uniform size (1, 2, 4, ..., 64); PEP (embedding 64) retrained
with the mask of each target fraction; and (``MAG-B f``) the baseline of magnitude pruning:
the full model trained, the fraction f of its embedding weights of largest magnitude kept,
retrained from step 0 the same way (``pep_pruner: magnitude``). The first PEP (or MAG) run
of a (base, seed) searches all masks (its wall time includes the search); the others reuse
them. Records go to ``results/raw/<dataset>-pep.jsonl`` (a rerun skips recorded runs); the
table and the parameter-vs-AUC curves are rebuilt into ``results/<dataset>-pep.md``/``.png``.

ml-100k: RecBole's built-in CTR setup, targets 0.5 ... 0.05. ml-1m (issue 19's CTR protocol,
data from ``../shared/tools/ml-1m.py``, never committed): targets 0.1, 0.03, 0.01.

Example:
    python benchmarks/pep.py --bases FM DeepFM --seeds 2020 2021 2022
    python benchmarks/pep.py --dataset ml-1m --data_path /data --bases FM --seeds 2020 \
        --labels "FM d=64" "PEP-FM 0.03" "MAG-FM 0.03"
"""

import argparse
import os
import re
import sys
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    RETIMED,
    TABLES,
    add_run_arguments,
    checkpoint_dir,
    command_lines,
    load_records,
    run_jobs,
    runs_note,
    same_timing,
    timed_with_anomaly,
    train_and_record,
)

SIZES = [1, 2, 4, 8, 16, 32, 64]
# The sparsities a dataset's table shows (the paper's claim, on ML-1M: 97-99% fewer weights).
TARGETS = {"ml-100k": [0.5, 0.2, 0.1, 0.05], "ml-1m": [0.1, 0.03, 0.01]}
PROTOCOLS = {
    "ml-100k": [
        "Protocol: RecBole's context-aware defaults on ml-100k (label = rating >= 4, random",
        "8:1:1, labeled evaluation, global AUC from RecBole's evaluator, early stopping on valid",
    ],
    "ml-1m": [
        "Protocol: issue 19's ml-1m CTR protocol (benchmarks/configs/ml-1m-ctr.yaml: rating >= 4",
        "against <= 2, rating 3 dropped, user and item features; random 8:1:1, labeled",
        "evaluation, global AUC from RecBole's evaluator, early stopping on valid",
    ],
}
CONFIG_FILES = {"ml-1m": [os.path.join(HERE, "configs", "ml-1m-ctr.yaml")]}


def records_path(dataset):
    return os.path.join(RESULTS, "raw", f"{dataset}-pep.jsonl")


def targets(dataset):
    return TARGETS.get(dataset, TARGETS["ml-1m"])


def variants(base, dataset="ml-100k"):
    """label -> (model, config overrides)."""
    out = {f"{base} d={k}": (base, {"embedding_size": k}) for k in SIZES}
    searched = {"base_model": base, "pep_targets": targets(dataset)}
    for target in targets(dataset):
        out[f"PEP-{base} {target:g}"] = ("PEP", {**searched, "pep_target": target})
    for target in targets(dataset):
        magnitude = {**searched, "pep_pruner": "magnitude", "pep_target": target}
        out[f"MAG-{base} {target:g}"] = ("PEP", magnitude)
    for target in targets(dataset):
        slow = {**searched, "pep_target": target, "threshold_learning_rate": SLOW_LR}
        out[f"PEP-{base} {target:g}{SLOW}"] = ("PEP", slow)
    for label, (model, overrides) in list(out.items()):
        if model == "PEP":  # the same masks, each row's weights as its first dimensions
            out[f"{label}{PREFIX}"] = (model, {**overrides, "pep_mask_layout": "prefix"})
    for label, (model, overrides) in list(out.items()):
        if model == "PEP" and PREFIX not in label:  # prune and fine-tune (its own search)
            out[f"{label}{FINETUNED}"] = (model, {**overrides, "pep_retrain": "finetune"})
    # The time ratio's two runs timed again with anomaly detection off (runner.
    # anomaly_detection), the search in a folder of its own (not the masks searched before).
    fresh = {"checkpoint_dir": checkpoint_dir("retimed")}
    out[f"{base} d=64{RETIMED}"] = (base, {"embedding_size": 64, **fresh})
    out[f"PEP-{base} 0.1{RETIMED}"] = ("PEP", {**searched, "pep_target": 0.1, **fresh})
    return out


PREFIX = " prefix"  # the label's suffix of pep_mask_layout: prefix
FINETUNED = ", fine-tuned"  # the label's suffix of pep_retrain: finetune
SLOW_LR = 0.001  # the original's threshold learning rate (PEP.yaml's default: 1e-2)
SLOW = f", threshold lr {SLOW_LR:g}"  # the label's suffix of a search with it


def kind_of(label):
    """A curve's name: the method (PEP, MAG; ``uniform`` for a base model's ``B d=k``) and
    the label's settings after the target (or the size: a retimed d=64 is a curve of its own)."""
    method, rest = label.split(" ", 1)
    settings = rest.split(" ", 1)[1] if " " in rest else ""  # after the target
    name = method.split("-")[0] if "-" in method else "uniform"
    return name + (f" {settings}" if settings else "")


def write_table(bases, dataset="ml-100k"):
    records = load_records(records_path(dataset))
    if not records:
        return
    lines = [
        f"# PEP on {dataset}: parameters vs AUC",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        *PROTOCOLS.get(dataset, PROTOCOLS["ml-1m"]),
        "AUC, test evaluated once per run). `B d=k`: RecBole's model B with every feature",
        "embedding of size k. `PEP-B f`: PEP (embedding 64, feature_dim thresholds from s = -6",
        "with lr 1e-2, search weight decay 1e-5; PEP.yaml's defaults) retrained (lottery",
        "ticket, weight decay 0 like the uniform runs) with the mask found when the non-zero",
        "embedding weights fell to the fraction f. `MAG-B f`: the same model and retraining",
        "with the mask that keeps the fraction f of the trained full model's embedding weights",
        "of largest magnitude (`pep_pruner: magnitude`). `... prefix`: the same mask with",
        "each row's kept weights moved to its first dimensions (`pep_mask_layout: prefix`).",
        f"`...{FINETUNED}`: retrained from the weights the mask was taken from, not from step 0",
        "(`pep_retrain: finetune`, prune and fine-tune; a search of its own).",
        f"`...{SLOW}`: PEP's search with the original's threshold learning rate (1e-3: the",
        "default 1e-2 prunes ml-1m's FM to 17% of its weights in its first epoch).",
        "Params: non-zero embedding weights",
        "plus every other weight (PEP, MAG), or every trainable weight (uniform). Mean ± std",
        "over seeds.",
        "",
        "Reproduce (skips runs already recorded):",
        "",
        *command_lines(records),
        "",
    ]
    # Every base model with records, whichever --bases this run was given.
    found = {r["label"].split()[0].split("-")[-1] for r in records}
    bases = [b for b in dict.fromkeys([*bases, "FM", "DeepFM", "AutoInt", *sorted(found)])
             if b in found]  # fmt: skip
    curves = {}
    full = {
        r["label"].split()[0][4:]: r["search"]["embedding_total"] for r in records if r["search"]
    }
    for base in bases:
        rows = []
        for label in variants(base, dataset):
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
            kind = kind_of(label)
            # A uniform model's tables have the rows of PEP's 64-wide tables, k wide each.
            in_use = (
                np.mean(embed)
                if embed
                else full.get(base, np.nan) * int(re.search(r"d=(\d+)", label)[1]) / 64
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
        lines += _goal_lines(records, base, targets(dataset))
    lines += [f"![parameters vs test AUC]({dataset}-pep.png)", ""]
    with open(os.path.join(TABLES, f"{dataset}-pep.md"), "w") as f:
        f.write("\n".join(lines))
    _plot(curves, os.path.join(TABLES, f"{dataset}-pep.png"))


def _goal_lines(records, base, fractions=TARGETS["ml-100k"]):
    """Per target: PEP's test AUC against the full-size model, magnitude pruning at the
    same target and the smallest uniform size with at least as many weights; the time cost."""
    full = [r for r in records if r["label"] == f"{base} d=64"]
    timed = full + [r for r in records if r["label"] == f"{base} d=64{RETIMED}"]
    peps = [r for r in records if r["label"].startswith(f"PEP-{base} ")]
    if not full or not peps:
        return []
    full_auc = np.mean([r["test"]["auc"] for r in full])

    def auc(label, seeds):
        """The mean test AUC of ``label`` over ``seeds``; ``None`` unless it ran them all."""
        runs = [r for r in records if r["label"] == label and r["seed"] in seeds]
        ran = {r["seed"] for r in runs} == seeds
        return np.mean([r["test"]["auc"] for r in runs]) if ran else None

    def cell(value, full):
        return "-" if value is None or full is None else f"{value - full:+.4f}"

    def kind(r):  # the runs sharing one search: seed, threshold lr, retraining start, timing
        flags = (SLOW in r["label"], FINETUNED in r["label"], RETIMED in r["label"])
        return r["seed"], *flags, timed_with_anomaly(r)

    def cost(run):
        """(search seconds, retraining seconds, their sum over one training of d=64 on the
        run's seed timed alike), or ``None`` without such a training. The search is the one
        of the run's kind: the first run searches, later targets and layouts reuse its masks
        (their search_seconds ~0); a run that searched again (its masks not kept, e.g. on a
        fresh machine) is not counted twice: the longest search of the kind."""
        walls = [r["wall_s"] for r in same_timing(run, timed) if r["seed"] == run["seed"]]
        if not walls:
            return None
        search = max(r["search"]["search_seconds"] for r in peps if kind(r) == kind(run))
        retrain = run["search"]["retrain_seconds"]
        return search, retrain, (search + retrain) / np.mean(walls)

    def time_cell(runs):
        costs = [c for c in map(cost, runs) if c is not None]
        if not costs:
            return "-"
        search, retrain, ratio = np.mean(costs, axis=0)
        return f"{ratio:.2f}x ({search:.0f} + {retrain:.0f} s)"

    lines = []
    for search, lr in (("", "0.01"), (SLOW, f"{SLOW_LR:g}")):
        for retrain, suffix, layout in (("rewind", "", "elements"), ("rewind", PREFIX, "prefix"),
                                        ("finetune", FINETUNED, "elements")):  # fmt: skip
            for target in fractions:
                label = f"PEP-{base} {target:g}{search}{suffix}"
                runs = [r for r in peps if r["label"] == label]
                if not runs:
                    continue
                seeds = {r["seed"] for r in runs}  # every cell of the row on these seeds
                pep, full_seeds = auc(label, seeds), auc(f"{base} d=64", seeds)
                saved = 1 - np.mean([r["search"]["embedding_nonzero"]
                                     / r["search"]["embedding_total"] for r in runs])  # fmt: skip
                ok = "-" if full_seeds is None else "yes" if pep >= full_seeds - 0.001 else "no"
                size = min(k for k in SIZES if k / 64 >= target)
                rivals = [auc(f"MAG-{base} {target:g}{suffix}", seeds),
                          auc(f"{base} d={size}", seeds)]  # fmt: skip
                above = "-" if None in rivals else ("yes" if pep > max(rivals) else "no")
                lines.append(
                    f"| {target:g} | {lr} | {layout} | {retrain} | {len(seeds)} | "
                    f"{100 * saved:.1f}% | {cell(pep, full_seeds)} | {ok} | "
                    f"{cell(rivals[0], full_seeds)} | d={size}: {cell(rivals[1], full_seeds)} | "
                    f"{above} | {time_cell(runs)} |"
                )
    return [
        f"Against {base} d=64 (test AUC {full_auc:.4f} over its seeds):",
        "",
        "Test AUC against d=64's, each row over the seeds its PEP runs have (seeds), every",
        "cell on those seeds (`-`: a run missing on one of them); MAG: magnitude pruning at",
        "the same target, layout and retraining start (rewind: the lottery ticket, step 0;",
        "finetune: the weights pruned);",
        "uniform: the smallest uniform size with at least the target's fraction of the weights.",
        "Layout (`pep_mask_layout`): elements, the masks as found; prefix, each row's count of",
        "kept weights as its first dimensions (the rows `... prefix`).",
        "Time: the search (once per seed, threshold lr and retraining start, its masks shared by",
        "the targets) plus the row's retraining, over one training of d=64 on the same seed",
        "timed alike (anomaly detection on or off), mean over the seeds (the goal: at most",
        "2.3x); in brackets the mean search + retraining seconds.",
        "",
        "| target | threshold lr | layout | retraining | seeds | fewer embedding weights | PEP | "
        "PEP within 0.001 | MAG | uniform | PEP above both | time / d=64 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
    ]


def _plot(curves, path):
    """Per base model (a row): test AUC against all parameters, and against the embedding
    weights in use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bases = list(dict.fromkeys(base for base, _ in curves))
    fig, rows = plt.subplots(len(bases), 2, figsize=(14, 3.8 * len(bases)), squeeze=False)
    for base, axes in zip(bases, rows):
        for kind, points in sorted((k, p) for (b, k), p in curves.items() if b == base):
            points = sorted(points)
            style = (
                {"marker": "o", "linestyle": "-"}
                if kind.startswith("PEP")
                else (
                    {"marker": "^", "linestyle": ":"}
                    if kind.startswith("MAG")
                    else {"marker": "s", "linestyle": "--"}
                )
            )
            if PREFIX in kind:
                style = {**style, "linestyle": "-."}
            for ax, x in zip(axes, (0, 1)):
                ax.plot([p[x] for p in points], [p[2] for p in points], label=kind, **style)
        axes[0].set_xlabel("parameters (non-zero embedding weights + the rest of the model)")
        axes[1].set_xlabel("embedding weights in use (non-zero)")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_ylabel(f"{base}: test AUC (mean over seeds)")
            ax.grid(alpha=0.3)
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", nargs="+", default=["FM", "DeepFM"])
    parser.add_argument("--only", choices=["uniform", "pep"], help="run one kind of variant")
    parser.add_argument("--labels", nargs="+", help="run only these variants (in this order)")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    add_run_arguments(parser)
    args = parser.parse_args()
    data = {"data_path": os.path.abspath(args.data_path)} if args.data_path else {}

    everything = {k: v for base in args.bases for k, v in variants(base, args.dataset).items()}
    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        model, overrides = everything[label]
        train_and_record(label, model, seed, CONFIG_FILES.get(args.dataset),
                         {**overrides, **data}, dataset=args.dataset)  # fmt: skip
    elif not args.table:
        labels = [
            k
            for k in (args.labels or everything)
            if args.only is None or k.startswith("PEP") == (args.only == "pep")
        ]
        jobs = [(label, seed) for seed in args.seeds for label in labels]
        workdir = os.path.join(HERE, ".work", "pep")
        script_args = ["--bases", *args.bases, "--dataset", args.dataset]
        script_args += ["--data_path", data["data_path"]] if data else []
        run_jobs(__file__, script_args, jobs, records_path(args.dataset), workdir,
                 lambda: write_table(args.bases, args.dataset))  # fmt: skip
    write_table(args.bases, args.dataset)


if __name__ == "__main__":
    main()
