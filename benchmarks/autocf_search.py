"""AutoCF search benchmarks on ml-100k: the space table, ARSP vs random, no silver bullet.

Subcommands:
    tabulate  Train every single-branch architecture of AutoCF's space once with the
              search's short budget (``--search_epochs``) and record it in a journal
              (resumable: rerun to continue). ``--task implicit`` ranks by NDCG@10,
              ``--task explicit`` regresses ratings (RMSE). ``--task joint`` draws
              ``--trials`` random points of the joint space (architecture x
              hyper-parameters, ``configs/autocf_joint_table.yaml``) instead, trained on
              ``--data_fraction`` of the users (a low fidelity).
    compare   Replay ARSP and random search on that table for many seeds: every
              strategy sees the same recorded validation score for a point, so
              the comparison is about which points each one chooses to train.
              Writes ``results/ml-100k-autocf-strategies.md`` (``--task joint``:
              ``ml-100k-autocf-strategies-joint.md``) and its PNG.
    space     The best architectures for implicit vs explicit feedback side by side:
              ``results/ml-100k-autocf-space.md``.
    workers   The same search with 1 and N worker processes: wall time, and whether
              the journals agree: ``results/ml-100k-autocf-workers.md``.

Example:
    python benchmarks/autocf_search.py tabulate --task implicit
    python benchmarks/autocf_search.py compare --trials 40 --seeds 20
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
    append_record,
    by_run,
    load_records,
    reproduce_lines,
    runs_note,
    write_lines,
)

from recbole_automl.model.general_recommender.autocf import SPACE  # noqa: E402
from recbole_automl.search import (  # noqa: E402
    BranchSpace,
    Budget,
    CategoricalSpace,
    Journal,
    PredictorStrategy,
    RandomStrategy,
    Space,
    TrialOutcome,
    best_so_far,
    point_key,
    run_search,
)

TASKS = {
    # loss_type BPR: AutoCF's default when these tables were made (pinned).
    "implicit": {"config_files": [], "config": {"valid_metric": "NDCG@10", "loss_type": "BPR"},
                 "bigger": True},  # fmt: skip
    "explicit": {
        "config_files": [os.path.join(ROOT, "configs", "explicit.yaml")],
        "config": {},
        "bigger": False,
    },
    # AutoCF's defaults (softmax) with the joint space of issue 16's benchmark 5.
    "joint": {
        "config_files": [os.path.join(HERE, "configs", "autocf_joint_table.yaml")],
        "config": {"valid_metric": "NDCG@10"},
        "bigger": True,
    },
}


def table_dir(task, epochs, fraction=1.0):
    name = f"ml-100k-autocf-table-{task}-e{epochs}"
    return os.path.join(RESULTS, "raw", name if fraction == 1.0 else f"{name}-f{fraction}")


def tabulate(args):
    from recbole_automl import run_recbole_automl

    task = TASKS[args.task]
    config = {
        **task["config"],
        "search_strategy": "grid",
        "search_trials": args.limit or len(CategoricalSpace(SPACE)),
        "search_time": None,
        "search_epochs": args.search_epochs,
        "search_dir": table_dir(args.task, args.search_epochs),
        "seed": args.seed,
        "show_progress": False,
    }
    if args.task == "joint":  # random points of an unbounded space, at a low fidelity
        config.update(
            search_strategy="random", search_trials=args.trials,
            search_data_fraction=args.data_fraction, search_workers=args.workers,
            search_dir=table_dir("joint", args.search_epochs, args.data_fraction),
            epochs=1,  # the found point's retraining is not part of the table
        )  # fmt: skip
    os.chdir(os.path.join(HERE, ".work"))
    run_recbole_automl("AutoCF", "ml-100k", task["config_files"], config)


def load_table(task, epochs, fraction=1.0):
    trials = Journal(os.path.join(table_dir(task, epochs, fraction), "journal.jsonl")).load()
    return {point_key(t.point): t for t in trials}


class TabulatedSpace(Space):
    """``space`` restricted to the points of a table (its encoding, their keys)."""

    def __init__(self, space, points):
        self.space, self.points = space, points

    def sample(self, rng):
        return self.points[rng.integers(len(self.points))]

    def encode(self, point):
        return self.space.encode(point)


def table_space(task):
    """The space a table's points were drawn from (for the predictor's encoding)."""
    if task != "joint":
        return BranchSpace(CategoricalSpace(SPACE), 1)
    from recbole_automl import Config
    from recbole_automl.trainer.autocf_trainer import search_space

    config = Config(model="AutoCF", dataset="ml-100k", read_cmd_line=False,
                    config_file_list=TASKS["joint"]["config_files"])  # fmt: skip
    return search_space(config)


def replay(table, strategy_name, seed, trials, k1, k2, bigger, space=None):
    """One search over the tabulated points only; returns its trials."""
    space = TabulatedSpace(space or table_space("implicit"), [t.point for t in table.values()])
    if strategy_name == "arsp":
        strategy = PredictorStrategy(space, k2=k2, seed=seed)
    else:
        strategy = RandomStrategy(space)

    def objective(point, report=None):
        recorded = table[point_key(point)]
        if not recorded.complete:
            raise ValueError(recorded.error)
        return TrialOutcome(recorded.value, epochs=recorded.epochs)

    return run_search(
        objective, space, strategy, Budget(max_trials=trials), None,
        bigger=bigger, seed=seed, batch_size=k1,
    )  # fmt: skip


def _parse_settings(pairs):
    """``["5,45", "3,47"]`` -> ``[(5, 45), (3, 47)]``: ARSP's (K1, K2) settings."""
    return [tuple(int(v) for v in pair.split(",")) for pair in pairs]


def compare(args):
    joint = args.task == "joint"
    fraction = args.data_fraction if joint else 1.0
    table = load_table(args.task, args.search_epochs, fraction)
    if not table:
        sys.exit(f"no table: run 'tabulate --task {args.task}' first")
    space = table_space(args.task)
    settings = _parse_settings(args.arsp)
    runs = {"random": ("random", settings[0])}
    runs.update({f"ARSP K1={k1} K2={k2}": ("arsp", (k1, k2)) for k1, k2 in settings})
    curves = {
        label: np.array(
            [
                best_so_far(replay(table, name, seed, args.trials, k1, k2, True, space), True)
                for seed in range(args.seeds)
            ]
        )
        for label, (name, (k1, k2)) in runs.items()
    }
    random_final = curves["random"][:, -1].mean()
    values = sorted((t.value for t in table.values() if t.complete), reverse=True)
    name = "ml-100k-autocf-strategies" + ("-joint" if joint else "")
    _plot_curves(curves, os.path.join(TABLES, f"{name}.png"))
    settings_arg = " ".join(args.arsp)
    fidelity = f" --data_fraction {fraction}" if joint else ""
    tabulate_args = f"--trials {len(table)} " if joint else ""
    if joint:
        what = [
            f"Table: {len(table)} random points of AutoCF's joint space (the row-scored",
            "single-branch architectures under softmax x embedding_size, learning_rate,",
            "weight_decay, history_alpha: `benchmarks/configs/autocf_joint_table.yaml`), each",
            f"trained once for {args.search_epochs} epochs on {fraction:.0%} of the users (a low",
            "fidelity; seed 2020, valid NDCG@10 on those users).",
        ]
    else:
        what = [
            f"Table: {len(table)} single-branch architectures of AutoCF's space, each trained "
            "once",
            f"for {args.search_epochs} epochs (seed 2020, RecBole defaults, valid NDCG@10).",
        ]
    lines = [
        "# AutoCF search on ml-100k: ARSP vs random search" + (" (joint space)" if joint else ""),
        "",
        *what,
        f"The best scores {values[0]:.4f}, the median {np.median(values):.4f}; "
        f"{len(table) - len(values)} failed. Each strategy is replayed on",
        f"this table for {args.seeds} seeds with a budget of {args.trials} candidates; a",
        "candidate's score is the table's, so strategies differ only in what they choose;",
        "every candidate costs the same epochs, so candidates are compute.",
        f"The first ARSP setting is the default. Date: {date.today().isoformat()}.",
        "",
        "Reproduce:",
        "",
        f"    python benchmarks/autocf_search.py tabulate --task {args.task} {tabulate_args}"
        f"--search_epochs {args.search_epochs}{fidelity}",
        f"    python benchmarks/autocf_search.py compare --task {args.task} --trials {args.trials} "
        f"--seeds {args.seeds} --search_epochs {args.search_epochs}{fidelity} "
        f"--arsp {settings_arg}",
        "",
        "Best valid NDCG@10 after n candidates (mean ± std over seeds), and the candidates",
        f"needed until the mean reaches random search's final mean best ({random_final:.4f}):",
        "",
        "| strategy | " + " | ".join(f"n={n}" for n in _checkpoints(args.trials)) + " | needed |",
        "|---|" + "---|" * (len(_checkpoints(args.trials)) + 1),
    ]
    for label, runs_ in curves.items():
        cells = [f"{runs_[:, n - 1].mean():.4f} ± {runs_[:, n - 1].std():.4f}"
                 for n in _checkpoints(args.trials)]  # fmt: skip
        reached = np.flatnonzero(runs_.mean(axis=0) >= random_final - 1e-9)
        needed = str(int(reached[0]) + 1) if len(reached) else "not reached"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {needed} |")
    lines += ["", f"![best so far]({name}.png)", ""]
    with open(os.path.join(TABLES, f"{name}.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def _checkpoints(trials):
    return sorted({5, 10, 20, 30, 50, trials} & set(range(1, trials + 1)))


def _plot_curves(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in curves.items():
        x = np.arange(1, runs.shape[1] + 1)
        mean, std = runs.mean(axis=0), runs.std(axis=0)
        ax.plot(x, mean, label=name)
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("candidates trained")
    ax.set_ylabel("best valid NDCG@10 (mean ± std over seeds)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def space_table(args):
    tables = {task: load_table(task, args.search_epochs) for task in ("implicit", "explicit")}
    common = set(tables["implicit"]) & set(tables["explicit"])
    ranks = {}
    for task, table in tables.items():
        complete = [t for key, t in table.items() if t.complete and key in common]
        complete.sort(key=lambda t: t.utility(TASKS[task]["bigger"]), reverse=True)
        ranks[task] = {point_key(t.point): (i + 1, t) for i, t in enumerate(complete)}
    lines = [
        "# Is there a silver bullet? The best AutoCF architectures per task on ml-100k",
        "",
        f"{len(common)} single-branch architectures of AutoCF's space (the first ones of the",
        "grid shuffled with seed 2020), each trained once for each task for",
        f"{args.search_epochs} epochs (seed 2020). Implicit: BPR loss, valid NDCG@10. Explicit:",
        "MSE loss on ratings, valid RMSE (ratings normalised to [0, 1]; x4 for stars).",
        "Rank = position among these architectures for that task (failed ones unranked).",
        "",
        "Reproduce:",
        "",
        "    python benchmarks/autocf_search.py tabulate --task implicit",
        f"    python benchmarks/autocf_search.py tabulate --task explicit --limit {len(common)}",
        "    python benchmarks/autocf_search.py space",
        "",
    ]
    for task, other in (("implicit", "explicit"), ("explicit", "implicit")):
        lines += [
            f"## Top {args.top} for {task} feedback",
            "",
            f"| rank | user | item | interaction | prediction | valid | rank for {other} |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, (rank, trial) in list(ranks[task].items())[: args.top]:
            b = trial.point[0]
            other_rank = ranks[other].get(key, ("-",))[0]
            lines.append(
                f"| {rank} | {b['user']} | {b['item']} | {b['interaction']} | "
                f"{b['prediction']} | {trial.value:.4f} | {other_rank} |"
            )
        lines.append("")
    from scipy.stats import spearmanr

    both = [k for k in ranks["implicit"] if k in ranks["explicit"]]
    rho = spearmanr(
        [ranks["implicit"][k][0] for k in both], [ranks["explicit"][k][0] for k in both]
    )
    best = {task: next(iter(ranks[task])) for task in ranks}
    lines += [
        f"Rank correlation between the tasks (Spearman, {len(both)} architectures): "
        f"{rho.statistic:.2f}. The best implicit architecture ranks "
        f"{ranks['explicit'][best['implicit']][0]} for explicit feedback; the best explicit "
        f"one ranks {ranks['implicit'][best['explicit']][0]} for implicit feedback.",
        "",
    ]
    with open(os.path.join(TABLES, "ml-100k-autocf-space.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


WORKER_RECORDS = os.path.join(RESULTS, "raw", "ml-100k-autocf-workers.jsonl")


def workers(args):
    """The same random search with 1 and with N worker processes: wall time and journals.

    One record per worker count (its wall time and its journal's points and scores) is
    appended to ``raw/ml-100k-autocf-workers.jsonl``; the table shows every run.
    """
    import time

    from recbole_automl import run_recbole_automl

    if args.table:
        print("\n".join(write_workers_table(load_records(WORKER_RECORDS))))
        return
    os.chdir(os.path.join(HERE, ".work"))
    command = (
        f"python benchmarks/autocf_search.py workers --workers {args.workers} "
        f"--trials {args.trials} --search_epochs {args.search_epochs}"
    )
    for count in (1, args.workers):
        folder = os.path.join(HERE, ".work", f"workers-{count}-{int(time.time())}")
        config = {
            "valid_metric": "NDCG@10", "search_strategy": "random", "search_trials": args.trials,
            "search_time": None, "search_epochs": args.search_epochs, "search_workers": count,
            "search_dir": folder, "epochs": 1, "show_progress": False,
            "loss_type": "BPR",  # the default when its records were made (pinned)
        }  # fmt: skip
        load = os.getloadavg()[0]
        start = time.perf_counter()
        run_recbole_automl("AutoCF", "ml-100k", config_dict=config)
        wall = time.perf_counter() - start
        journal = [[t.point, t.value] for t in Journal(folder + "/journal.jsonl").load()]
        append_record(WORKER_RECORDS, {
            "workers": count, "trials": args.trials, "search_epochs": args.search_epochs,
            "wall_s": round(wall, 2), "load_before": round(load, 2), "journal": journal,
            "command": command,
        })  # fmt: skip
    print("\n".join(write_workers_table(load_records(WORKER_RECORDS))))


def write_workers_table(records):
    """One block per run: each worker count against that run's 1-worker search."""
    lines = [
        "# AutoCF search: candidates trained in parallel worker processes (ml-100k)",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "",
        "The same random search (candidates x search epochs, then a 1-epoch retrain and the",
        "test) with `search_workers` 1 and N (forked processes, torch threads split between",
        "them). Wall time of the whole run, data loading included; load: the machine's",
        "1-minute load average before the run (timings compare only at the same load).",
        "",
        *reproduce_lines(records),
        "| run | search_workers | candidates x epochs | wall s | candidates / minute | speed-up "
        "| load | same candidates as 1 worker | identical scores | largest score difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run, rows in by_run(records).items():
        base = min(rows, key=lambda r: r["workers"])
        for row in rows:
            pairs = list(zip(base["journal"], row["journal"]))
            same = [p for p, _ in base["journal"]] == [p for p, _ in row["journal"]]
            equal = sum(a[1] == b[1] for a, b in pairs)
            gap = max(abs(a[1] - b[1]) for a, b in pairs)
            lines.append(
                f"| {run} | {row['workers']} | {row['trials']} x {row['search_epochs']} | "
                f"{row['wall_s']:.0f} | {row['trials'] / row['wall_s'] * 60:.1f} | "
                f"{base['wall_s'] / row['wall_s']:.2f}x | {row['load_before']:.1f} | {same} | "
                f"{equal} of {len(pairs)} | {gap:.4f} |"
            )
    lines += [
        "",
        "Scores can differ between worker counts: each worker has fewer torch threads, which",
        "changes the order of float sums; with the same thread count a search is",
        "reproducible to the bit (tests/test_autocf.py).",
        "",
    ]
    return write_lines("ml-100k-autocf-workers.md", lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tab = sub.add_parser("tabulate")
    tab.add_argument("--seed", type=int, default=2020)
    tab.add_argument("--trials", type=int, default=1000, help="--task joint: points drawn")
    tab.add_argument("--workers", type=int, default=1, help="--task joint: search_workers")
    tab.add_argument(
        "--limit", type=int, default=None, help="only the first N of the shuffled grid"
    )
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("--trials", type=int, default=40)
    cmp_.add_argument("--seeds", type=int, default=20)
    cmp_.add_argument(
        "--arsp", nargs="+", default=["5,45", "3,47", "5,95", "10,90"], metavar="K1,K2",
        help="ARSP settings to compare; the first is the default",
    )  # fmt: skip
    spc = sub.add_parser("space")
    spc.add_argument("--top", type=int, default=10)
    wrk = sub.add_parser("workers")
    wrk.add_argument("--workers", type=int, default=2)
    wrk.add_argument("--trials", type=int, default=12)
    wrk.add_argument("--table", action="store_true", help="only rebuild the table")
    for p in (tab, cmp_, spc, wrk):
        p.add_argument("--search_epochs", type=int, default=5)
    for p in (tab, cmp_):
        p.add_argument("--task", choices=sorted(TASKS), default="implicit")
        p.add_argument("--data_fraction", type=float, default=0.25, help="--task joint only")
    args = parser.parse_args()
    os.makedirs(os.path.join(HERE, ".work"), exist_ok=True)
    commands = {"tabulate": tabulate, "compare": compare, "space": space_table, "workers": workers}
    commands[args.command](args)


if __name__ == "__main__":
    main()
