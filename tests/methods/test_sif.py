"""SIF: the supernet model, its bilevel one-shot search, export and resume."""

import os

import pytest
import torch
import yaml
from conftest import ROOT, mean_predictor_rmse, tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.general_recommender.sif import SIF
from recbole_automl.model.layers import INTERACTIONS
from recbole_automl.search import Journal
from recbole_automl.trainer.one_shot import validation_batches
from recbole_automl.trainer.sif_trainer import SupernetTrainer

EXPLICIT = os.path.join(ROOT, "configs", "explicit.yaml")


def _build(**overrides):
    config = Config(model="SIF", config_dict=tiny_config(**overrides))
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    return config, SIF(config, train._dataset), train, valid


def _interaction(config, train):
    return next(iter(train)).to(config["device"])


def test_supernet_scores_with_the_argmax_operation_and_every_weight_gets_a_gradient():
    config, model, train, _ = _build()
    with torch.no_grad():
        model.alpha.copy_(torch.tensor([0.2, 0.3, 0.9, 0.1, 0.4, 0.5]))
    assert model.interaction == "plus"
    batch = _interaction(config, train)
    user, item = batch[model.USER_ID], batch[model.ITEM_ID]
    assert torch.allclose(model.supernet_forward(user, item), model.forward(user, item))
    model.architecture_loss(batch).backward()
    assert (model.alpha.grad != 0).all()  # every operation is scored, one is used
    for head in model.heads.values():
        assert head.weight.norm() <= 1.0 + 1e-5


def test_stand_alone_model_has_one_operation_and_the_exported_networks_frozen():
    _, searched, _, _ = _build()
    architecture = searched.architecture()
    config, model, train, _ = _build(
        interaction="min", interaction_mlp=architecture["interaction_mlp"]
    )
    assert list(model.heads) == ["min"] and model.interaction == "min"
    assert model.mlps["user"].flat() == pytest.approx(architecture["interaction_mlp"]["user"])
    assert not any(p.requires_grad for p in model.mlps.parameters())
    _, plain, _, _ = _build(interaction="concat")
    assert plain.mlps is None


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"interaction": "divide"}, "'interaction'"),
        ({"sif_operations": ["plus", "outer"]}, "'sif_operations'"),
        ({"interaction": "plus", "interaction_mlp": {"user": [0.1], "item": [0]}}, "_mlp'"),
    ],
)  # fmt: skip
def test_bad_sif_keys_are_named(overrides, key):
    with pytest.raises(ConfigError, match=key):
        _build(**overrides)


def test_validation_batches_come_from_the_validation_split_with_unseen_negatives():
    config, model, train, valid = _build()
    batch = next(validation_batches(config, train, valid))
    valid_pairs = set(zip(*(valid._dataset.inter_feat[f].tolist() for f in ("user_id", "item_id"))))
    train_pairs = set(zip(*(train._dataset.inter_feat[f].tolist() for f in ("user_id", "item_id"))))
    users, items, negatives = (batch[f].tolist() for f in ("user_id", "item_id", "neg_item_id"))
    assert all(pair in valid_pairs for pair in zip(users, items))
    assert not any((u, n) in valid_pairs | train_pairs for u, n in zip(users, negatives))


def test_bilevel_step_moves_the_architecture_on_validation_and_not_the_weights(tmp_path):
    config, model, train, valid = _build()
    trainer = SupernetTrainer(config, model, tmp_path, validation_batches(config, train, valid))
    alpha, embeddings = model.alpha.detach().clone(), model.user_embedding.weight.detach().clone()
    trainer._bilevel_loss(_interaction(config, train))
    assert not torch.equal(model.alpha, alpha)
    assert torch.equal(model.user_embedding.weight, embeddings)
    assert all(p.grad is None or not p.grad.any() for p in model.weight_parameters())
    assert 0.0 <= model.alpha.min() and model.alpha.max() <= 1.0


def _search(**overrides):
    return run_recbole_automl(
        model="SIF", config_dict=tiny_config(**{"search_epochs": 3, "epochs": 2, **overrides})
    )


def test_search_retrains_the_found_function_and_its_export_reproduces_it(isolated_run):
    result = _search()
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(folder / "journal.jsonl").load()
    assert [t.epochs for t in trials] == [1, 2, 3]
    assert all(set(t.point["weights"]) == set(INTERACTIONS) for t in trials)
    for name in ("trajectory.png", "operation_weights.png", "checkpoint.pth"):
        assert (folder / name).exists()
    summary = result["search"]
    assert summary["search_epochs"] == 3
    # Its best check trained as the retraining would (sif_check_epochs ~: epochs = 2): kept.
    assert not summary["retrained"]
    exported = yaml.safe_load(open(folder / "best.yaml"))
    assert exported["interaction"] == summary["interaction"]
    assert "search_epochs" not in exported and "config_files" not in exported

    reproduced = run_recbole_automl(config_file_list=[str(folder / "best.yaml")])
    assert reproduced["test_result"] == result["test_result"]
    assert "search" not in reproduced  # a plain SIF model: nothing searched


def test_search_resumes_without_losing_or_repeating_epochs(isolated_run):
    _search(search_epochs=2)
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    journal = Journal(folder / "journal.jsonl")
    first = journal.load()

    # Killed after the checkpoint of epoch 2 but before its journal line.
    lines = open(journal.path).read().splitlines(keepends=True)
    open(journal.path, "w").writelines(lines[:-1])
    _search(search_epochs=2)
    assert journal.load() == first  # restored from the checkpoint, nothing retrained

    _search(search_epochs=4)  # a larger budget extends the same search
    trials = journal.load()
    assert trials[:2] == first
    assert [t.number for t in trials] == [0, 1, 2, 3] and [t.epochs for t in trials] == [1, 2, 3, 4]


def test_the_papers_search_retrains_the_last_argmax_and_beats_the_mean(isolated_run):
    result = run_recbole_automl(
        model="SIF", config_file_list=[EXPLICIT],
        config_dict=tiny_config(search_epochs=2, epochs=5, sif_warmup_epochs=0, sif_finalists=0),
    )  # fmt: skip
    assert set(result["test_result"]) == {"rmse", "mae"}
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    weights = Journal(folder / "journal.jsonl").load()[-1].point["weights"]
    assert result["search"]["interaction"] == max(weights, key=weights.get)
    assert result["search"]["elementwise_networks"] and result["search"]["checks"] == []
    assert result["test_result"]["rmse"] < mean_predictor_rmse()


def test_finalists_are_checked_stand_alone_and_the_best_on_validation_is_retrained(isolated_run):
    result = run_recbole_automl(
        model="SIF", config_file_list=[EXPLICIT],
        config_dict=tiny_config(search_epochs=3, epochs=5, sif_check_epochs=2, sif_finalists=3,
                                sif_networks_check=True),
    )  # fmt: skip
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    argmax = Journal(folder / "journal.jsonl").load()[-1].point["interaction"]
    summary = result["search"]
    one_shot = summary["one_shot"]
    assert set(one_shot) == set(INTERACTIONS)
    checks = summary["checks"]
    # The argmax and the two best others by one-shot RMSE alone, then the best with networks.
    others = sorted((op for op in one_shot if op != argmax), key=one_shot.get)[:2]
    alone = [c for c in checks if not c["elementwise"]]
    assert [c["interaction"] for c in alone] == [argmax, *others]
    best_alone = min(alone, key=lambda c: c["valid_score"])
    assert [(c["interaction"], c["elementwise"]) for c in checks[3:]] == [
        (best_alone["interaction"], True)
    ]
    assert all(1 <= c["epochs"] <= 2 for c in checks)
    assert summary["retrained"]  # 2 check epochs, no early stop: 5 epochs may do better
    assert summary["check_epochs"] == sum(c["epochs"] for c in checks)
    assert len(Journal(folder / "checks" / "journal.jsonl").load()) == 3
    assert len(Journal(folder / "checks-networks" / "journal.jsonl").load()) == 1
    best = min(checks, key=lambda c: c["valid_score"])
    assert (summary["interaction"], summary["elementwise_networks"]) == (
        best["interaction"], best["elementwise"]
    )  # fmt: skip
    exported = yaml.safe_load(open(folder / "best.yaml"))
    assert exported["interaction"] == best["interaction"]
    assert (exported["interaction_mlp"] is not None) == best["elementwise"]
    assert not any(key.startswith("sif_") for key in exported)


def test_warmup_trains_every_operation_in_turn_and_not_the_architecture(tmp_path):
    config, model, train, valid = _build(sif_warmup_epochs=2)
    trainer = SupernetTrainer(config, model, tmp_path, validation_batches(config, train, valid))
    alpha = model.alpha.detach().clone()
    heads = {op: head.weight.detach().clone() for op, head in model.heads.items()}
    used = []
    calculate_loss = model.calculate_loss
    model.calculate_loss = lambda batch: used.append(model.interaction) or calculate_loss(batch)
    for epoch in (0, 1):  # the turns go on across epochs (tiny data: 5 batches an epoch)
        trainer._train_epoch(train, epoch)
    assert used == [model.operations[i % 6] for i in range(len(used))] and len(used) >= 6
    assert all(not torch.equal(model.heads[op].weight, heads[op]) for op in heads)
    assert torch.equal(model.alpha, alpha) and model.fixed_operation is None


@pytest.mark.parametrize("offsets, networks", [(False, False), (True, False), (False, True)])
def test_full_ranking_scores_equal_pair_scores(offsets, networks):
    mlp = _build()[1].architecture()["interaction_mlp"] if networks else None
    config, model, train, _ = _build(interaction="min", user_item_bias=offsets, interaction_mlp=mlp)
    if offsets:
        with torch.no_grad():
            for table in model.offsets.values():
                table.weight.normal_()
    user = torch.tensor([1, 2])
    items = torch.arange(model.n_items)
    batch = {model.USER_ID: user}
    full = model.full_sort_predict(batch).reshape(2, -1)
    pairs = torch.stack([model.forward(u.repeat(model.n_items), items) for u in user])
    assert torch.allclose(full, pairs, atol=1e-6)
    if networks:  # each distinct id through the network once: the same as every row
        u = model.mlps["user"](model.user_embedding(user[[0, 0, 1]]))
        v = model.mlps["item"](model.item_embedding(items[[3, 3, 4]]))
        head = model.heads["min"]
        direct = model.bias + head(torch.minimum(u, v))
        assert torch.allclose(model.forward(user[[0, 0, 1]], items[[3, 3, 4]]), direct, atol=1e-6)


@pytest.mark.parametrize(
    "loss_type, offsets, expected",
    [("MSE", None, True), ("BPR", None, False), ("MSE", False, False), ("BPR", True, True)],
)  # fmt: skip
def test_user_item_offsets_default_to_the_rating_loss(loss_type, offsets, expected):
    files = [EXPLICIT] if loss_type == "MSE" else []  # ratings as labels
    keys = tiny_config(interaction="multiply", loss_type=loss_type, user_item_bias=offsets)
    config = Config(model="SIF", config_file_list=files, config_dict=keys)
    train, _, _ = data_preparation(config, create_dataset(config))
    model = SIF(config, train._dataset)
    assert (model.offsets is not None) == expected


def test_by_default_the_finalists_are_checked_without_the_networks(isolated_run):
    result = run_recbole_automl(
        model="SIF", config_file_list=[EXPLICIT], config_dict=tiny_config(search_epochs=3, epochs=2)
    )
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    summary = result["search"]
    assert [c["elementwise"] for c in summary["checks"]] == [False, False]  # 2 finalists
    assert not summary["elementwise_networks"] and not (folder / "checks-networks").exists()
    assert yaml.safe_load(open(folder / "best.yaml"))["interaction_mlp"] is None


def test_a_check_behind_the_best_that_has_stalled_stops_and_the_best_runs_to_its_end(
    isolated_run,
):
    result = run_recbole_automl(
        model="SIF", config_file_list=[EXPLICIT],
        config_dict=tiny_config(search_epochs=3, epochs=8, stopping_step=1,
                                sif_check_stall_delta=1.0,  # any check behind stops
                                sif_networks_check=True),
    )  # fmt: skip
    checks, summary = result["search"]["checks"], result["search"]
    best = min(checks, key=lambda c: c["valid_score"])
    assert checks[0]["status"] == "complete" and best["status"] == "complete"
    pruned = [c for c in checks if c["status"] == "pruned"]
    assert pruned and all(c["valid_score"] > best["valid_score"] for c in pruned)
    assert all(c["epochs"] == 2 for c in pruned)  # stopping_step 1: one validation more
    assert checks[-1]["elementwise"]  # the networks' check, behind the leader of the others
    assert (summary["interaction"], summary["elementwise_networks"]) == (
        best["interaction"], best["elementwise"]
    )  # fmt: skip
    assert not summary["retrained"]


def test_a_bad_stall_delta_is_named():
    with pytest.raises(ConfigError, match="sif_check_stall_delta"):
        Config(model="SIF", config_dict=tiny_config(sif_check_stall_delta=-1))


def test_the_networks_check_can_start_from_the_supernets_weights(isolated_run, monkeypatch):
    import recbole_automl.trainer.sif_trainer as sif_trainer

    seen, original = [], sif_trainer.inherit

    def spy(model, state):
        original(model, state)
        seen.append(
            (model.interaction, {k: v.clone() for k, v in model.state_dict().items()}, state)
        )

    monkeypatch.setattr(sif_trainer, "inherit", spy)
    result = run_recbole_automl(
        model="SIF", config_file_list=[EXPLICIT],
        config_dict=tiny_config(search_epochs=3, epochs=2, sif_networks_check=True,
                                sif_networks_warm_start=True),
    )  # fmt: skip
    ((op, loaded, state),) = seen  # the networks' check only
    (networks,) = [c for c in result["search"]["checks"] if c["elementwise"]]
    assert op == networks["interaction"]
    inherited = ["user_embedding.weight", "item_embedding.weight"]
    inherited += [k for k in loaded if k.startswith(f"heads.{op}.")]
    for key in inherited:  # before its first step
        assert torch.equal(loaded[key], state[key])
    assert "alpha" in state and "alpha" not in loaded
