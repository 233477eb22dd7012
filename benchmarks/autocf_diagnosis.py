"""Why AutoCF's search stays below EASE on ml-100k: what its space and training can express.

An architecture of the kind AutoCF's searches find on ml-100k (history-MAT on both sides:
the encodings of every seed's best candidate in results/raw/ml-100k-autocf-general-*; here
with multiply and SUM, a two-sided FISM) is trained to convergence
(epochs 40, early stopping after 5 validations without gain) with one change at a time:
hyper-parameters, the loss and its negatives, and the trainable full-rank item-item term
(``item_item``) that the tutorial's space lacks. Only validation NDCG@10 is tabulated (the
choice a search would make); EASE's validation score (results/ml-100k-general.md, the same
protocol and seeds) is the line to cross. Writes ``results/ml-100k-autocf-diagnosis.md``
from ``results/raw/ml-100k-autocf-diagnosis.jsonl``; a killed run resumes.

    python benchmarks/autocf_diagnosis.py --seeds 2020
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import (  # noqa: E402
    add_run_arguments,
    ease_valid,
    reproduce_lines,
    run_and_tabulate,
    runs_note,
    train_and_record,
    write_lines,
)

RECORDS = os.path.join(HERE, "results", "raw", "ml-100k-autocf-diagnosis.jsonl")
CONFIG = os.path.join(HERE, "configs", "implicit.yaml")
FOUND = [{"user": "history-MAT", "item": "history-MAT", "interaction": "multiply",
          "prediction": "SUM"}]  # fmt: skip
NEGATIVES = {"distribution": "uniform", "sample_num": 4, "alpha": 1.0, "dynamic": False,
             "candidate_num": 0}  # fmt: skip
# loss_type BPR, history_dropout 0, RecBole's batches of pairs: AutoCF's defaults when the first
# variants ran (pinned; a variant sets its own).
BASE = {"architecture": FOUND, "epochs": 40, "stopping_step": 5, "eval_step": 1,
        "loss_type": "BPR", "history_dropout": 0.0, "softmax_user_chunk": None}  # fmt: skip
VARIANTS = {
    "found architecture, defaults (BPR, 1 negative, embedding 64)": {},
    "embedding_size 256": {"embedding_size": 256},
    "weight_decay 1e-4": {"weight_decay": 1e-4},
    "learning_rate 0.005": {"learning_rate": 0.005},
    "history_alpha 1.0": {"history_alpha": 1.0},
    "CE, 4 negatives": {"loss_type": "CE", "train_neg_sample_args": NEGATIVES},
    "item_item": {"item_item": True},
    "item_item, CE, 4 negatives": {
        "item_item": True, "loss_type": "CE", "train_neg_sample_args": NEGATIVES,
    },  # fmt: skip
    "MF preset + item_item": {"architecture": "MF", "item_item": True},
    "item_item, CE, 4 negatives, epochs 100": {
        "item_item": True, "loss_type": "CE", "train_neg_sample_args": NEGATIVES, "epochs": 100,
    },  # fmt: skip
    "item_item, CE, 16 negatives": {
        "item_item": True, "loss_type": "CE",
        "train_neg_sample_args": {**NEGATIVES, "sample_num": 16},
    },  # fmt: skip
    "item_item, CE, 4 negatives, learning_rate 0.003": {
        "item_item": True, "loss_type": "CE", "train_neg_sample_args": NEGATIVES,
        "learning_rate": 0.003,
    },  # fmt: skip
    # These two scored each pair's negatives with its positive left out of the history
    # (the only softmax then): pinned to softmax_leave_out.
    "softmax (every item a negative)": {"loss_type": "softmax", "softmax_leave_out": True},
    "item_item, softmax": {"item_item": True, "loss_type": "softmax", "softmax_leave_out": True},
    "softmax, negatives once per user (default)": {"loss_type": "softmax"},
    "item_item, softmax, negatives once per user (default)": {
        "item_item": True, "loss_type": "softmax",
    },  # fmt: skip
    "softmax, embedding_size 256": {"loss_type": "softmax", "embedding_size": 256},
    "softmax, history-MAT x ID-MAT (FISM), embedding_size 256": {
        "loss_type": "softmax", "embedding_size": 256, "architecture": "FISM",
    },  # fmt: skip
    "softmax, history_dropout 0.25": {"loss_type": "softmax", "history_dropout": 0.25},
    "softmax, history_dropout 0.5": {"loss_type": "softmax", "history_dropout": 0.5},
    # Batches of whole users (the records of 2026-12-04 16:02 ran a first version: batches
    # of a fixed number of whole users; this one cuts the shuffled users at the batch size).
    "softmax, history_dropout 0.5, user batches": {
        "loss_type": "softmax", "history_dropout": 0.5, "softmax_user_chunk": 10**9,
    },
    "softmax, history_dropout 0.5, user chunks of 8": {
        "loss_type": "softmax", "history_dropout": 0.5, "softmax_user_chunk": 8,
    },
    "softmax, history_dropout 0.5, user chunks of 32": {
        "loss_type": "softmax", "history_dropout": 0.5, "softmax_user_chunk": 32,
    },
    "item_item, softmax, history_dropout 0.5": {
        "item_item": True, "loss_type": "softmax", "history_dropout": 0.5,
    },  # fmt: skip
}


def write_table(records):
    seeds = sorted({r["seed"] for r in records})
    ease = ease_valid(seeds)
    lines = [
        "# AutoCF on ml-100k: what the found architecture reaches, one change at a time",
        "",
        runs_note(records) + " Validation only (the test split is evaluated once per run "
        "and kept in the raw records, but nothing here is chosen on it).",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        "The item_item rows ran before 2026-12-05: the item-item term then summed every "
        "history entry, whatever history_dropout left out of the encodings (since then it "
        "leaves out the same entries).",
        "",
        *reproduce_lines(records),
        "| variant | seeds | valid ndcg@10 | vs EASE (valid, the same seeds) | wall s | params |",
        "|---|---|---|---|---|---|",
    ]
    for label in VARIANTS:
        rows = [r for r in records if r["label"] == label]
        if not rows:
            continue
        valid = np.mean([r["valid"]["ndcg@10"] for r in rows])
        row_ease = [ease[r["seed"]] for r in rows if r["seed"] in ease]  # the row's seeds
        gap = f"{valid / np.mean(row_ease) - 1:+.1%}" if len(row_ease) == len(rows) else "-"
        lines.append(
            f"| {label} | {len(rows)} | {valid:.4f} | {gap} | "
            f"{np.mean([r['wall_s'] for r in rows]):.0f} | {rows[0]['params']:,} |"
        )
    for seed in seeds:
        if seed in ease:
            lines.append(
                f"| EASE, seed {seed} (ml-100k-general.md) | 1 | {ease[seed]:.4f} | - | - | - |"
            )
    lines.append("")
    return write_lines("ml-100k-autocf-diagnosis.md", lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        overrides = {**BASE, **VARIANTS[label], "use_gpu": False}
        train_and_record(label, "AutoCF", seed, [CONFIG], overrides)
        return
    jobs = [(label, seed) for label in args.variants for seed in args.seeds]
    run_and_tabulate(__file__, args, jobs, RECORDS, write_table)


if __name__ == "__main__":
    main()
