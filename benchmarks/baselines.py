"""Run a list of models on one dataset under one protocol and write a results table.

Each (model, seed) runs in its own process (for an honest peak memory) in a scratch
folder, and its record is appended to ``benchmarks/results/raw/<dataset>-<task>.jsonl``;
a rerun skips the records already there, so a killed benchmark resumes. The table
``benchmarks/results/<dataset>-<task>.md`` and its chart ``.png`` are rebuilt from every
record in that file, so later issues add rows by running this script with their models.

Protocols:
    general: RecBole's defaults (random 8:1:1, full ranking, metrics @10) with
        ``valid_metric: NDCG@10``.
    explicit: rating regression, ``configs/explicit.yaml`` (MSE, labeled evaluation, RMSE
        and MAE on ratings normalised to [0, 1]), ``valid_metric: RMSE``.
    ctr: RecBole's context-aware defaults (labeled evaluation, AUC and LogLoss); on
        ml-100k that is RecBole's built-in CTR setup (label = rating >= 4).
    kg: the general protocol on ml-100k's interactions with items linked to its knowledge
        graph (what RecBole's KG datasets keep), written by this script from RecBole's
        shipped files (:func:`kg_linked_copy`), so that BPR and the KG models rank the same
        items; rows ``AutoSF[F]`` train AutoSF with the scoring function F, no search.

Example:
    python benchmarks/baselines.py --task general --models BPR EASE --seeds 2020 2021 2022
    python benchmarks/baselines.py --task ctr --dataset mydata --data_path /data/atomic
    python benchmarks/baselines.py --task general --models search=models
    python benchmarks/baselines.py --task explicit --models FM NeuMF SIF search=models
    python benchmarks/baselines.py --task kg --models BPR CFKG "AutoSF[DistMult]" AutoSF
"""

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import date

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, HERE)

from runner import (  # noqa: E402
    checkpoint_dir,
    command_lines,
    load_records,
    mean_std,
    run_jobs,
    runs_note,
    timed_with_anomaly,
)

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
    "explicit": {  # rating regression: configs/explicit.yaml (ratings in [0, 1]: x 4 = stars)
        "models": ["FM", "NeuMF", "SIF"],
        "config": {},
        "config_files": [os.path.join(ROOT, "configs", "explicit.yaml")],
        "main_metric": "rmse",
    },
    "ctr": {
        "models": ["LR", "FM", "DeepFM", "AutoInt"],
        "config": {},
        "main_metric": "auc",
    },
    "kg": {
        "models": [
            "BPR", "CKE", "CFKG", "KGAT", "KGCN", "KGNNLS", "KTUP", "MKR", "RippleNet",
            "AutoSF[DistMult]", "AutoSF[ComplEx]", "AutoSF[Analogy]", "AutoSF[SimplE]", "AutoSF",
        ],
        "config": {"valid_metric": "NDCG@10"},
        "main_metric": "ndcg@10",
        "data": lambda dataset: kg_linked_copy(dataset),
    },
}  # fmt: skip
# The row of the model search (search: models, its default candidates and budget).
MODEL_SEARCH = "search=models"
# The budget keys a record keeps (when set): a row is one protocol, so they tell rows apart.
PROTOCOL_KEYS = (
    "epochs", "train_time_limit", "search_trials", "search_time", "search_epochs",
    "search_ensemble", "search_trial_epochs", "search_models", "asha_extrapolation",
)  # fmt: skip


def kg_linked_copy(dataset):
    """``(folder, name)`` of a copy of ``dataset`` (RecBole's shipped ml-100k) named
    ``<dataset>-kg-linked``, with only the interactions of items linked to an entity of its
    knowledge graph, and its .kg, .link, .user and .item files: written once under
    benchmarks/.work/data. RecBole's KG datasets drop the other interactions themselves; a
    general model trained on this copy ranks the same items (and RecBole always reads
    ml-100k itself from its own folder, whatever data_path says)."""
    import pandas as pd
    import recbole

    source = os.path.join(os.path.dirname(recbole.__file__), "dataset_example", dataset)
    if not os.path.isfile(os.path.join(source, f"{dataset}.kg")):
        raise SystemExit(f"--task kg: RecBole ships no knowledge graph for {dataset}")
    folder, name = os.path.join(HERE, ".work", "data", "kg-linked"), f"{dataset}-kg-linked"
    target = os.path.join(folder, name)
    if os.path.isfile(os.path.join(target, f"{name}.inter")):
        return folder, name
    os.makedirs(target, exist_ok=True)

    def read(suffix):
        return pd.read_csv(os.path.join(source, f"{dataset}.{suffix}"), sep="\t", dtype=str)

    kg, link, inter = read("kg"), read("link"), read("inter")
    entities = set(kg["head_id:token"]) | set(kg["tail_id:token"])
    linked = set(link.loc[link["entity_id:token"].isin(entities), "item_id:token"])
    inter = inter[inter["item_id:token"].isin(linked)]
    for suffix in ("kg", "link", "user", "item"):
        shutil.copy(
            os.path.join(source, f"{dataset}.{suffix}"), os.path.join(target, f"{name}.{suffix}")
        )
    inter.to_csv(os.path.join(target, f"{name}.inter"), sep="\t", index=False)
    return folder, name


def general_model(model):
    """Whether ``model`` is a general recommender (not a KG or context-aware one)."""
    sys.path.insert(0, ROOT)
    from recbole.utils import ModelType

    from recbole_automl.lookup import get_model

    return get_model(model).type == ModelType.GENERAL


# A table row that is a model with one setting of its own, ``Model[value]``: the key set.
ROW_KEYS = {"AutoSF": "scoring_function", "AutoGNN": "architecture"}


def row_settings(row):
    """The config of table row ``row``'s ``[value]`` (``AutoSF[ComplEx]``), or nothing."""
    model, _, value = model_of(row, True).partition("[")
    return {ROW_KEYS[model]: value.rstrip("]")} if value else {}


def run_one(row, dataset, seed, config_dict, config_files):
    """Train and test the model of table row ``row`` in this process (a ``search=models``
    row: the model search, then its winner); return its record."""
    sys.path.insert(0, ROOT)
    from recbole_automl import Config
    from recbole_automl.methods.hyper_search import hyper_search
    from recbole_automl.methods.model_search import model_search
    from recbole_automl.quick_start import train_and_test
    from recbole_automl.trainer.resume import resume_files

    model = model_of(row)
    searches_models = model == MODEL_SEARCH
    settings = {**config_dict, **row_settings(row)}
    settings.update(seed=seed, show_progress=False)
    start, started = time.perf_counter(), time.time()
    config = Config(
        model=None if searches_models else model,
        dataset=dataset,
        config_file_list=config_files or None,
        config_dict={**settings, "search": "models"} if searches_models else settings,
        read_cmd_line=False,
    )
    resumed = config["train_resume"] and os.path.exists(resume_files(config)[0])
    if searches_models:
        result = model_search(config, show_progress=False)
        extra = {
            "winner": result["best_params"],
            "leaderboard": [{k: r[k] for k in ("model", "best", "trials", "epochs", "seconds")}
                            for r in result["leaderboard"]],
        }  # fmt: skip
        params = None
    elif config["search"] == "hyper":  # a row of the model tuned alone (--config_files)
        if not os.path.isabs(config["params_file"]):  # a space of the repository
            config["params_file"] = os.path.join(ROOT, config["params_file"])
        result = hyper_search(config, show_progress=False)
        extra = {"winner": result["best_params"], "trials": len(result["trials"])}
        params = None
    else:
        result = train_and_test(config, verbose=False)
        trained = result.pop("model")
        params = sum(p.numel() for p in trained.parameters() if p.requires_grad)
        extra = {"search": result["search"]} if result.get("search") else {}
        resumed = resumed or search_resumed(result.get("search"), started)
    wall = time.perf_counter() - start
    return {
        "row": row,
        "model": model,
        "seed": seed,
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "params": params,
        "protocol": protocol_of(config),
        **extra,
        **({"resumed": True} if resumed else {}),
    }


def search_resumed(search, started):
    """Whether a searching run resumed a search that an earlier process began: a trial of
    its journal (``search["folder"]``) started before this run (Unix time ``started``)."""
    from recbole_automl.search import Journal

    folder = (search or {}).get("folder")
    path = os.path.join(folder, "journal.jsonl") if folder else None
    if not path or not os.path.exists(path):
        return False
    return any(t.started is not None and t.started < started for t in Journal(path).load())


def copy_missing(source, destination):
    """``shutil.copy2`` unless ``destination`` exists (a row's own files are never replaced)."""
    if not os.path.exists(destination):
        shutil.copy2(source, destination)


def protocol_of(config):
    """The budget keys of a run that are set: epochs, a time cap, a search's budget."""
    from recbole_automl.lookup import plugin_models

    searches = config["search"] is not None or config["model"] in plugin_models()
    keys = [k for k in PROTOCOL_KEYS if searches or not k.startswith(("search_", "asha_"))]
    protocol = {k: config[k] for k in keys if config[k] is not None}
    if config["model"] == "AutoCF":  # its loss decides its search space (softmax: row-scored)
        from recbole_automl.model.general_recommender.autocf import history_dropout

        protocol["loss_type"] = config["loss_type"]
        if history_dropout(config):
            protocol["history_dropout"] = history_dropout(config)
        if config["loss_type"] == "softmax" and config["softmax_user_chunk"]:
            protocol["softmax_user_chunk"] = config["softmax_user_chunk"]
        if config["architecture"] is None and config["search_item_item_check"]:
            protocol["search_item_item_check"] = True
            protocol["search_item_item_check_candidates"] = config[
                "search_item_item_check_candidates"
            ]
            if config["search_check_ensemble"]:
                protocol["search_check_ensemble"] = True
    return protocol


def row_label(model, epochs_caps, time_limits, label=None):
    """A model's table row: its name, plus the cap this script put on its training, or the
    ``--label`` of its config files."""
    if label:
        return f"{model} ({label})"
    if model in epochs_caps:
        return f"{model} (epochs {epochs_caps[model]:.0f})"
    if model in time_limits:
        return f"{model} (train_time_limit {time_limits[model]:.0f} s)"
    return model


def model_of(row, with_settings=False):
    """The model of table row ``row`` (``Model[value] (label)``): its name, or with
    ``with_settings`` its name and value (see :data:`ROW_KEYS`)."""
    model = row.split(" (")[0]
    return model if with_settings else model.split("[")[0]


def _record_path(dataset, task):
    return os.path.join(RESULTS, "raw", f"{dataset}-{task}.jsonl")


def table_rows(records, task):
    """Group ``records`` into table rows, baselines first: ``((label, runs), records)``.

    The runs of one row label that cover different seeds (a benchmark killed and resumed)
    make one row; a run that repeats a seed of the row is a rerun, and a row of its own,
    never merged into or replacing the earlier one. ``runs`` joins the row's run ids.
    """
    by_label = {}
    for record in records:
        row = record.get("row", record["model"])
        by_label.setdefault(row, {}).setdefault(record.get("run", "unknown"), []).append(record)
    groups = []
    for label, runs in by_label.items():
        current = None
        for run in sorted(runs):
            seeds = {r["seed"] for r in runs[run]}
            if current is None or seeds & current["seeds"]:
                current = {"label": label, "runs": [], "seeds": set(), "records": []}
                groups.append(current)
            current["runs"].append(run)
            current["seeds"] |= seeds
            current["records"] += runs[run]
    order = {m: i for i, m in enumerate(TASKS[task]["models"])}
    groups.sort(key=lambda g: (order.get(model_of(g["label"], True), len(order)),
                               model_of(g["label"]), g["runs"][0], g["label"]))  # fmt: skip
    return [((g["label"], "+".join(g["runs"])), g["records"]) for g in groups]


def unalike_note(runs):
    """`` (timed unalike: ...)`` when some of a row's runs had anomaly detection on."""
    on = sum(timed_with_anomaly(r) for r in runs)
    if 0 < on < len(runs):
        return f" (timed unalike: {on} of {len(runs)} with anomaly detection on)"
    return ""


def format_protocol(protocol):
    def shown(value):
        return ",".join(map(str, value)) if isinstance(value, list) else value

    return ", ".join(f"{k} {shown(v)}" for k, v in protocol.items()) if protocol else "-"


def table_lines(records, task, dataset, protocol):
    """The markdown table of ``records`` (also returns the chart's rows)."""
    main = TASKS[task]["main_metric"]
    metrics = list(records[0]["test"])
    header = (
        ["model", "run", "seeds", f"valid {main}"]
        + [f"test {m}" for m in metrics]
        + ["wall s", "peak MiB", "params", "budget"]
    )
    rows, chart = [], []
    for (label, run), runs in table_rows(records, task):
        test_main = [r["test"][main] for r in runs]
        chart.append((f"{label} [{run}]", np.mean(test_main), np.std(test_main)))
        rows.append(
            [label, run, str(len(runs)), mean_std([r["valid"][main] for r in runs])]
            + [mean_std([r["test"][m] for r in runs]) for m in metrics]
            + [
                f"{np.mean([r['wall_s'] for r in runs]):.0f}"
                + (" (resumed)" if any(r.get("resumed") for r in runs) else "")
                + (f" (the searches of {runs[0]['search_of']} resumed)"
                   if runs[0].get("search_of") else "")  # fmt: skip
                + unalike_note(runs),
                f"{np.max([r['peak_rss_mib'] for r in runs]):.0f}",
                "-" if runs[0]["params"] is None else f"{runs[0]['params']:,}",
                format_protocol(runs[0].get("protocol")),
            ]
        )
    name = f"{dataset}-{task}"
    lines = (
        [
            f"# {dataset}, {task} models",
            "",
            f"Protocol: {protocol}",
            runs_note(records) + f" Table written {date.today().isoformat()}.",
            "Cells are mean ± standard deviation over seeds; a rerun of a row (a run that repeats",
            "its seeds) is a row of its own, run: the run ids of the row's records. wall is one"
            " run from config to test (Python start-up"
            " excluded; `(resumed)`: a run killed and resumed, its wall the last process"
            " only; before 2026-12-05 every run trained with autograd's anomaly detection on,"
            " slower, records since say `autograd_anomaly: false`); peak is the largest"
            " resident memory of one run; params are trainable"
            " ones (Pop, ItemKNN and EASE keep their statistics outside torch: 1 dummy;"
            " search=models: `-`, its winner is in the raw record);"
            " budget: the run's training/search budget keys (`-`: not recorded).",
            "Wall times depend on the machine's load: the runs of a table may have shared the",
            "2 cores with other benchmarks, so read them as upper bounds. Budgets are epochs",
            "and candidates, so the metrics do not depend on the load, except where a row's",
            "budget says seconds (train_time_limit, search_time).",
            "",
            "Reproduce (each command skips runs already in the raw records):",
            "",
        ]
        + command_lines(records)
        + ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(row) + " |" for row in rows]
    )
    lines += found_lines(records)
    lines += ["", f"![test {main}]({name}.png)", ""]
    return lines, chart


def found_lines(records):
    """What each searching row found, per seed (AutoSF's structure, AutoGNN's architecture
    and hyper-parameters), from the records' search summaries."""
    lines = []
    for record in records:
        search = record.get("search") or {}
        key = next((k for k in ROW_KEYS.values() if k in search), None)
        if search.get("ensemble_members"):  # AutoCF: the checked models ensembled
            members = [
                f"{w:g} x {json.dumps(m.get('architecture'))}"
                + (" + the item-item term" if m.get("item_item") else "")
                for m, w in zip(search["ensemble_members"], search["ensemble_weights"])
            ]
            lines.append(
                f"- {record.get('row', record['model'])}, seed {record['seed']}: an ensemble of "
                f"the checked models, {'; '.join(members)}; valid {search['valid_score']}"
            )
            continue
        if key is None:
            continue
        line = f"- {record.get('row', record['model'])}, seed {record['seed']}: {key} "
        line += json.dumps(search[key])
        if key == "scoring_function":
            line += f" (equivalent to {search['named_as'] or 'none of the named functions'})"
        more = {
            k: search[k] for k in ("embedding_size", "learning_rate", "reg_weight") if k in search
        }
        if more:
            line += f", {json.dumps(more)}"
        if search.get("item_item_check"):  # AutoCF: the found model was trained in full
            kept = "with" if search.get("item_item") else "without"
            line += f"; {kept} the item-item term after its check, valid {search['valid_score']}"
        else:
            line += f"; valid at the search's fidelity {search.get('valid_score')}"
        lines.append(line)
    return ["", "Found by the searches:", "", *lines] if lines else []


def write_table(dataset, task, protocol):
    """Rebuild the markdown table and the PNG chart from every record of (dataset, task)."""
    records = load_records(_record_path(dataset, task))
    if not records:
        return
    lines, chart = table_lines(records, task, dataset, protocol)
    name = f"{dataset}-{task}"
    tables = os.environ.get("BENCHMARK_TABLES") or RESULTS
    with open(os.path.join(tables, name + ".md"), "w") as f:
        f.write("\n".join(lines))
    _plot(chart, TASKS[task]["main_metric"], dataset, task, os.path.join(tables, name + ".png"))


def _plot(chart, metric, dataset, task, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart = sorted(chart, key=lambda row: row[1])
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(chart) + 1.2))
    ax.barh([r[0] for r in chart], [r[1] for r in chart], xerr=[r[2] for r in chart])
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
        "--epochs_cap",
        nargs="*",
        default=["FISM=10"],
        metavar="MODEL=EPOCHS",
        help="epochs per model (default: FISM=10; RecBole's FISM takes ~1 min an epoch here)",
    )
    parser.add_argument(
        "--time_limit",
        nargs="*",
        default=[],
        metavar="MODEL=SECONDS",
        help="train_time_limit per model (a cap in seconds: its rows depend on machine load)",
    )
    parser.add_argument(
        "--label", default=None, help="row label for what --config_files change, e.g. 'joint space'"
    )
    parser.add_argument("--results_dir", default=RESULTS, help="where tables and records go")
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="train_resume: each run keeps its state after every validation, so a run killed "
        "goes on from its last epoch when the command runs again (the same result as a run "
        "never stopped; its wall s then counts the last process only, and its record says "
        "resumed)",
    )
    parser.add_argument(
        "--search_of",
        default=None,
        metavar="LABEL",
        help="start each run from a copy of the saved searches of the row with this label "
        "(same model, seed and dataset): a search that only adds a last step (AutoCF's "
        "search_check_ensemble) resumes the journals and trained checks of that row; the "
        "record says so, and its wall s counts this process only",
    )
    parser.add_argument("--run-one", nargs=2, metavar=("ROW", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    RESULTS = os.path.abspath(args.results_dir)

    task = TASKS[args.task]
    config_dict = dict(task["config"])
    if args.data_path:
        config_dict["data_path"] = os.path.abspath(args.data_path)
    user_files = [os.path.abspath(f) for f in args.config_files]
    config_files = task.get("config_files", []) + user_files
    caps, limits = parse_overrides(args.epochs_cap), parse_overrides(args.time_limit)

    if args.run_one:
        row, seed = args.run_one[0], int(args.run_one[1])
        model = model_of(row)
        # Each row's searches in a folder of their own: a killed run resumes its own search,
        # and a row never resumes another row's (a timing row would time nothing).
        config_dict["checkpoint_dir"] = checkpoint_dir(row)
        source = row_label(model, caps, limits, args.search_of) if args.search_of else None
        if source:  # every file of the source row's folder this row lacks (other datasets)
            shutil.copytree(checkpoint_dir(source), config_dict["checkpoint_dir"],
                            dirs_exist_ok=True, copy_function=copy_missing)  # fmt: skip
        if model == MODEL_SEARCH:
            config_dict["search_task"] = args.task
        if model in caps:
            config_dict["epochs"] = int(caps[model])
        elif model in limits:
            config_dict["train_time_limit"] = limits[model]
        dataset = args.dataset
        if "data" in task and not args.data_path and general_model(model):
            config_dict["data_path"], dataset = task["data"](args.dataset)
        if args.resume:
            config_dict["train_resume"] = True
        record = run_one(row, dataset, seed, config_dict, config_files)
        if source:
            record["search_of"] = source
        print("RECORD " + json.dumps(record))
        return

    models = args.models or task["models"]
    protocol = {
        "general": "RecBole defaults (random 8:1:1 split, full ranking, @10), "
        "valid_metric NDCG@10; early stopping on validation, test evaluated once. AutoCF rows "
        "whose budget shows no loss_type ran AutoCF's defaults before 2026-12-03 (loss_type "
        "BPR, 40 candidates, presets MF, FISM, NeuMF, SVD++): add --config_files "
        "benchmarks/configs/autocf_bpr_defaults.yaml to run them again; rows with loss_type "
        "softmax and no history_dropout (in budget or label) ran history_dropout 0 (the default "
        "before 2026-12-04): add benchmarks/configs/autocf_softmax_defaults.yaml; rows with "
        "loss_type softmax and no softmax_user_chunk ran RecBole's batches of shuffled pairs "
        "(the configs above pin it); AutoCF search rows with neither search_item_item_check "
        "in their budget nor the item-item check in their label ran without it (the default "
        "from 2026-12-05): add benchmarks/configs/autocf_no_item_item_check.yaml (the configs "
        "above pin it too); rows with the item-item check and neither "
        "search_item_item_check_candidates in their budget nor '2 candidates' in their label "
        "checked the found candidate only "
        "(before the evening of 2026-12-05): add benchmarks/configs/autocf_check_1_candidate.yaml"
        "; rows with the item-item check and no search_check_ensemble in their budget kept the "
        "best checked model, no ensemble of the checks (before 2026-12-06): add "
        "benchmarks/configs/autocf_no_check_ensemble.yaml. AutoGNN rows without a label ran "
        "AutoGNN's first defaults (BPR, learning rate 0.001, 20 candidates of 10 epochs on all "
        "users): add "
        "benchmarks/configs/autognn_bpr_defaults.yaml to run them again.",
        "explicit": "configs/explicit.yaml (rating regression: MSE loss, random 8:1:1, labeled "
        "evaluation, RMSE and MAE on ratings normalised to [0, 1]: x 4 = stars; FM and NeuMF "
        "keep their own loss on the scaled ratings), valid_metric RMSE; early stopping on "
        "validation, test evaluated once.",
        "ctr": "RecBole's context-aware defaults (labeled evaluation, AUC, LogLoss, "
        "valid_metric AUC); on ml-100k RecBole's built-in CTR setup (label = rating >= 4).",
        "kg": "RecBole defaults (random 8:1:1 split, full ranking, @10), valid_metric NDCG@10, "
        "early stopping on validation, test evaluated once; on ml-100k's interactions with "
        "items linked to its knowledge graph (97,554 of 100,000; 1,598 items: what RecBole's "
        "KG datasets keep). A general model (BPR) runs on a copy of those interactions that the "
        "script writes from RecBole's files (ml-100k-kg-linked; the same split: for seed 2020 its "
        "test pairs are those of RecBole's KG dataset), except the rows labelled just "
        "BPR: they ran on all of ml-100k (100,000 interactions, 1,682 items; the first version "
        "of the script gave the copy RecBole's name, and RecBole reads ml-100k from its own "
        "folder whatever data_path says), so they are not comparable; read BPR (KG-linked "
        "items). Each model at RecBole's defaults; AutoSF[F]: AutoSF with scoring "
        "function F (no search); AutoSF: its search (AutoSF.yaml's budget), then the found "
        "function retrained.",
    }[args.task]

    script_args = ["--task", args.task, "--dataset", args.dataset]
    script_args += ["--epochs_cap", *args.epochs_cap, "--time_limit", *args.time_limit]
    if args.data_path:
        script_args += ["--data_path", os.path.abspath(args.data_path)]
    if user_files:
        script_args += ["--config_files", *user_files]
    if args.resume:
        script_args += ["--resume"]
    if args.label:
        script_args += ["--label", args.label]
    if args.search_of:
        script_args += ["--search_of", args.search_of]
    rows = [row_label(model, caps, limits, args.label) for model in models]
    jobs = [(row, seed) for row in rows for seed in args.seeds]
    path = _record_path(args.dataset, args.task)
    workdir = os.path.join(HERE, ".work")
    if not args.table:
        run_jobs(__file__, script_args, jobs, path, workdir,
                 lambda: write_table(args.dataset, args.task, protocol), key="row")  # fmt: skip
    write_table(args.dataset, args.task, protocol)


if __name__ == "__main__":
    main()
