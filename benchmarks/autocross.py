"""AutoCross on ml-100k (RecBole's built-in CTR setup): LR, FM and DeepFM with and without
the crosses AutoCross finds, and LR with every second-order cross (the brute-force baseline).

For each seed, in its own process each: the plain models; AutoCross with each base model
(the search runs once per seed, in the LR run, and the FM and DeepFM runs train on the
crosses it saved); LR on a producer with every second-order cross of the atoms (same
vocabularies: values seen at least ``autocross_min_count`` times). RecBole's defaults for
every model (Adam 1e-3, batch 2048, early stopping on valid AUC); AutoCross.yaml's defaults
for the search. Records go to ``results/raw/ml-100k-autocross.jsonl`` (a rerun skips
recorded runs); the table is rebuilt into ``results/ml-100k-autocross.md``.

Another dataset (records and table ``<dataset>-autocross``): ``--dataset ml-1m --data_path
DIR`` runs issue 19's ml-1m CTR protocol (benchmarks/configs/ml-1m-ctr.yaml; the data from
``../shared/tools/ml-1m.py``, never committed).

Example:
    python benchmarks/autocross.py --seeds 2020 2021 2022
    python benchmarks/autocross.py --dataset ml-1m --data_path /data --seeds 2020 \
        --variants LR FM "LR + AutoCross"
"""

import argparse
import collections
import hashlib
import json
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

BASES = ["LR", "FM", "DeepFM"]
ALL_PAIRS = "LR + every 2nd-order cross"
# label -> (model, config overrides); AutoCross runs after the plain ones, LR's first.
VARIANTS = {
    **{base: (base, {}) for base in BASES},
    **{f"{base} + AutoCross": ("AutoCross", {"base_model": base}) for base in BASES},
    **{
        f"{base} + AutoCross (every part)": (
            "AutoCross",
            {"base_model": base, "autocross_placement": "all"},
        )
        for base in BASES[1:]
    },
    ALL_PAIRS: ("AutoCross", {"base_model": "LR"}),
}
# LR + AutoCross with other search settings (AutoCross.yaml: min_count 20, min_gain 0.0001,
# the setting of this grid with the best valid AUC).
SETTINGS = {
    f"min_count={count} min_gain={gain:g}": {
        "autocross_min_count": count,
        "autocross_min_gain": gain,
    }
    for count in (5, 20)
    for gain in (0.001, 0.0001)
    if (count, gain) != (20, 0.0001)
}
for name, settings in SETTINGS.items():
    VARIANTS[f"LR + AutoCross {name}"] = ("AutoCross", {"base_model": "LR", **settings})
# The same models with RecBole's weight_decay (0 above), to choose it on validation.
WEIGHT_DECAYS = [1e-5, 1e-4]
MAIN = list(VARIANTS)
WITH_WEIGHT_DECAY = [*BASES, *[f"{b} + AutoCross" for b in BASES],
                     *[f"{b} + AutoCross (every part)" for b in BASES[1:]]]  # fmt: skip
for label in WITH_WEIGHT_DECAY:
    for wd in WEIGHT_DECAYS:
        model, overrides = VARIANTS[label]
        VARIANTS[f"{label} wd={wd:g}"] = (model, {**overrides, "weight_decay": wd})
# The search alone on a share of the training rows (issue 19: time and peak memory at most
# linear in the rows): label -> share.
SCALE = {f"search on {share:.0%} of the training rows": share for share in (0.1, 0.3, 1.0)}
CONFIG_FILES = {"ml-1m": [os.path.join(HERE, "configs", "ml-1m-ctr.yaml")]}
PROTOCOLS = {
    "ml-100k": [
        "Protocol: RecBole's context-aware defaults on ml-100k (label = rating >= 4, random",
    ],
    "ml-1m": [
        "Protocol: issue 19's ml-1m CTR protocol (benchmarks/configs/ml-1m-ctr.yaml: rating >= 4",
        "against <= 2, rating 3 dropped, user and item features; random",
    ],
}


def records_path(dataset):
    return os.path.join(RESULTS, "raw", f"{dataset}-autocross.jsonl")


def _splits(seed, dataset="ml-100k", data=None, **keys):
    """AutoCross's config on ``dataset`` (its CTR protocol) and its train and valid loaders."""
    sys.path.insert(0, ROOT)
    from recbole.data import create_dataset, data_preparation

    from recbole_automl import Config
    from recbole_automl.utils import init_seed

    config = Config(model="AutoCross", dataset=dataset, config_file_list=CONFIG_FILES.get(dataset),
                    config_dict={"seed": seed, **(data or {}), **keys})  # fmt: skip
    init_seed(seed, config["reproducibility"])
    train, valid, _ = data_preparation(config, create_dataset(config))
    return config, train, valid


def every_pair_producer(seed, path, dataset="ml-100k", data=None):
    """Save a producer with every second-order cross, vocabularies from the training split."""
    from recbole_automl.methods.cross_search import every_pair

    config, train, valid = _splits(seed, dataset, data)
    every_pair(config, train._dataset, valid._dataset).save(path)


def _peak_rss_mib():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def search_scale(label, seed, dataset="ml-100k", data=None):
    """Time the search on ``SCALE[label]`` of the training rows (drawn by the seed): its
    seconds and the peak resident memory it adds to the loaded data (Linux: the peak is reset
    to the current size before the search, through /proc/self/clear_refs); print the record."""
    import tempfile
    import time

    from recbole.utils import init_logger

    from recbole_automl.methods.cross_search import CrossSearch

    config, train, valid = _splits(seed, dataset, data, show_progress=False)
    init_logger(config)
    train_dataset = train._dataset
    rows = len(train_dataset)
    keep = np.random.default_rng(seed).permutation(rows)[: round(SCALE[label] * rows)]
    train_dataset = train_dataset.copy(train_dataset.inter_feat[np.sort(keep)])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak resident size restarts from the current one
    _, before = _peak_rss_mib()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        search = CrossSearch.on(config, train_dataset, valid._dataset, folder, None)
        producer, trials = search.run()
    seconds = time.perf_counter() - start
    peak, _ = _peak_rss_mib()
    record = {"label": label, "seed": seed, "rows": len(train_dataset), "trials": len(trials),
              "search_seconds": round(seconds, 1), "peak_added_mib": round(peak - before, 1),
              "crosses": producer.cross_names}  # fmt: skip
    print("RECORD " + json.dumps(record))


def _scale_lines(by):
    runs = [r for label in SCALE for r in by.get(label, [])]
    if not runs:
        return []
    lines = [
        "Scale: the search alone (atoms, beam search, field-wise LR; no base model) on a share",
        "of the training rows drawn by the seed, in a process of its own: its seconds, and the",
        "peak resident memory it adds to the loaded data (the peak reset before the search).",
        "",
        "| rows | seed | search s | s per 100k rows | peak added MiB | MiB per 100k rows | "
        "steps (trials) | crosses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: (r["seed"], r["rows"])):
        per = 1e5 / r["rows"]
        lines.append(
            f"| {r['rows']:,} | {r['seed']} | {r['search_seconds']:.0f} | "
            f"{r['search_seconds'] * per:.1f} | {r['peak_added_mib']:.0f} | "
            f"{r['peak_added_mib'] * per:.0f} | {r['trials']} | {len(r['crosses'])} |"
        )
    return lines + [""]


def write_table(dataset="ml-100k"):
    records = load_records(records_path(dataset))
    if not records:
        return
    by = collections.defaultdict(list)
    for r in records:
        by[r["label"]].append(r)
    rows = []
    for label in MAIN:
        runs = by.get(label)
        if not runs:
            continue
        crosses = [len(r["search"]["crosses"]) for r in runs if r["search"]]
        search_s = [
            r["search"]["search_seconds"] for r in runs if label.startswith("LR + AutoCross")
        ]
        cells = [
            label,
            len(runs),
            f"{np.mean([r['valid']['auc'] for r in runs]):.4f}",
            mean_std([r["test"]["auc"] for r in runs]),
            mean_std([r["test"]["logloss"] for r in runs]),
            f"{np.mean(crosses):.1f}" if crosses else "0",
            f"{np.mean(search_s):.0f}" if search_s else "-",
            f"{np.mean([r['wall_s'] for r in runs]):.0f}",
            f"{np.mean([r['params'] for r in runs]):,.0f}",
        ]
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    lines = [
        f"# AutoCross on {dataset}"
        + (" (RecBole's built-in CTR setup)" if dataset == "ml-100k" else ""),
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        *PROTOCOLS.get(dataset, PROTOCOLS["ml-1m"]),
        "8:1:1, labeled evaluation, global AUC and LogLoss from RecBole's evaluator, Adam 1e-3,",
        "batch 2048, early stopping on valid AUC, test evaluated once per run). `B + AutoCross`:",
        "RecBole's model B on the data plus the crosses AutoCross found on the training split",
        "(scored on the validation split; AutoCross.yaml's defaults unless the label says",
        "otherwise). The search runs once per seed and settings, in the LR run; the FM and",
        "DeepFM runs reuse its crosses. The crosses go to the model's first-order part only",
        "(`autocross_placement: linear`, Wide & Deep's placement), or to `(every part)`: chosen",
        "on the mean valid AUC of FM and DeepFM.",
        "`LR + every 2nd-order cross`: every cross of two atoms,",
        "same vocabularies. AutoCross.yaml's min_count 20 and min_gain 0.0001 are the setting",
        "of the `LR + AutoCross` rows with the best mean valid AUC. Mean ± std over seeds;",
        "crosses: found (mean); search s: the search's seconds; wall s: one run from config to",
        "test, search included.",
        "",
        "Reproduce: `python benchmarks/autocross.py` runs every row (about 50 min on 2 cores;",
        "a rerun skips recorded runs). The records were made by these commands, two at a time",
        "on the 2 cores (so wall times are upper bounds):",
        "",
        *command_lines(records),
        "",
        "| run | seeds | valid AUC | test AUC | test LogLoss | crosses | search s | wall s | "
        "params |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    lines += _goal_lines(by)
    lines += _scale_lines(by)
    lines += _weight_decay_lines(by)
    for label in [x for x in MAIN if x.startswith("LR + AutoCross")]:
        if by.get(label):
            lines += [f"Crosses found by `{label}` (in the order they were added):", ""]
            lines += [f"- seed {r['seed']}: {', '.join(r['search']['crosses']) or 'none'}"
                      for r in sorted(by[label], key=lambda r: r["seed"])]  # fmt: skip
            lines.append("")
    with open(os.path.join(TABLES, f"{dataset}-autocross.md"), "w") as f:
        f.write("\n".join(lines))


def _goal_lines(by):
    """Each goal on the seeds both sides ran (paired); `>` must beat the other side by more
    than its spread over those seeds (its standard deviation; 0 with one seed)."""
    goals = [("LR + AutoCross", "FM", ">="), ("DeepFM + AutoCross", "DeepFM", ">"),
             ("DeepFM + AutoCross (every part)", "DeepFM", ">")]  # fmt: skip
    lines = ["| goal | seeds | test AUC | against | spread | met |", "|---|---|---|---|---|---|"]
    for label, other, rule in goals:
        seeds = {r["seed"] for r in by.get(label, [])} & {r["seed"] for r in by.get(other, [])}
        if not seeds:
            continue
        mine, theirs = ([r["test"]["auc"] for r in by[x] if r["seed"] in seeds]
                        for x in (label, other))  # fmt: skip
        gap, spread = np.mean(mine) - np.mean(theirs), np.std(theirs)
        met = gap >= 0 if rule == ">=" else gap > spread
        lines.append(f"| {label} {rule} {other} | {len(seeds)} | {np.mean(mine):.4f} | "
                     f"{np.mean(theirs):.4f} | {f'{spread:.4f}' if rule == '>' else '-'} | "
                     f"{'yes' if met else 'no'} ({gap:+.4f}) |")  # fmt: skip
    return lines + [""] if len(lines) > 2 else []


def _weight_decay_lines(by):
    """Each model with the weight decay of {0, WEIGHT_DECAYS} best on validation, per seed."""
    rows = []
    for label in WITH_WEIGHT_DECAY:
        labels = [label] + [f"{label} wd={wd:g}" for wd in WEIGHT_DECAYS]
        seeds = set.intersection(*({r["seed"] for r in by.get(x, [])} for x in labels))
        chosen = [
            max((r for x in labels for r in by[x] if r["seed"] == seed),
                key=lambda r: r["valid"]["auc"])
            for seed in sorted(seeds)
        ]  # fmt: skip
        if not chosen:
            continue
        picks = ", ".join(r["label"].split("wd=")[1] if "wd=" in r["label"] else "0"
                          for r in chosen)  # fmt: skip
        rows.append(
            f"| {label} | {len(chosen)} | {picks} | "
            f"{np.mean([r['valid']['auc'] for r in chosen]):.4f} | "
            f"{mean_std([r['test']['auc'] for r in chosen])} |"
        )
    if not rows:
        return []
    return [
        "With RecBole's `weight_decay` chosen on validation from {0, "
        + ", ".join(f"{wd:g}" for wd in WEIGHT_DECAYS)
        + "} per model and seed (the table above uses 0, RecBole's default):",
        "",
        "| model | seeds | chosen weight decay | valid AUC | test AUC |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=[*VARIANTS, *SCALE]
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    add_run_arguments(parser)
    args = parser.parse_args()
    data = {"data_path": os.path.abspath(args.data_path)} if args.data_path else {}

    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        if label in SCALE:
            search_scale(label, seed, args.dataset, data)
            return
        model, overrides = VARIANTS[label]
        if label == ALL_PAIRS:
            path = os.path.abspath(f"every-pair-{seed}.json")
            every_pair_producer(seed, path, args.dataset, data)
            overrides = {**overrides, "autocross_producer": path}
        train_and_record(label, model, seed, CONFIG_FILES.get(args.dataset),
                         {**overrides, **data}, dataset=args.dataset)  # fmt: skip
    elif not args.table:
        jobs = [(label, seed) for seed in args.seeds for label in args.variants]
        # One folder per lane (RecBole names its files by the second they were made in).
        variants = hashlib.sha1(repr(args.variants).encode()).hexdigest()[:6]
        lane = "-".join(map(str, args.seeds)) + "-" + variants
        workdir = os.path.join(HERE, ".work", f"autocross-{args.dataset}-{lane}")
        script_args = ["--variants", *args.variants, "--dataset", args.dataset]
        script_args += ["--data_path", data["data_path"]] if data else []
        run_jobs(__file__, script_args, jobs, records_path(args.dataset), workdir,
                 lambda: write_table(args.dataset))  # fmt: skip
    write_table(args.dataset)


if __name__ == "__main__":
    main()
