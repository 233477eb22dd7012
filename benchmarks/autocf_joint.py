"""AutoCF's search on ml-100k: the architecture alone, or jointly with its hyper-parameters.

Each protocol is a whole run as a user starts it (``--model=AutoCF`` with
benchmarks/configs/implicit.yaml and the protocol's config file and keys): the search on
the training and validation splits, the found model retrained with early stopping, the
test split evaluated once. The hyper-parameters-only protocol searches the joint space's
hyper-parameters for the architecture that the architecture-only protocol found on the
same seed. Budgets are candidates x epochs (x the share of users with
``search_data_fraction``), never seconds. The table puts the search's best validation
score, the epochs it spent and the retrained model against EASE's validation score on the
same seeds (results/ml-100k-general.md); the chart draws the best validation score found
against the epochs spent (a search on a share of the users validates on those users: its
search scores are on another scale than the full data's, and an epoch of CE with 8
negatives and the item-item term costs more than one of BPR-MF: see candidates s).
Candidates s sums the journal's seconds of every candidate (a resumed search counts the
candidates of its first run too). Writes
``results/ml-100k-autocf-joint.md`` (and ``.png``) from
``results/raw/ml-100k-autocf-joint.jsonl``; a killed run resumes. Every joint row
before the one "retrained with the found learning rate" retrained its found model with
AutoCF.yaml's learning rate, weight decay and learner instead of the found ones (RecBole's
Trainer keeps its own copies; fixed on 2026-12-03): their retrained and test columns are
those of that model; their search columns stand.

    python benchmarks/autocf_joint.py --seeds 2020"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from runner import (  # noqa: E402
    TABLES,
    add_run_arguments,
    ease_valid,
    load_records,
    mean_std,
    reproduce_lines,
    run_and_tabulate,
    runs_note,
    train_and_record,
    write_lines,
)

RECORDS = os.path.join(HERE, "results", "raw", "ml-100k-autocf-joint.jsonl")
IMPLICIT = os.path.join(HERE, "configs", "implicit.yaml")
JOINT = os.path.join(os.path.dirname(HERE), "configs", "autocf_joint.yaml")
ASHA = {"search_scheduler": "asha", "search_eval_step": 2, "asha_min_epochs": 2,
        "asha_reduction_factor": 3}  # fmt: skip
ARCHITECTURE_ONLY = "architecture only (AutoCF.yaml: 40 candidates x 10 epochs)"
HYPER_ONLY = "hyper-parameters only (the architecture-only winner), 40 x 10 epochs"
# Successive halving up to 30 epochs: the few candidates that pass every rung train about as
# long as a converged model does (the diagnosis's models stop after 20-40 epochs).
DEEP_ASHA = {"search_scheduler": "asha", "search_epochs": 30, "search_eval_step": 3,
             "asha_min_epochs": 3, "asha_reduction_factor": 3}  # fmt: skip
# The defaults the protocols above SOFTMAX ran with (BPR, presets with NeuMF): pinned.
BPR_DEFAULTS = {"loss_type": "BPR", "search_presets": ["MF", "FISM", "NeuMF", "SVD++"]}
# The softmax over all items: its space is the row-scored architectures (multiply, SUM/VEC);
# history_dropout 0 and RecBole's batches of pairs: the defaults when these protocols ran (before
# 2026-12-04), pinned.
SOFTMAX = {"loss_type": "softmax", "search_presets": ["MF", "FISM", "DMF", "SVD++"],
           "history_dropout": 0.0, "softmax_user_chunk": None}  # fmt: skip
SOFTMAX_JOINT = os.path.join(HERE, "configs", "autocf_softmax_joint.yaml")
# protocol -> (config files on top of implicit.yaml, keys)
PROTOCOLS = {
    ARCHITECTURE_ONLY: ([], BPR_DEFAULTS),
    "joint (configs/autocf_joint.yaml), 40 x 10 epochs": ([JOINT], BPR_DEFAULTS),
    "joint, ASHA (rungs 2, 6 of 10 epochs), 60 candidates": (
        [JOINT], {**BPR_DEFAULTS, **ASHA, "search_trials": 60},
    ),  # fmt: skip
    HYPER_ONLY: ([JOINT], BPR_DEFAULTS),  # + the architecture the first protocol found
    "joint, ASHA, half the users, 100 candidates": (
        [JOINT], {**BPR_DEFAULTS, **ASHA, "search_trials": 100, "search_data_fraction": 0.5},
    ),  # fmt: skip
    "joint, ASHA, half the users, 40 candidates": (
        [JOINT], {**BPR_DEFAULTS, **ASHA, "search_trials": 40, "search_data_fraction": 0.5},
    ),  # fmt: skip
    "joint, ASHA (rungs 3, 9, 27 of 30 epochs), half the users, 60 candidates": (
        [JOINT], {**BPR_DEFAULTS, **DEEP_ASHA, "search_trials": 60, "search_data_fraction": 0.5},
    ),  # fmt: skip
    "softmax: architecture only, 24 candidates x 10 epochs": (
        [], {**SOFTMAX, "search_trials": 24},
    ),  # fmt: skip
    "softmax: joint (benchmarks/configs/autocf_softmax_joint.yaml), 24 x 10 epochs": (
        [SOFTMAX_JOINT], {**SOFTMAX, "search_trials": 24},
    ),  # fmt: skip
    # The same protocol after the retraining fix (the same searches: they resume from their
    # journals; only the found model's retraining differs).
    "softmax: joint, 24 x 10 epochs, retrained with the found learning rate": (
        [SOFTMAX_JOINT], {**SOFTMAX, "search_trials": 24},
    ),  # fmt: skip
    # Chosen on near-converged scores: the 10-epoch ranking put history-MLP x history-MAT
    # above the two-sided FISM, which is better on validation once both converge.
    "softmax: architecture only, ASHA (rungs 4, 12, 36 epochs), 24 candidates": (
        [], {**SOFTMAX, "search_trials": 24, "search_scheduler": "asha", "search_epochs": 36,
             "search_eval_step": 4, "asha_min_epochs": 4, "asha_reduction_factor": 3},
    ),  # fmt: skip
}


NOT_FOUND = ("folder", "comparison", "search_seconds", "retrain_seconds", "valid_score")


def search_trace(result, fraction):
    """What the journal says of the search: each trial's epochs, score, status and seconds."""
    from recbole_automl.search import Journal

    trials = Journal(os.path.join(result["search"]["folder"], "journal.jsonl")).load()
    return {"trials": [[t.epochs, t.value, t.status, t.seconds] for t in trials],
            "fraction": fraction}  # fmt: skip


def epochs_spent(record):
    return sum(t[0] for t in record["trials"]) * record["fraction"]


def best_curve(record):
    """(epochs spent, best validation score so far) after each trial."""
    spent, best, curve = 0.0, -np.inf, []
    for epochs, value, _, _ in record["trials"]:
        spent += epochs * record["fraction"]
        if value is not None:
            best = max(best, value)
        curve.append((spent, best))
    return curve


def write_table(records):
    seeds = sorted({r["seed"] for r in records})
    ease = ease_valid(seeds)
    lines = [
        "# AutoCF on ml-100k: the architecture alone, or with its hyper-parameters",
        "",
        runs_note(records),
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        *reproduce_lines(records),
        "| protocol | seeds | candidates | epochs spent | search best valid | retrained valid "
        "ndcg@10 | vs EASE (valid) | test ndcg@10 | candidates s | retrain s | found (seed 1) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in PROTOCOLS:
        rows = [r for r in records if r["label"] == label]
        if not rows:
            continue
        valid = [r["valid"]["ndcg@10"] for r in rows]
        row_ease = [ease[r["seed"]] for r in rows if r["seed"] in ease]
        gap = (
            f"{np.mean(valid) / np.mean(row_ease) - 1:+.1%}" if len(row_ease) == len(rows) else "-"
        )
        found = {k: float(f"{v:.4g}") if isinstance(v, float) else v
                 for k, v in rows[0]["search"].items() if k not in NOT_FOUND}  # fmt: skip
        if "train_neg_sample_args" in found:  # its one searched field
            found["train_neg_sample_args"] = {
                "sample_num": found["train_neg_sample_args"]["sample_num"]
            }
        lines.append(
            f"| {label} | {len(rows)} | {np.mean([len(r['trials']) for r in rows]):.0f} | "
            f"{np.mean([epochs_spent(r) for r in rows]):.0f} | "
            f"{np.mean([r['search']['valid_score'] for r in rows]):.4f} | {mean_std(valid)} | "
            f"{gap} | {mean_std([r['test']['ndcg@10'] for r in rows])} | "
            f"{np.mean([sum(t[3] for t in r['trials']) for r in rows]):.0f} | "
            f"{np.mean([r['search']['retrain_seconds'] for r in rows]):.0f} | `{found}` |"
        )
    for seed in seeds:
        if seed in ease:
            lines.append(f"| EASE, seed {seed} (ml-100k-general.md) | 1 | - | - | - | "
                         f"{ease[seed]:.4f} | - | - | - | - | - |")  # fmt: skip
    lines += ["", "![best validation score against epochs spent](ml-100k-autocf-joint.png)", ""]
    plot(records)
    return write_lines("ml-100k-autocf-joint.md", lines)


def plot(records):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label in PROTOCOLS:
        for i, record in enumerate(r for r in records if r["label"] == label):
            x, y = zip(*best_curve(record))
            ax.step(x, y, where="post", label=label if i == 0 else None,
                    color=f"C{list(PROTOCOLS).index(label)}", alpha=0.8)  # fmt: skip
    ax.set_xlabel("epochs spent (x share of users)")
    ax.set_ylabel("best search valid ndcg@10")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(TABLES, "ml-100k-autocf-joint.png"), dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    args = parser.parse_args()
    if args.run_one:
        label, seed = args.run_one[0], int(args.run_one[1])
        files, keys = PROTOCOLS[label]
        overrides = {**keys, "use_gpu": False}

        if label == HYPER_ONLY:
            (winner,) = [r["search"]["architecture"] for r in load_records(RECORDS)
                         if r["label"] == ARCHITECTURE_ONLY and r["seed"] == seed]  # fmt: skip
            overrides["architecture"] = winner
        fraction = keys.get("search_data_fraction", 1.0)
        train_and_record(label, "AutoCF", seed, [IMPLICIT, *files], overrides,
                         lambda result: search_trace(result, fraction))  # fmt: skip
        return
    jobs = [(label, seed) for label in args.protocols for seed in args.seeds]
    run_and_tabulate(__file__, args, jobs, RECORDS, write_table)


if __name__ == "__main__":
    main()
