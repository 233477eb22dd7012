"""Run a list of models on one dataset under one protocol and write a results table.

Each (model, seed) runs in its own process (for an honest peak memory) in a scratch
folder, and its record is appended to ``benchmarks/results/raw/<dataset>-<task>.jsonl``;
a rerun skips the records already there, so a killed benchmark resumes. The table
``benchmarks/results/<dataset>-<task>.md`` and its chart ``.png`` are rebuilt from every
record in that file, so later issues add rows by running this script with their models.

Protocols:
    general: RecBole's defaults (random 8:1:1, full ranking, metrics @10) with
        ``valid_metric: NDCG@10``.
    ctr: RecBole's context-aware defaults (labeled evaluation, AUC and LogLoss); on
        ml-100k that is RecBole's built-in CTR setup (label = rating >= 4).

Example:
    python benchmarks/baselines.py --task general --models BPR EASE --seeds 2020 2021 2022
    python benchmarks/baselines.py --task ctr --dataset mydata --data_path /data/atomic
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, HERE)

from runner import load_records, mean_std, run_jobs  # noqa: E402

TASKS = {
    "general": {
        "models": [
            "Pop",
            "ItemKNN",
            "BPR",
            "NeuMF",
            "DMF",
            "FISM",
            "LightGCN",
            "EASE",
            "MultiVAE",
            "SimpleX",
        ],
        "config": {"valid_metric": "NDCG@10"},
        "main_metric": "ndcg@10",
    },
    "ctr": {
        "models": ["LR", "FM", "DeepFM", "AutoInt"],
        "config": {},
        "main_metric": "auc",
    },
}


def run_one(model, dataset, seed, config_dict, config_files):
    """Train and test one model in this process; return its record."""
    sys.path.insert(0, ROOT)
    from recbole_automl import Config
    from recbole_automl.quick_start import train_and_test

    start = time.perf_counter()
    config = Config(
        model=model,
        dataset=dataset,
        config_file_list=config_files or None,
        config_dict={**config_dict, "seed": seed, "show_progress": False},
    )
    result = train_and_test(config, verbose=False)
    wall = time.perf_counter() - start
    trained = result.pop("model")
    return {
        "model": model,
        "seed": seed,
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "params": sum(p.numel() for p in trained.parameters() if p.requires_grad),
    }


def _record_path(dataset, task):
    return os.path.join(RESULTS, "raw", f"{dataset}-{task}.jsonl")


def _machine():
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Python {python}, torch {torch.__version__}"


def write_table(dataset, task, protocol):
    """Rebuild the markdown table and the PNG chart from every record of (dataset, task)."""
    records = load_records(_record_path(dataset, task))
    if not records:
        return
    main = TASKS[task]["main_metric"]
    recorded = list(dict.fromkeys(r["model"] for r in records))
    # The task's baselines in their usual order, then what later issues added.
    models = [m for m in TASKS[task]["models"] if m in recorded]
    models += [m for m in recorded if m not in models]
    metrics = list(records[0]["test"])
    header = (
        ["model", "seeds", f"valid {main}"]
        + [f"test {m}" for m in metrics]
        + ["wall s", "peak MiB", "params"]
    )
    rows, means, stds = [], [], []
    for model in models:
        runs = [r for r in records if r["model"] == model]
        test_main = [r["test"][main] for r in runs]
        means.append(np.mean(test_main))
        stds.append(np.std(test_main))
        rows.append(
            [model, str(len(runs)), mean_std([r["valid"][main] for r in runs])]
            + [mean_std([r["test"][m] for r in runs]) for m in metrics]
            + [
                f"{np.mean([r['wall_s'] for r in runs]):.0f}",
                f"{np.max([r['peak_rss_mib'] for r in runs]):.0f}",
                f"{runs[0]['params']:,}",
            ]
        )
    name = f"{dataset}-{task}"
    commands = list(dict.fromkeys(r["command"] for r in records))
    lines = (
        [
            f"# {dataset}, {task} models",
            "",
            f"Protocol: {protocol}",
            f"Machine: {_machine()}. Date: {date.today().isoformat()}.",
            "Cells are mean ± standard deviation over seeds; wall is one run from config to test",
            "(Python start-up excluded); peak is the largest resident memory of one run; params are"
            " trainable ones (Pop, ItemKNN and EASE keep their statistics outside torch: 1 dummy).",
            "Wall times depend on the machine's load: the runs of a table may have shared the",
            "2 cores with other benchmarks, so read them as upper bounds.",
            "",
            "Reproduce (each command skips runs already in the raw records; delete",
            f"`raw/{name}.jsonl` to rerun all):",
            "",
        ]
        + [f"    {c}" for c in commands]
        + [
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        + ["| " + " | ".join(row) + " |" for row in rows]
    )
    lines += ["", f"![test {main}]({name}.png)", ""]
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write("\n".join(lines))
    _plot(models, means, stds, main, dataset, task, os.path.join(RESULTS, name + ".png"))


def _plot(models, means, stds, metric, dataset, task, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(means)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(models) + 1.2))
    ax.barh([models[i] for i in order], [means[i] for i in order], xerr=[stds[i] for i in order])
    ax.set_xlabel(f"test {metric} (mean ± std over seeds)")
    ax.set_title(f"{dataset}, {task}")
    if metric == "auc":
        ax.set_xlim(left=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_overrides(pairs):
    """``["FISM=600"]`` -> ``{"FISM": 600.0}``."""
    overrides = {}
    for pair in pairs or []:
        model, _, value = pair.partition("=")
        overrides[model] = float(value)
    return overrides


def main():
    global RESULTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="general")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--config_files", nargs="*", default=[])
    parser.add_argument(
        "--time_limit",
        nargs="*",
        default=["FISM=600"],
        metavar="MODEL=SECONDS",
        help="train_time_limit per model (default: FISM=600; RecBole's FISM runs for hours)",
    )
    parser.add_argument("--results_dir", default=RESULTS, help="where tables and records go")
    parser.add_argument("--run-one", nargs=2, metavar=("MODEL", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    RESULTS = os.path.abspath(args.results_dir)

    task = TASKS[args.task]
    config_dict = dict(task["config"])
    if args.data_path:
        config_dict["data_path"] = os.path.abspath(args.data_path)
    config_files = [os.path.abspath(f) for f in args.config_files]
    limits = parse_overrides(args.time_limit)

    if args.run_one:
        model, seed = args.run_one[0], int(args.run_one[1])
        if model in limits:
            config_dict["train_time_limit"] = limits[model]
        record = run_one(model, args.dataset, seed, config_dict, config_files)
        print("RECORD " + json.dumps(record))
        return

    models = args.models or task["models"]
    protocol = {
        "general": "RecBole defaults (random 8:1:1 split, full ranking, @10), "
        "valid_metric NDCG@10; early stopping on validation, test evaluated once.",
        "ctr": "RecBole's context-aware defaults (labeled evaluation, AUC, LogLoss, "
        "valid_metric AUC); on ml-100k RecBole's built-in CTR setup (label = rating >= 4).",
    }[args.task]
    if limits:
        protocol += (
            " Training time limits (s): "
            + ", ".join(f"{m} {s:.0f}" for m, s in limits.items())
            + "."
        )

    script_args = ["--task", args.task, "--dataset", args.dataset, "--time_limit", *args.time_limit]
    if args.data_path:
        script_args += ["--data_path", os.path.abspath(args.data_path)]
    if config_files:
        script_args += ["--config_files", *config_files]
    jobs = [(model, seed) for model in models for seed in args.seeds]
    path = _record_path(args.dataset, args.task)
    workdir = os.path.join(HERE, ".work")
    run_jobs(__file__, script_args, jobs, path, workdir,
             lambda: write_table(args.dataset, args.task, protocol), key="model")  # fmt: skip
    write_table(args.dataset, args.task, protocol)


if __name__ == "__main__":
    main()
