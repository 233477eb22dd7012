"""Hyper-parameter search benchmarks on ml-100k: TPE+ASHA vs random vs grid vs RecBole's
HyperTuning, and Ray Tune with 2 workers vs 1.

Subcommands:
    grid      Run the full grid of ``configs/hyper_<model>.yaml`` (27 points: learning rate x
              embedding size x weight decay) with ``run_recbole_automl.py --search=hyper
              --search_strategy=grid`` for each seed; every trial's per-epoch validation curve
              goes to a journal (resumable), the grid's best is trained again and tested.
    compare   Replay the strategies on those grids: a replayed trial reads its recorded
              curve epoch by epoch and reports it to the search's scheduler exactly as a
              training run would (training is deterministic for a seed), so ASHA stops it
              where it would have stopped, and compute is counted in the epochs it trained.
              Every strategy runs through the project's own ``run_search`` (TPE, random,
              grid; ASHA or none) or through RecBole's ``HyperTuning`` (its ``bayes``
              algorithm and early stop). The chosen configuration of each run is trained
              and tested once (cached in ``results/raw/ml-100k-hyper-tests.jsonl``).
              Writes ``results/ml-100k-hyper.md`` and its PNG.
    asha      The same replays over a range of ASHA and TPE settings:
              ``results/ml-100k-hyper-asha.md``.
    extrapolation
              TPE+ASHA and random+ASHA with extrapolated rung scores (asha_extrapolation),
              ``results/ml-100k-hyper-asha-extrapolation.md``.
    live      One real TPE+ASHA search through the command line, to check that the replay
              predicts it: same trials, same scores.
    workers   The same Ray Tune search with 1 and 2 workers: trials per minute,
              ``results/ml-100k-hyper-ray-workers.md``.

Example:
    python benchmarks/hyper_search.py grid --model BPR --seeds 2020 2021 2022
    python benchmarks/hyper_search.py compare --models BPR NeuMF --repeats 5
    python benchmarks/hyper_search.py workers --trials 8
"""

import argparse
import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
import time
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
RAW = os.path.join(RESULTS, "raw")
WORK = os.path.join(HERE, ".work")
PROTOCOL = os.path.join(HERE, "configs", "hyper.yaml")
sys.path[:0] = [ROOT, HERE]

from runner import (  # noqa: E402
    RUN_ID,
    TABLES,
    append_record,
    by_run,
    load_records,
    machine,
    reproduce_lines,
    runs_note,
    write_lines,
)

from recbole_automl.search import (  # noqa: E402
    Budget,
    GridStrategy,
    HyperoptStrategy,
    HyperSpace,
    Journal,
    NoScheduler,
    StopTraining,
    SuccessiveHalving,
    TrialOutcome,
    point_key,
    run_search,
)

SEEDS = (2020, 2021, 2022)
BUDGET_SHARE = 0.25  # of the grid's compute
ASHA = {"min_epochs": 5, "reduction_factor": 3}  # overall.yaml's defaults
TPE_STARTUP = 5
STRATEGIES = ("TPE+ASHA", "TPE", "random+ASHA", "random", "RecBole bayes", "grid")


def space_file(model):
    return os.path.join(ROOT, "configs", f"hyper_{model.lower()}.yaml")


def grid_dir(model, seed):
    return os.path.join(RAW, f"ml-100k-hyper-{model.lower()}-grid-seed{seed}")


def cli(model, seed, *extra):
    """The command line of one search, run from benchmarks/.work."""
    return [
        sys.executable, os.path.join(ROOT, "run_recbole_automl.py"), f"--model={model}",
        "--dataset=ml-100k", f"--config_files={PROTOCOL}", "--search=hyper",
        f"--params_file={space_file(model)}", f"--seed={seed}", *extra,
    ]  # fmt: skip


def grid(args):
    os.makedirs(WORK, exist_ok=True)
    for seed in args.seeds:
        extra = ["--search_strategy=grid", "--search_scheduler=none"]
        command = cli(args.model, seed, *extra, f"--search_dir={grid_dir(args.model, seed)}")
        print(" ".join(command), flush=True)
        subprocess.run(command, cwd=WORK, check=True)


# Replays --------------------------------------------------------------------------------


def load_grid(model, seed):
    trials = Journal(os.path.join(grid_dir(model, seed), "journal.jsonl")).load()
    return {point_key(t.point): t for t in trials}


class TableObjective:
    """A trial read from the grid's journal: its curve is reported epoch by epoch."""

    def __init__(self, table):
        self.table = table
        self.epochs = 0  # compute spent so far
        self.seconds = 0.0

    def __call__(self, point, report=None):
        recorded = self.table[point_key(point)]
        per_epoch = recorded.seconds / max(1, recorded.epochs)
        curve = []
        try:
            for epoch, score in enumerate(recorded.curve, 1):
                curve.append(score)
                self.epochs += 1
                self.seconds += per_epoch
                if report is not None:
                    report(epoch, score)
        except StopTraining:
            pass
        return TrialOutcome(max(curve), curve=curve, epochs=len(curve))


def replay(table, space, strategy_name, seed, asha=ASHA, startup=TPE_STARTUP, max_epochs=40):
    """One search on the table; returns [(compute epochs so far, trial)] in order."""
    objective = TableObjective(table)
    if strategy_name.startswith("TPE"):
        strategy = HyperoptStrategy(space, "tpe", startup_trials=startup)
    elif strategy_name.startswith("random"):
        strategy = HyperoptStrategy(space, "random")
    else:
        strategy = GridStrategy(space, space.grid())
    if strategy_name.endswith("+ASHA"):
        scheduler = SuccessiveHalving(
            asha["min_epochs"], max_epochs, asha["reduction_factor"],
            extrapolation=asha.get("extrapolation", 0.0),
        )  # fmt: skip
    else:
        scheduler = NoScheduler()
    marks = []

    class Marking(Budget):
        def count(self, trial=None):
            super().count(trial)
            marks.append(objective.epochs)

    trials = run_search(
        objective, space, strategy, Marking(max_trials=len(table)), None,
        seed=seed, scheduler=scheduler,
    )  # fmt: skip
    return list(zip(marks, trials))


def replay_recbole(table, model, seed):
    """RecBole's HyperTuning (algo bayes = hyperopt TPE, its early stop after 10 trials
    without improvement) with the table as its objective function."""
    from recbole.trainer.hyper_tuning import HyperTuning

    space = HyperSpace.from_file(space_file(model))
    params = {"choice": {p.name: p.args for p in space.params}}
    objective = TableObjective(table)
    marks = []

    def objective_function(config_dict, config_file_list):
        outcome = objective({k: config_dict[k] for k in params["choice"]})
        marks.append((objective.epochs, {**config_dict}, outcome.value))
        return {
            "model": model, "best_valid_score": outcome.value, "valid_score_bigger": True,
            "best_valid_result": {}, "test_result": {},
        }  # fmt: skip

    os.environ["HYPEROPT_FMIN_SEED"] = str(seed)  # fmin draws from this seed
    tuner = HyperTuning(objective_function, params_dict=params, algo="bayes", max_evals=len(table))
    with contextlib.redirect_stdout(io.StringIO()):
        tuner.run()
    return marks


def best_within(marks, budget):
    """(best value, its point, compute used) among trials finished within ``budget`` epochs."""
    done = [(e, p, v) for e, p, v in marks if e <= budget]
    if not done:
        return None, None, 0
    epochs, point, value = max(done, key=lambda m: m[2])
    return value, point, done[-1][0]


def compare(args):
    records = []
    for model in args.models:
        space = HyperSpace.from_file(space_file(model))
        for seed in SEEDS:
            table = load_grid(model, seed)
            if len(table) < len(space):
                print(f"{model} seed {seed}: grid incomplete ({len(table)}/{len(space)}); skipped")
                continue
            grid_compute = sum(t.epochs for t in table.values())
            grid_best = max(table.values(), key=lambda t: t.value)
            budget = BUDGET_SHARE * grid_compute
            for name in STRATEGIES:
                for repeat in range(1 if name == "grid" else args.repeats):
                    strategy_seed = seed * 100 + repeat
                    if name == "RecBole bayes":
                        marks = replay_recbole(table, model, strategy_seed)
                        full = marks
                    else:
                        full = [
                            (e, t.point, t.value)
                            for e, t in replay(table, space, name, strategy_seed)
                        ]
                        marks = full
                    if name == "grid":
                        value, point, used = grid_best.value, grid_best.point, grid_compute
                    else:
                        value, point, used = best_within(marks, budget)
                    # The trials a strategy needs to come within 1% of the grid's best.
                    near = next((e for e, _, v in full if v >= 0.99 * grid_best.value), None)
                    records.append({
                        "model": model, "seed": seed, "strategy": name, "repeat": repeat,
                        "valid": value, "point": point, "compute": used,
                        "grid_compute": grid_compute, "grid_best": grid_best.value,
                        "epochs_to_1pct": near, "trials_run": len(full),
                        "curve": [(e, v) for e, _, v in full],
                    })  # fmt: skip
    for record in records:
        record["test"] = test_score(record["model"], record["seed"], record["point"])
    write_compare(records, args)


def test_score(model, seed, point):
    """Test NDCG@10 of ``point`` trained as the search's final run does (cached)."""
    path = os.path.join(RAW, "ml-100k-hyper-tests.jsonl")
    key = json.dumps([model, seed, point], sort_keys=True)
    cache = {}
    if os.path.exists(path):
        with open(path) as f:
            cache = {r["key"]: r["test"] for r in map(json.loads, f)}
    if key not in cache:
        from recbole_automl import run_recbole_automl

        os.makedirs(WORK, exist_ok=True)
        os.chdir(WORK)
        config = {**point, "seed": seed, "state": "ERROR"}
        result = run_recbole_automl(model, "ml-100k", [PROTOCOL], config)
        cache[key] = float(result["test_result"]["ndcg@10"])
        append_record(path, {"key": key, "test": cache[key]})
    return cache[key]


def _mean_std(values):
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}" if values else "-"


def write_compare(records, args):
    lines = [
        "# Hyper-parameter search on ml-100k: TPE+ASHA vs random vs grid vs RecBole",
        "",
        f"Command: `python benchmarks/hyper_search.py grid --model M` (M = BPR, NeuMF), then "
        f"`python benchmarks/hyper_search.py compare --models {' '.join(args.models)} "
        f"--repeats {args.repeats}`.",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "",
        "Protocol: RecBole's ml-100k split (random 8:1:1 per seed), full ranking, "
        "valid_metric NDCG@10, at most 40 epochs with RecBole's early stopping "
        "(stopping_step 5), validation every epoch (benchmarks/configs/hyper.yaml). Space: "
        "learning_rate {5e-4, 2e-3, 1e-2} x embedding size {32, 64, 128} (NeuMF: "
        "mf_embedding_size) x weight_decay {0, 1e-5, 1e-4}: 27 points "
        "(configs/hyper_bpr.yaml, configs/hyper_neumf.yaml). The grid was trained for real "
        "(3 seeds); every other strategy is replayed on it (a trial reports its recorded "
        "curve epoch by epoch; ASHA stops it where it would stop). Budget: "
        f"{BUDGET_SHARE:.0%} of the grid's compute (epochs trained, early stopping "
        f"included); ASHA: rungs at {ASHA['min_epochs']} and "
        f"{ASHA['min_epochs'] * ASHA['reduction_factor']} epochs, reduction factor "
        f"{ASHA['reduction_factor']}; TPE: {TPE_STARTUP} random start trials. RecBole "
        "HyperTuning: algo bayes (hyperopt TPE, its default 20 random start trials), "
        "early stop after 10 trials without improvement. Test: the configuration each run "
        "chose, trained once more with the same protocol and tested once. "
        f"Runs per cell: 3 seeds x {args.repeats} strategy seeds (grid: 3 seeds).",
        "",
        "| model | strategy | best valid NDCG@10 at budget | vs grid best | test NDCG@10 "
        "| compute (epochs) | share of grid | epochs to reach 99% of grid best |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in args.models:
        for name in STRATEGIES:
            rows = [r for r in records if r["model"] == model and r["strategy"] == name]
            if not rows:
                continue
            ratio = [r["valid"] / r["grid_best"] for r in rows if r["valid"] is not None]
            share = [r["compute"] / r["grid_compute"] for r in rows]
            reach = [r["epochs_to_1pct"] for r in rows]
            reached = [e / r["grid_compute"] for e, r in zip(reach, rows) if e is not None]
            reach_text = (
                f"{np.mean(reached):.0%} of grid ({len(reached)}/{len(rows)} runs)"
                if reached else f"never (0/{len(rows)})"
            )  # fmt: skip
            lines.append(
                f"| {model} | {name} | {_mean_std([r['valid'] for r in rows])} | "
                f"{np.mean(ratio):.2%} (min {np.min(ratio):.2%}) | "
                f"{_mean_std([r['test'] for r in rows])} | "
                f"{np.mean([r['compute'] for r in rows]):.0f} | {np.mean(share):.0%} | "
                f"{reach_text} |"
            )
    lines += ["", "![trajectories](ml-100k-hyper.png)", ""]
    path = os.path.join(TABLES, "ml-100k-hyper.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    # A replay's records are derived from the grid's raw records (append-only) and are
    # rewritten whole: the same grids give the same replay.
    with open(os.path.join(RAW, "ml-100k-hyper-compare.jsonl"), "w") as f:
        for record in records:
            f.write(json.dumps({"run": RUN_ID, "machine": machine(), **record}) + "\n")
    plot_compare(records, args.models, os.path.join(TABLES, "ml-100k-hyper.png"))
    print("\n".join(lines))


def plot_compare(records, models, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for name in STRATEGIES:
            rows = [r for r in records if r["model"] == model and r["strategy"] == name]
            if not rows:
                continue
            xs = np.linspace(0, 1, 101)
            ys = []
            for r in rows:
                share = np.array([e for e, _ in r["curve"]]) / r["grid_compute"]
                best = np.maximum.accumulate([v / r["grid_best"] for _, v in r["curve"]])
                ys.append([best[share <= x].max() if (share <= x).any() else np.nan for x in xs])
            ax.plot(xs, np.nanmean(ys, axis=0), label=name)
        ax.axvline(BUDGET_SHARE, color="grey", linestyle=":")
        ax.set_ylim(0.9, 1.005)
        ax.set_xlabel("compute (share of the full grid's epochs)")
        ax.set_ylabel("best valid NDCG@10 / grid best")
        ax.set_title(f"{model}, ml-100k")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def share_of_best(tables, space, name, repeats, settings, startup=TPE_STARTUP):
    """For each seed's grid and each of ``repeats`` strategy seeds: the best validation
    score a replay of strategy ``name`` (ASHA ``settings``) reaches within BUDGET_SHARE of
    the grid's compute, as a share of the grid's best."""
    ratios = []
    for seed, table in zip(SEEDS, tables):
        budget = BUDGET_SHARE * sum(t.epochs for t in table.values())
        grid_best = max(t.value for t in table.values())
        for repeat in range(repeats):
            marks = replay(table, space, name, seed * 100 + repeat, settings, startup)
            ratios.append(max(t.value for e, t in marks if e <= budget) / grid_best)
    return ratios


def asha(args):
    """How the TPE+ASHA and random+ASHA results at the budget depend on ASHA's settings."""
    lines = [
        "# ASHA settings: best valid NDCG@10 at 25% of the grid's compute (replayed)",
        "",
        f"Command: `python benchmarks/hyper_search.py asha --models {' '.join(args.models)} "
        f"--repeats {args.repeats}`. Date: {date.today().isoformat()}. Same grids and replay "
        "as ml-100k-hyper.md; no test runs. Mean and worst ratio to the grid's best, and the "
        f"share of runs within 1% of it, over 3 seeds x {args.repeats} strategy seeds. "
        "The project's defaults: asha_min_epochs 5, asha_reduction_factor 3, "
        "tpe_startup_trials 5.",
        "",
        "| model | strategy | min epochs | reduction factor | TPE start trials | mean | worst "
        "| within 1% |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in args.models:
        space = HyperSpace.from_file(space_file(model))
        tables = [load_grid(model, seed) for seed in SEEDS]
        for name in ("TPE+ASHA", "random+ASHA"):
            for min_epochs, factor, startup in itertools.product(
                (3, 5, 10), (2, 3, 4), (3, 5, 10) if name == "TPE+ASHA" else (TPE_STARTUP,)
            ):
                settings = {"min_epochs": min_epochs, "reduction_factor": factor}
                ratios = share_of_best(tables, space, name, args.repeats, settings, startup)
                lines.append(
                    f"| {model} | {name} | {min_epochs} | {factor} | "
                    f"{startup if name == 'TPE+ASHA' else '-'} | {np.mean(ratios):.2%} | "
                    f"{np.min(ratios):.2%} | {np.mean(np.array(ratios) >= 0.99):.0%} |"
                )
    with open(os.path.join(TABLES, "ml-100k-hyper-asha.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


GAMMAS = (0.0, 0.1, 0.2, 0.3, 0.5)


def extrapolation(args):
    """TPE+ASHA and random+ASHA with the rung scores extrapolated (asha_extrapolation),
    the project's other ASHA defaults, on the recorded grids."""
    lines = [
        "# ASHA with extrapolated rung scores: best valid NDCG@10 at 25% of the grid's compute",
        "",
        f"Command: `python benchmarks/hyper_search.py extrapolation --models "
        f"{' '.join(args.models)} --repeats {args.repeats}`. Date: {date.today().isoformat()}. "
        "Same grids and replay as ml-100k-hyper.md; no test runs. gamma: asha_extrapolation "
        "(a trial is compared at a rung on score + gamma x its gain per epoch over the second "
        "half of its validations x the epochs it has left; 0 = plain ASHA). ASHA: rungs at 5 "
        f"and 15 of 40 epochs, reduction factor 3; TPE: {TPE_STARTUP} start trials. Mean and "
        f"worst ratio to the grid's best, and the share of runs within 1% of it, over 3 "
        f"seeds x {args.repeats} strategy seeds. The default 0.2 was chosen on BPR's rows "
        "(TPE+ASHA); NeuMF's are the check.",
        "",
        "| model | strategy | gamma | mean | worst | within 1% |",
        "|---|---|---|---|---|---|",
    ]
    for model in args.models:
        space = HyperSpace.from_file(space_file(model))
        tables = [load_grid(model, seed) for seed in SEEDS]
        for name in ("TPE+ASHA", "random+ASHA"):
            for gamma in GAMMAS if name == "TPE+ASHA" else (0.0, 0.2):
                settings = {**ASHA, "extrapolation": gamma}
                ratios = share_of_best(tables, space, name, args.repeats, settings)
                lines.append(
                    f"| {model} | {name} | {gamma:g} | {np.mean(ratios):.2%} | "
                    f"{np.min(ratios):.2%} | {np.mean(np.array(ratios) >= 0.99):.0%} |"
                )
                print(lines[-1], flush=True)
    with open(os.path.join(TABLES, "ml-100k-hyper-asha-extrapolation.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


# Live check ----------------------------------------------------------------------------


def live(args):
    """A real TPE+ASHA search with the trials the replay says fit the budget."""
    seed, model = args.seed, args.model
    table = load_grid(model, seed)
    space = HyperSpace.from_file(space_file(model))
    budget = BUDGET_SHARE * sum(t.epochs for t in table.values())
    replayed = [t for e, t in replay(table, space, "TPE+ASHA", seed) if e <= budget]
    folder = os.path.join(RAW, f"ml-100k-hyper-{model.lower()}-live-seed{seed}")
    os.makedirs(WORK, exist_ok=True)
    start = time.time()
    command = cli(model, seed, f"--search_trials={len(replayed)}", f"--search_dir={folder}")
    subprocess.run(command, cwd=WORK, check=True, capture_output=True)
    wall = time.time() - start
    real = Journal(os.path.join(folder, "journal.jsonl")).load()
    pairs = list(zip(real, replayed))
    record = {
        "model": model, "seed": seed, "trials": len(real), "wall_s": round(wall, 1),
        "same_points": all(r.point == t.point for r, t in pairs),
        "same_epochs": all(r.epochs == t.epochs for r, t in pairs),
        "max_value_difference": max(abs(r.value - t.value) for r, t in pairs),
        "live_epochs": sum(t.epochs for t in real),
        "replayed_epochs": sum(t.epochs for t in replayed),
        "live_best": max(t.value for t in real), "replayed_best": max(t.value for t in replayed),
    }  # fmt: skip
    print(append_record(os.path.join(RAW, "ml-100k-hyper-live.jsonl"), record))


# Ray workers ---------------------------------------------------------------------------


WORKER_RECORDS = os.path.join(RAW, "ml-100k-hyper-ray-workers.jsonl")
# What ran the trials: Ray tasks under the search core's one loop (search/ray_executor.py);
# records without the key are from the Ray Tune executor it replaced (Tune's Searcher loop).
EXECUTOR = "Ray tasks"


def workers(args):
    """The same Ray search (random points, no early stopping) with 1 and 2 workers.

    One record per worker count, appended to ``raw/ml-100k-hyper-ray-workers.jsonl`` with
    this run's id; the table shows every run, each against its own 1-worker search.
    """
    if args.table:
        print("\n".join(write_workers_table(load_records(WORKER_RECORDS))))
        return
    os.makedirs(WORK, exist_ok=True)
    command = (
        f"python benchmarks/hyper_search.py workers --workers {' '.join(map(str, args.workers))} "
        f"--trials {args.trials} --epochs {args.epochs}"
    )
    for count in args.workers:
        folder = os.path.join(WORK, f"ray-workers-{count}-{int(time.time())}")
        cmd = cli(
            "BPR", 2020, "--search_strategy=random", "--search_scheduler=none",
            f"--search_trials={args.trials}", f"--epochs={args.epochs}", "--stopping_step=100",
            "--search_executor=ray", f"--workers={count}", f"--search_dir={folder}",
        )  # fmt: skip
        load = os.getloadavg()[0]
        start = time.time()
        subprocess.run(cmd, cwd=WORK, check=True, capture_output=True)
        wall = time.time() - start
        trials = Journal(os.path.join(folder, "journal.jsonl")).load()
        first = min(t.started for t in trials)
        last = max(t.started + t.seconds for t in trials)
        trial_s = float(np.mean([t.seconds for t in trials]))
        record = append_record(WORKER_RECORDS, {
            "workers": count, "trials": len(trials), "epochs": args.epochs,
            "wall_s": round(wall, 2), "trial_s": round(trial_s, 3),
            "search_s": round(last - start, 2), "span_s": round(last - first, 2),
            "load_before": round(load, 2), "command": command, "executor": EXECUTOR,
        })  # fmt: skip
        print(record, flush=True)
    print("\n".join(write_workers_table(load_records(WORKER_RECORDS))))


def write_workers_table(records):
    """Markdown of the Ray worker records: one block per run, speed-ups against that run's
    1-worker search."""
    lines = [
        "# Ray: 2 workers vs 1 on this machine (ml-100k, BPR)",
        "",
        runs_note(records) + f" Table written {date.today().isoformat()}.",
        "",
        "The same search, random points of configs/hyper_bpr.yaml (27 points: a larger "
        "--trials runs them all), each trained exactly --epochs epochs (no ASHA, no early "
        "stopping), on a local Ray started by the search with search_executor: ray. One "
        "worker gets all cores as torch threads; two workers get one core each. Trials per "
        "minute over the trials' span (first trial's start to last trial's end, from the "
        "journal) and over the search time (from the command's start: Python, data loading "
        "and Ray's start-up included); wall: the whole command, with the final training and "
        "test of the best point; load: the machine's 1-minute load average before the "
        "command (timings are only comparable at the same load). Executor: Ray tasks run "
        "the rounds of the search core's loop (search/ray_executor.py; a round is --workers "
        "points); Ray Tune: the executor before it, Tune's own Searcher loop (asynchronous).",
        "",
        *reproduce_lines(records),
        "| run | executor | workers | trials | span (s) | trials/min (span) | speed-up "
        "| search time (s) | trials/min (search) | speed-up | mean trial (s) | wall (s) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run, rows in by_run(records).items():
        base = min(rows, key=lambda r: r["workers"])
        for row in rows:
            lines.append(
                f"| {run} | {row.get('executor', 'Ray Tune')} | {row['workers']} | "
                f"{row['trials']} | {row['span_s']:.1f} | "
                f"{row['trials'] / row['span_s'] * 60:.2f} | "
                f"{base['span_s'] / row['span_s']:.2f}x | {row['search_s']:.1f} | "
                f"{row['trials'] / row['search_s'] * 60:.2f} | "
                f"{base['search_s'] / row['search_s']:.2f}x | {row['trial_s']:.1f} | "
                f"{row['wall_s']:.1f} | {row['load_before']:.1f} |"
            )
    lines.append("")
    return write_lines("ml-100k-hyper-ray-workers.md", lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grid")
    p.add_argument("--model", default="BPR")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p = sub.add_parser("compare")
    p.add_argument("--models", nargs="+", default=["BPR", "NeuMF"])
    p.add_argument("--repeats", type=int, default=5)
    p = sub.add_parser("asha")
    p.add_argument("--models", nargs="+", default=["BPR", "NeuMF"])
    p.add_argument("--repeats", type=int, default=10)
    p = sub.add_parser("extrapolation")
    p.add_argument("--models", nargs="+", default=["BPR", "NeuMF"])
    p.add_argument("--repeats", type=int, default=10)
    p = sub.add_parser("live")
    p.add_argument("--model", default="BPR")
    p.add_argument("--seed", type=int, default=2020)
    p = sub.add_parser("workers")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--table", action="store_true", help="only rebuild the table")
    p.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    globals()[args.command](args)


if __name__ == "__main__":
    main()
