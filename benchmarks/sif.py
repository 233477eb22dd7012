"""SIF: the searched interaction function vs each operation alone vs FM and NeuMF.

For each task and seed, in its own process: SIF (search, then the found function retrained
stand-alone), SIF with each operation fixed (the same model, dimension and training budget,
no element-wise networks), and RecBole's FM and NeuMF under the same protocol. Records go to
``results/raw/<dataset>-sif-<task>.jsonl`` (a rerun skips recorded runs); the tables are
rebuilt from every record into ``results/<dataset>-sif.md``.

Tasks:
    explicit  Rating regression (configs/explicit.yaml: MSE, random 8:1:1, RMSE/MAE;
              FM and NeuMF keep their own loss on ratings scaled to [0, 1]). Errors are
              reported in stars (x 4: the ratings 1-5 are normalised to [0, 1]).
    implicit  RecBole's general defaults (random 8:1:1, one uniform negative per pair,
              full ranking, @10) with valid_metric NDCG@10, for every model
              (benchmarks/configs/implicit.yaml).
    original  The original code's protocol for ratings: ratings z-scored over the whole
              file, then a random 50/25/25 split of all ratings (not per user); MSE,
              RMSE/MAE in z units (what the paper reports; x the ratings' std = stars).

Datasets: ml-100k (in RecBole's wheel) or ml-1m (``--data_path``: the folder holding
``ml-1m/``, built by ../shared/tools/ml-1m.py; never committed), its ratings normalised to
[0, 1] as RecBole's ml-100k config does.

Example:
    python benchmarks/sif.py --task explicit --seeds 2020 2021 2022
    python benchmarks/sif.py --dataset ml-1m --data_path /work/data --task explicit
    python benchmarks/sif.py --table
"""

import argparse
import os
import sys
from datetime import date

import numpy as np
import yaml

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
    mean_std,
    run_jobs,
    runs_note,
    same_timing,
    train_and_record,
)

from recbole_automl.model.layers import INTERACTIONS  # noqa: E402

TASKS = {
    "explicit": {
        "config_files": [os.path.join(ROOT, "configs", "explicit.yaml")],
        "metrics": ["rmse", "mae"],
        "scale": 4.0,  # normalised ratings -> stars
        "bigger": False,
        "offsets": True,  # SIF.yaml's user_item_bias ~: offsets with the MSE loss
    },
    "implicit": {
        "config_files": [os.path.join(HERE, "configs", "implicit.yaml")],
        "metrics": ["ndcg@10", "recall@10"],
        "scale": 1.0,
        "bigger": True,
        "offsets": False,
    },
    # The original code's protocol: ratings z-scored over the whole file before a random
    # 50/25/25 split of all ratings (not per user); errors in z units, as the paper reports.
    "original": {
        "config_files": [os.path.join(ROOT, "configs", "explicit.yaml")],
        "overrides": {
            "normalize_all": False,
            "eval_args": {"split": {"RS": [0.5, 0.25, 0.25]}, "order": "RO", "group_by": None,
                          "mode": "labeled"},
        },  # fmt: skip
        "metrics": ["rmse", "mae"],
        "scale": 1.0,
        "unit": " (z units)",
        "bigger": False,
        "offsets": True,
        "zscore": True,
    },
}
# Config overrides per dataset (ml-1m has no RecBole dataset config: normalise as ml-100k's).
DATASETS = {"ml-100k": {}, "ml-1m": {"normalize_all": True}}
# AutoCF's joint search for ratings: the keys of its config file, as overrides.
with open(os.path.join(ROOT, "configs", "autocf_joint_explicit.yaml")) as f:
    JOINT_EXPLICIT = yaml.safe_load(f)
# The paper's method: the final argmax with its element-wise networks, no warm-up, no
# stand-alone checks (what the rows recorded before those were added ran).
# The search's budget before 2026-12-05 (10 supernet epochs, the found function checked with
# the networks too): pinned in the rows recorded with it.
TEN_EPOCHS_NETWORKS = {"search_epochs": 10, "sif_networks_check": True}
PAPER = {"sif_warmup_epochs": 0, "sif_finalists": 0, "user_item_bias": False, "search_epochs": 10}
# The defaults the rows recorded before commit 88dcb6d ran with (SIF.yaml's user_item_bias
# was False, sif_finalists 3): pinned, so that their labels still run what they recorded.
NO_OFFSETS = {"user_item_bias": False}
THREE_FINALISTS = {"sif_finalists": 3}
# The original code's settings (its README and train script): dimension 2, Adagrad 0.05 for
# the embeddings and heads, weight decay 1e-5, Adam 3e-4 for the architecture, batches of
# 512, 100 search epochs.
RECIPE = {
    "embedding_size": 2, "learner": "adagrad", "learning_rate": 0.05, "weight_decay": 1e-5,
    "arch_learning_rate": 3e-4, "train_batch_size": 512, "search_epochs": 100,
}  # fmt: skip
# label -> (model, config overrides)
VARIANTS = {
    "SIF": ("SIF", PAPER),
    "SIF (30 search epochs)": ("SIF", {**PAPER, "search_epochs": 30}),
    "SIF + user/item offsets": ("SIF", {**PAPER, "user_item_bias": True}),
    "SIF, the paper's recipe (dim 2, Adagrad 0.05, batch 512, 100 search epochs)": (
        "SIF",
        {**PAPER, **RECIPE},
    ),
    "SIF[multiply], the paper's recipe": (
        "SIF",
        {**RECIPE, **NO_OFFSETS, "interaction": "multiply"},
    ),
    "SIF, defaults (warm-up, 3 finalists trained as runs of them, the best kept)": (
        "SIF",
        {**NO_OFFSETS, **THREE_FINALISTS, **TEN_EPOCHS_NETWORKS},
    ),
    "SIF + user/item offsets, the default search": (
        "SIF",
        {**THREE_FINALISTS, **TEN_EPOCHS_NETWORKS, "user_item_bias": True},
    ),
    "SIF, defaults (2 finalists; user/item offsets for ratings)": (
        "SIF",
        # the defaults until sif_check_stall_delta was 1e-3
        {"sif_check_stall_delta": None, **TEN_EPOCHS_NETWORKS},
    ),
    "SIF, defaults + a stalled check behind the best stops (sif_check_stall_delta 1e-3)": (
        "SIF",
        {"sif_check_stall_delta": 1e-3, **TEN_EPOCHS_NETWORKS},
    ),
    "SIF, defaults + the networks' check from the supernet's weights (sif_networks_warm_start)": (
        "SIF",
        {"sif_check_stall_delta": 1e-3, "sif_networks_warm_start": True, **TEN_EPOCHS_NETWORKS},
    ),
    "SIF, defaults (4 supernet epochs, finalists without the networks)": (
        "SIF",
        {"search_epochs": 4, "sif_networks_check": False},
    ),
    "SIF, defaults (10 supernet epochs, finalists without the networks)": (
        "SIF",
        {"search_epochs": 10, "sif_networks_check": False},
    ),
    **{
        f"SIF[{op}] + user/item offsets": ("SIF", {"interaction": op, "user_item_bias": True})
        for op in INTERACTIONS
    },
    **{f"SIF[{op}]": ("SIF", {**NO_OFFSETS, "interaction": op}) for op in INTERACTIONS},
    # The cost ratios' bases, timed again once the plugin left anomaly detection off
    # (runner.anomaly_detection): a searching row is timed against the base timed alike.
    f"SIF[multiply] + user/item offsets{RETIMED}": (
        "SIF",
        {"interaction": "multiply", "user_item_bias": True},
    ),
    f"SIF[multiply]{RETIMED}": ("SIF", {**NO_OFFSETS, "interaction": "multiply"}),
    "FM": ("FM", {}),
    "NeuMF": ("NeuMF", {}),
    "AutoCF joint search (configs/autocf_joint_explicit.yaml)": ("AutoCF", JOINT_EXPLICIT),
}
# Rows whose code is gone (their records stay, shown in the tables): label -> what ran.
RETIRED = {
    "SIF, warm-up + 3 finalists checked (defaults)": "commit 8d7a15f: the finalists checked "
    "for 5 epochs with and without the networks; it picked minus over multiply",
    "SIF, warm-up + 3 finalists trained alone (defaults)": "commit 25fdc7e: as the defaults "
    "row, but the found function retrained from scratch after its checks",
    "SIF, defaults (warm-up, 3 finalists trained alone, the best kept)": "commit c2cb664: as "
    "the defaults row, but the checks at most 50 epochs (the found multiply + networks ran "
    "its 50 and was retrained)",
}
# The single operations SIF searches over, each trained alone with SIF's own settings, by
# the user_item_bias setting they are compared at.
SINGLE_OPERATIONS = {
    offsets: {
        f"SIF[{op}]" + (" + user/item offsets" if offsets else "") + retimed
        for op in INTERACTIONS
        for retimed in ("", RETIMED)
    }
    for offsets in (False, True)
}


def _offsets(label, spec):
    """Whether the variant ``label`` has user/item offsets on the task ``spec``."""
    return label in VARIANTS and bool(VARIANTS[label][1].get("user_item_bias", spec["offsets"]))


def _record_path(dataset, task):
    return os.path.join(RESULTS, "raw", f"{dataset}-sif-{task}.jsonl")


def task_table(dataset, task):
    """Markdown lines for one task, from its records."""
    spec = TASKS[task]
    records = load_records(_record_path(dataset, task))
    if not records:
        return []
    metrics, scale, main = spec["metrics"], spec["scale"], spec["metrics"][0]
    unit = spec.get("unit", " (stars)" if scale != 1.0 else "")
    header = ["variant", "seeds", f"valid {main}{unit}"] + [f"test {m}{unit}" for m in metrics]
    header += ["wall s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in [*VARIANTS, *RETIRED]:
        runs = [r for r in records if r["label"] == label]
        if not runs:
            continue
        row = [label, str(len(runs)), mean_std([r["valid"][main] for r in runs], scale)]
        row += [mean_std([r["test"][m] for r in runs], scale) for m in metrics]
        row += [f"{np.mean([r['wall_s'] for r in runs]):.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""] + _search_lines(records, spec)


def _search_lines(records, spec):
    """Per searching variant and seed: the function found, its cost, and the best single
    operation (trained alone with SIF's default settings, at the variant's user_item_bias)
    on validation, with its test."""
    main, bigger = spec["metrics"][0], spec["bigger"]
    lines = [
        "| variant | seed | found (search) | search s | retrain s | wall / SIF[multiply]'s "
        "| best single operation on valid (test) | SIF test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in [*VARIANTS, *RETIRED]:
        for r in sorted((r for r in records if r["label"] == label and r["search"]),
                        key=lambda r: r["seed"]):  # fmt: skip
            singles = SINGLE_OPERATIONS[_offsets(label, spec)]
            alone = [a for a in records if a["label"] in singles and a["seed"] == r["seed"]]
            multiply = same_timing(r, [a for a in alone if a["label"].startswith("SIF[multiply]")])
            if not alone:
                continue
            s = r["search"]
            pick = (max if bigger else min)(alone, key=lambda a: a["valid"][main])
            networks = {True: " + networks", False: ""}.get(s.get("elementwise_networks"), "")
            ratio = f"{r['wall_s'] / multiply[0]['wall_s']:.1f}" if multiply else "-"
            lines.append(
                f"| {label} | {r['seed']} | {s['interaction']}{networks} "
                f"({s['search_epochs']} epochs) | {s['search_seconds']:.0f} "
                f"| {s['retrain_seconds']:.0f} | {ratio} "
                f"| {pick['label'][4:pick['label'].index(']')]} "
                f"({pick['test'][main] * spec['scale']:.4f}) "
                f"| {r['test'][main] * spec['scale']:.4f} |"
            )
    return lines


def write_tables(dataset):
    records = [r for task in TASKS for r in load_records(_record_path(dataset, task))]
    if not records:
        return
    shown = {r["label"] for r in records}
    retired = [f"Retired row `{name}`: {what}." for name, what in RETIRED.items() if name in shown]
    retired += [""] if retired else []
    lines = [
        f"# SIF on {dataset}: searched interaction function vs single operations",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "Each cell is mean ± standard deviation over seeds. SIF = one-shot search (supernet,",
        "bilevel: architecture on validation batches, weights on training batches), then the",
        "final argmax and element-wise networks retrained stand-alone from scratch (the",
        "paper's method); SIF, defaults (warm-up, 3 finalists ...): 2 warm-up epochs train",
        "every operation in turn, then the argmax and the 2 best others by one-shot",
        "validation are trained alone as runs of them (early stopping, at most `epochs`), then",
        "the best of them with the networks; the best on validation is the found model, kept",
        "as its check trained it (a retraining would repeat it, with the same seed); SIF,",
        "defaults (2 finalists; ...) (since 2026-12-03): the same with the argmax and the best",
        "other only, and user/item offsets when the loss is MSE (ratings); SIF[op] = the same",
        "model with that operation fixed and no element-wise networks, trained with the same",
        "settings (embedding 64, Adam 1e-3, early stopping on validation); + user/item",
        "offsets: user_item_bias True. A searching row is compared with the single operations",
        "at its user_item_bias setting. Test is evaluated once per run. Wall = one run from",
        "config to test (data loading included); retrain s: the retraining, or the keeping of",
        "the found check's model. Wall / SIF[multiply]'s: against the SIF[multiply] run of the",
        "same seed and user_item_bias timed alike: before 2026-12-05 every run trained with",
        "autograd's anomaly detection on (RecBole's sine.py turned it on; the plugin now leaves",
        "it off: the same numbers, 2-3.5x less time for SIF), so rows run since are timed against",
        f"`SIF[multiply]{RETIMED}` or `SIF[multiply] + user/item offsets{RETIMED}` ('-' until",
        "it is run). Until 2026-12-05 the rows of a task shared one checkpoint folder, and a",
        "search's journal is keyed without search_epochs: a row that differs from one run",
        "before only in search_epochs (`SIF (30 search epochs)`) may have extended that search",
        "(the same results; its wall s then lacks the first epochs). Each row and seed has its",
        "own folder since.",
        "",
        *retired,
        "Reproduce (each command skips runs already recorded):",
        "",
        *command_lines(records),
        "",
    ]
    for task in TASKS:
        table = task_table(dataset, task)
        if table:
            lines += [f"## {task}", "", *table, ""]
    with open(os.path.join(TABLES, f"{dataset}-sif.md"), "w") as f:
        f.write("\n".join(lines))


def zscored_copy(dataset, data_path=None):
    """``(name, data_path)`` of a copy of ``dataset``'s ratings, z-scored over the whole file
    (the original code's preprocessing), written under the working directory."""
    import pandas as pd
    from recbole import __file__ as recbole_file

    source = data_path or os.path.join(os.path.dirname(recbole_file), "dataset_example")
    inter = pd.read_csv(os.path.join(source, dataset, f"{dataset}.inter"), sep="\t")
    rating = inter["rating:float"]
    inter["rating:float"] = (rating - rating.mean()) / rating.std(ddof=0)
    name = f"{dataset}-z"
    folder = os.path.abspath(os.path.join("data", name))
    os.makedirs(folder, exist_ok=True)
    inter.to_csv(os.path.join(folder, f"{name}.inter"), sep="\t", index=False)
    return name, os.path.dirname(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="explicit")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    add_run_arguments(parser)
    args = parser.parse_args()

    dataset = args.dataset
    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        model, overrides = VARIANTS[label]
        spec = TASKS[args.task]
        overrides = {**DATASETS[dataset], **spec.get("overrides", {}), **overrides}
        if args.data_path:
            overrides["data_path"] = os.path.abspath(args.data_path)
        if spec.get("zscore"):
            dataset, overrides["data_path"] = zscored_copy(dataset, args.data_path)
        # A folder of its own for each row and seed: a search journal is keyed by its config
        # without search_epochs and epochs (a larger budget extends it), so rows that differ
        # only there would otherwise resume each other's search and time only the rest.
        overrides["checkpoint_dir"] = checkpoint_dir(f"{label} {seed}")
        train_and_record(label, model, seed, spec["config_files"], overrides, dataset=dataset)
    elif not args.table:
        jobs = [(label, seed) for seed in args.seeds for label in args.variants]
        suffix = "" if dataset == "ml-100k" else f"-{dataset}"
        workdir = os.path.join(HERE, ".work", f"sif-{args.task}{suffix}")
        script_args = ["--task", args.task, "--dataset", dataset]
        if args.data_path:
            script_args += ["--data_path", os.path.abspath(args.data_path)]
        path = _record_path(dataset, args.task)
        run_jobs(__file__, script_args, jobs, path, workdir, lambda: write_tables(dataset))
    write_tables(dataset)


if __name__ == "__main__":
    main()
