"""AutoCF at scale: synthetic datasets shaped like ml-1m, and the cost of each encoding.

``generate`` writes a RecBole ``.inter`` file of ``--users`` x ``--items`` with about
``--interactions`` pairs: item popularity follows ml-1m's (the sorted share of each item
in ml-1m's interactions, stretched over the new number of items: its long tail), user
activity follows ml-1m's distribution of interactions per user, rescaled to the target
mean (at least 5 each), and each user draws 70% of their items from one of 20 clusters of
items (a collaborative signal), the rest from all items, by popularity, without repeats;
an item no user drew goes to one user at random.
The data is written outside the repository (``--out``): it is generated, not shipped.

``time`` trains, on such a dataset (``--data_path``, ``--dataset``), one candidate of each
input encoding (the same encoding on both sides, or ``X x Y``: X for users, Y for items;
multiply, SUM; plus the item-item term)
under ``--loss_type`` (BPR, the first records' loss, or softmax, AutoCF's default since
2026-12-03) for one epoch and validates it once (full ranking), each in its own process,
and records the seconds and the peak resident memory. Writes ``results/scale.md`` from
``results/raw/scale.jsonl``.

    python benchmarks/scale.py generate --fit /data/ml-1m/ml-1m.inter --out /tmp/synth \\
        --name synth-100k --users 6000 --items 18000 --interactions 100000
    python benchmarks/scale.py time --data_path /tmp/synth --dataset synth-100k
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    append_record,
    load_records,
    reproduce_lines,
    runs_note,
    write_lines,
)

RECORDS = os.path.join(HERE, "results", "raw", "scale.jsonl")
ENCODINGS = ["ID-MAT", "ID-MLP", "history-MAT", "history-MLP", "history-MAT + item_item",
             "history-MAT x ID-MAT", "history-MLP x ID-MAT",
             "history-MAT x ID-MAT + item_item"]  # fmt: skip
# The item-item term's neighbours an item (item_item_neighbours; records before 2026-12-05
# have none: the full n_items^2 term).
NEIGHBOURS = 128
CLUSTERS, IN_CLUSTER = 20, 0.7


def read_counts(path):
    """Interactions per item and per user of a RecBole ``.inter`` file (user, item first)."""
    users, items = np.loadtxt(path, skiprows=1, usecols=(0, 1), dtype=np.int64, unpack=True)
    return np.bincount(np.unique(items, return_inverse=True)[1]), np.bincount(
        np.unique(users, return_inverse=True)[1]
    )


def generate(item_counts, user_counts, users, items, interactions, seed):
    """(user, item) pairs, without repeats, shaped as described in the module docstring."""
    rng = np.random.default_rng(seed)
    share = np.sort(item_counts)[::-1] / item_counts.sum()
    ranks = np.linspace(0, len(share) - 1, items)
    popularity = np.interp(ranks, np.arange(len(share)), share)
    popularity = popularity[rng.permutation(items)]  # popular items anywhere in the ids
    popularity /= popularity.sum()
    activity = rng.choice(user_counts, users) * (interactions / users) / user_counts.mean()
    activity = np.clip(np.round(activity), 5, items // 2).astype(np.int64)
    cluster_of_item = rng.integers(CLUSTERS, size=items)
    cluster_of_user = rng.integers(CLUSTERS, size=users)
    members = [np.flatnonzero(cluster_of_item == c) for c in range(CLUSTERS)]
    pairs = []
    for user, count in enumerate(activity):
        own = members[cluster_of_user[user]]
        local = rng.choice(own, 2 * count, p=popularity[own] / popularity[own].sum())
        wide = rng.choice(items, 2 * count, p=popularity)
        mixed = np.where(rng.random(2 * count) < IN_CLUSTER, local, wide)
        _, first = np.unique(mixed, return_index=True)
        chosen = mixed[np.sort(first)][:count]  # distinct items, in draw order
        pairs.append(np.stack([np.full(len(chosen), user), chosen], 1))
    pairs = np.concatenate(pairs)
    unseen = np.setdiff1d(np.arange(items), pairs[:, 1])  # every item once at least
    extra = np.stack([rng.integers(users, size=len(unseen)), unseen], 1)
    return np.concatenate([pairs, extra])


def write_inter(pairs, folder, name):
    os.makedirs(os.path.join(folder, name), exist_ok=True)
    path = os.path.join(folder, name, f"{name}.inter")
    with open(path, "w") as f:
        f.write("user_id:token\titem_id:token\n")
        np.savetxt(f, pairs + 1, fmt="%d", delimiter="\t")
    return path


def architecture(encoding):
    """``"X"``: X on both sides; ``"X x Y"``: X for users, Y for items (a user-side history
    only: what a search uses above item_history_max_interactions); ``" + item_item"``."""
    sides = encoding.split(" + ")[0].split(" x ")
    user, item = sides[0], sides[-1]
    branch = {"user": user, "item": item, "interaction": "multiply", "prediction": "SUM"}
    return [branch], encoding.endswith("item_item")


def time_one(data_path, dataset, encoding, seed, loss_type="BPR"):
    """One epoch and one validation of ``encoding`` in this process; print the record."""
    from recbole.data import create_dataset, data_preparation

    from recbole_automl import Config
    from recbole_automl.model.general_recommender.autocf import AutoCF
    from recbole_automl.trainer.autocf_trainer import CandidateTrainer
    from recbole_automl.utils import ConfigError, init_seed

    branches, item_item = architecture(encoding)
    config = Config(
        model="AutoCF", dataset=dataset, read_cmd_line=False,
        config_file_list=[os.path.join(HERE, "configs", "implicit.yaml")],
        config_dict={"data_path": data_path, "architecture": branches, "item_item": item_item,
                     "item_item_neighbours": NEIGHBOURS,
                     "loss_type": loss_type,  # BPR: AutoCF's default when the first ran
                     "seed": seed, "use_gpu": False, "show_progress": False, "state": "ERROR"},
    )  # fmt: skip
    init_seed(seed, config["reproducibility"])
    dataset_ = create_dataset(config)
    train_data, valid_data, _ = data_preparation(config, dataset_)
    record = {"dataset": dataset, "encoding": encoding, "seed": seed, "loss_type": loss_type,
              "users": dataset_.user_num - 1, "items": dataset_.item_num - 1,
              "interactions": len(dataset_),
              **({"item_item_neighbours": NEIGHBOURS} if item_item else {})}  # fmt: skip
    try:
        model = AutoCF(config, train_data._dataset)
    except ConfigError as error:  # item_item above item_item_max_items: say so in the table
        print("RECORD " + json.dumps({**record, "refused": str(error)}))
        return
    trainer = CandidateTrainer(config, model)
    start = time.perf_counter()
    trainer._train_epoch(train_data, 0, show_progress=False)
    epoch = time.perf_counter() - start
    start = time.perf_counter()
    trainer._valid_epoch(valid_data, show_progress=False)
    valid = time.perf_counter() - start
    record.update(
        epoch_s=round(epoch, 2), valid_s=round(valid, 2),
        peak_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        params=sum(p.numel() for p in model.parameters()),
    )  # fmt: skip
    print("RECORD " + json.dumps(record))


def write_table(records):
    lines = [
        "# AutoCF at scale: one epoch and one validation per encoding",
        "",
        runs_note(records),
        "",
        __doc__.split("\n\n")[2].replace("\n", " "),
        "",
        *reproduce_lines(records),
        "| dataset | users | items | interactions | loss | encoding | epoch s | validation s | "
        "peak MiB | params |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        loss = r.get("loss_type", "BPR")  # the first records: BPR, AutoCF's default then
        if architecture(r["encoding"])[1]:  # the term's neighbours (before: every item)
            k = r.get("item_item_neighbours")
            r = {**r, "encoding": r["encoding"] + (f" ({k} neighbours)" if k else " (every item)")}
        if "refused" in r:
            lines.append(f"| {r['dataset']} | {r['users']:,} | {r['items']:,} | "
                         f"{r['interactions']:,} | {loss} | {r['encoding']} | refused: "
                         f"{r['refused']} | - | - | - |")  # fmt: skip
            continue
        lines.append(
            f"| {r['dataset']} | {r['users']:,} | {r['items']:,} | {r['interactions']:,} | "
            f"{loss} | {r['encoding']} | {r['epoch_s']} | {r['valid_s']} | {r['peak_mib']:,} | "
            f"{r['params']:,} |"
        )
    return write_lines("scale.md", lines + [""])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--fit", required=True, help="ml-1m.inter (see ../shared/tools/ml-1m.py)")
    gen.add_argument("--out", required=True)
    gen.add_argument("--name", required=True)
    gen.add_argument("--users", type=int, required=True)
    gen.add_argument("--items", type=int, required=True)
    gen.add_argument("--interactions", type=int, required=True)
    gen.add_argument("--seed", type=int, default=2020)
    timing = sub.add_parser("time")
    timing.add_argument("--data_path", required=True)
    timing.add_argument("--dataset", required=True)
    timing.add_argument("--encodings", nargs="+", default=ENCODINGS, choices=ENCODINGS)
    timing.add_argument("--seed", type=int, default=2020)
    timing.add_argument("--loss_type", choices=["BPR", "softmax"], default="BPR")
    timing.add_argument("--run-one", help=argparse.SUPPRESS)
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "generate":
        item_counts, user_counts = read_counts(args.fit)
        pairs = generate(item_counts, user_counts, args.users, args.items, args.interactions,
                         args.seed)  # fmt: skip
        path = write_inter(pairs, args.out, args.name)
        print(f"{path}: {len(pairs):,} interactions, {args.users:,} users, {args.items:,} items")
        return
    if args.command == "time" and args.run_one:
        time_one(args.data_path, args.dataset, args.run_one, args.seed, args.loss_type)
        return
    if args.command == "time":
        import subprocess

        done = {(r["dataset"], r["encoding"], r.get("loss_type", "BPR"),
                 r.get("item_item_neighbours")) for r in load_records(RECORDS)}  # fmt: skip
        command = " ".join(["python benchmarks/scale.py", *sys.argv[1:]])
        for encoding in args.encodings:
            neighbours = NEIGHBOURS if architecture(encoding)[1] else None
            if (args.dataset, encoding, args.loss_type, neighbours) in done:
                continue
            proc = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--run-one", encoding],
                capture_output=True, text=True,
            )  # fmt: skip
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RECORD ")]
            if proc.returncode != 0 or not lines:
                print(f"{encoding} failed:\n{proc.stderr[-2000:]}", flush=True)
                continue
            record = append_record(RECORDS, {**json.loads(lines[-1][7:]), "command": command})
            print(record, flush=True)
    print("\n".join(write_table(load_records(RECORDS))))


if __name__ == "__main__":
    main()
