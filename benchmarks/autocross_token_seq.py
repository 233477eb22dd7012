"""How to cross a token_seq field (an item's genres): by element or as a set?

On RecBole's ml-100k CTR setup, a logistic regression (scikit-learn, L2 strength chosen on
validation from a grid) on one-hot user, item, age, gender, occupation, release year and
multi-hot genres, then the same plus user x genre crossed by element (user 7 x Action,
user 7 x Comedy: multi-hot) or as a set (user 7 x "Action Comedy": one-hot). One record per
seed goes to ``results/raw/ml-100k-autocross-token-seq.jsonl`` (recorded seeds are skipped),
and the table, built from every record, to ``results/ml-100k-autocross-token-seq.md``.

Example:
    python benchmarks/autocross_token_seq.py --seeds 2020 2021 2022
"""

import argparse
import os
import sys
from datetime import date

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    TABLES,
    append_record,
    command_lines,
    load_records,
    mean_std,
    runs_note,
)

RESULTS = os.path.join(HERE, "results")
RECORDS = os.path.join(RESULTS, "raw", "ml-100k-autocross-token-seq.jsonl")
TOKENS = ["user_id", "item_id", "age", "gender", "occupation", "release_year"]
C_GRID = [0.03, 0.1, 0.3, 1.0]


def one_hot(ids, width):
    rows = np.arange(len(ids))
    return sp.csr_matrix((np.ones(len(ids)), (rows, ids)), shape=(len(ids), width))


def multi_hot(ids, width):
    """Rows of a (rows, length) id matrix; id 0 is padding."""
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    keep = ids.reshape(-1) > 0
    data = np.ones(keep.sum())
    return sp.csr_matrix((data, (rows[keep], ids.reshape(-1)[keep])), shape=(ids.shape[0], width))


def features(frame, dataset, cross, set_ids):
    users, genres = frame["user_id"].numpy(), frame["class"].numpy()
    parts = [one_hot(frame[f].numpy(), dataset.num(f)) for f in TOKENS]
    parts.append(multi_hot(genres, dataset.num("class")))
    if cross == "by element":
        width = dataset.num("class")
        parts.append(multi_hot(np.where(genres > 0, users[:, None] * width + genres, 0),
                               dataset.num("user_id") * width))  # fmt: skip
    elif cross == "as a set":
        sets = [set_ids.setdefault(frozenset(row[row > 0].tolist()), len(set_ids))
                for row in genres]  # fmt: skip
        parts.append(one_hot(users * 10_000 + np.array(sets), dataset.num("user_id") * 10_000))
    return sp.hstack(parts).tocsr()


def run(seed):
    """cross -> (valid AUC, test AUC) of the LR whose C is best on validation."""
    from recbole.data import create_dataset, data_preparation
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from recbole_automl import Config
    from recbole_automl.model.feature_cross import joined
    from recbole_automl.utils import init_seed

    config = Config(model="AutoCross", dataset="ml-100k", config_dict={"seed": seed})
    init_seed(seed, config["reproducibility"])
    splits = data_preparation(config, create_dataset(config))
    dataset = splits[0]._dataset
    frames = [joined(s._dataset) for s in splits]
    out = {}
    for cross in ("none", "by element", "as a set"):
        set_ids = {}  # the same ids in every split
        x = [features(f, dataset, cross, set_ids) for f in frames]
        y = [f["label"].numpy() for f in frames]
        best = None
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=2000).fit(x[0], y[0])
            scores = [roc_auc_score(y[i], model.predict_proba(x[i])[:, 1]) for i in (1, 2)]
            if best is None or scores[0] > best[0]:
                best = scores
        out[cross] = best
    return out


def write_table(records):
    seeds = [r["seed"] for r in records]
    lines = [
        "# Crossing a token_seq field on ml-100k: by element or as a set",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "scikit-learn logistic regression on one-hot user, item, age, gender, occupation,",
        "release year and multi-hot genres (RecBole's ml-100k CTR setup, random 8:1:1), L2",
        f"strength C chosen on valid AUC from {C_GRID}; plus user x genre crossed by element",
        "(multi-hot) or as a set (one-hot of the genre set). Mean ± std over seeds "
        f"{', '.join(map(str, seeds))}.",
        "",
        *command_lines(records),
        "",
        "| user x genre | valid AUC | test AUC |",
        "|---|---|---|",
    ]
    for cross in records[0]["auc"]:
        valid = mean_std([r["auc"][cross][0] for r in records])
        test = mean_std([r["auc"][cross][1] for r in records])
        lines.append(f"| {cross} | {valid} | {test} |")
    with open(os.path.join(TABLES, "ml-100k-autocross-token-seq.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    if args.table:
        print("\n".join(write_table(load_records(RECORDS))))
        return
    command = "python benchmarks/autocross_token_seq.py --seeds " + " ".join(map(str, args.seeds))
    done = {r["seed"] for r in load_records(RECORDS)}
    for seed in args.seeds:
        if seed not in done:
            append_record(RECORDS, {"seed": seed, "auc": run(seed), "command": command})
    print("\n".join(write_table(load_records(RECORDS))))


if __name__ == "__main__":
    main()
