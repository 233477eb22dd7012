"""PEP: pruned embeddings for context-aware models, the mask search and the retraining."""

import pytest
import torch
import torch.nn as nn
from conftest import CTR_CONFIG_FILE, tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.context_aware_recommender.pep import PEP, prefix_mask
from recbole_automl.model.layers import THRESHOLD_GRANULARITIES, PrunedEmbedding
from recbole_automl.search import Journal

SEARCH = {"threshold_init": -3.0, "search_epochs": 30, "pep_targets": [0.9, 0.5], "pep_target": 0.5}


@pytest.mark.parametrize("granularity", sorted(THRESHOLD_GRANULARITIES))
def test_pruned_table_is_sign_times_relu_of_magnitude_minus_threshold(granularity):
    table = nn.Embedding(6, 4)
    row_fields = torch.tensor([0, 0, 0, 1, 1, 2])
    pruned = PrunedEmbedding(table, row_fields, granularity, init=-1.0)
    with torch.no_grad():
        pruned.threshold.normal_()
    s = pruned.threshold[row_fields] if granularity.startswith("field") else pruned.threshold
    expected = torch.sign(table.weight) * torch.relu(table.weight.abs() - torch.sigmoid(s))
    assert torch.equal(pruned(torch.arange(6)), expected)
    rows = {"global": 1, "dimension": 1, "feature": 6, "feature_dim": 6, "field": 3, "field_dim": 3}
    assert pruned.threshold.shape[0] == rows[granularity]


def test_fixed_mask_keeps_pruned_weights_at_zero_while_training():
    pruned = PrunedEmbedding(nn.Embedding(5, 3), torch.zeros(5, dtype=torch.long), "global", -9.0)
    mask = torch.rand(5, 3) > 0.5
    pruned.fix(mask)
    optimizer = torch.optim.Adam(pruned.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        pruned(torch.arange(5)).pow(2).sum().neg().backward()
        optimizer.step()
    assert not pruned.weight[~mask].any() and pruned.nonzero() == int(mask.sum())


def _config(**overrides):
    return tiny_config(**{**SEARCH, "epochs": 2, "learning_rate": 0.01, **overrides})


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"base_model": "BPR"}, "'base_model'"),
        ({"threshold_granularity": "row"}, "'threshold_granularity'"),
    ],
)
def test_bad_model_keys_are_named(overrides, key):
    with pytest.raises(ConfigError, match=key):  # by Config (its rules) or by the model
        config = Config(
            model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config(**overrides)
        )
        train, _, _ = data_preparation(config, create_dataset(config))
        PEP(config, train._dataset)


def test_target_must_be_searched():
    with pytest.raises(ConfigError, match="'pep_target'"):
        run_recbole_automl(
            model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config(pep_target=0.3)
        )


@pytest.mark.parametrize("base", ["FM", "DeepFM", "AutoInt"])
def test_search_retrain_and_reload_with_the_sparsity(base, isolated_run):
    config_dict = _config(base_model=base, pep_target=0.5)
    result = run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict
    )
    summary = result["search"]
    assert summary["embedding_nonzero"] <= 0.5 * summary["embedding_total"]
    assert set(result["test_result"]) == {"auc", "logloss"}

    (checkpoint,) = (isolated_run / "saved").glob("PEP-*.pth")
    config = Config(model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict)
    train, _, test = data_preparation(config, create_dataset(config))
    model = PEP(config, train._dataset)
    model.load_state_dict(torch.load(checkpoint, weights_only=False)["state_dict"])
    assert model.embedding_nonzero() == summary["embedding_nonzero"]
    assert model.parameter_count() == summary["parameters"]
    rest = (
        sum(p.numel() for n, p in model.named_parameters() if "threshold" not in n)
        - summary["embedding_total"]
    )
    assert summary["parameters"] == summary["embedding_nonzero"] + rest


def test_retrain_rewinds_to_step_zero_and_reuses_the_search(isolated_run):
    run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config(pep_target=0.5)
    )
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(folder / "journal.jsonl").load()
    second = run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config(pep_target=0.9)
    )
    assert Journal(folder / "journal.jsonl").load() == trials  # no new search
    assert second["search"]["embedding_nonzero"] <= 0.9 * second["search"]["embedding_total"]

    config = Config(model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config())
    train, _, _ = data_preparation(config, create_dataset(config))
    model = PEP(config, train._dataset)
    initial = torch.load(folder / "initial.pt")
    model.load_state_dict(initial)
    masks = torch.load(folder / "mask-0.5.pt")
    model.fix(masks)
    first = model.pruned[0]
    assert torch.equal(
        first.weight, initial["base.token_embedding_table.embedding.weight"] * masks[0]
    )


def test_magnitude_baseline_keeps_the_largest_trained_weights_then_rewinds(isolated_run):
    config_dict = _config(pep_pruner="magnitude", pep_targets=[0.5, 0.2], pep_target=0.2)
    result = run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict
    )
    summary = result["search"]
    assert summary["embedding_nonzero"] == pytest.approx(0.2 * summary["embedding_total"], rel=0.02)
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    assert "magnitude" in folder.name
    config = Config(model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict)
    train, _, _ = data_preparation(config, create_dataset(config))
    model = PEP(config, train._dataset)
    model.fix([torch.ones_like(t.weight, dtype=torch.bool) for t in model.pruned])
    model.load_state_dict(torch.load(folder / "best_model.pth", weights_only=False)["state_dict"])
    weights = torch.cat([table.weight.abs().flatten() for table in model.pruned])
    masks = torch.load(folder / "mask-0.2.pt")
    kept = torch.cat([m.flatten() for m in masks])
    assert weights[kept].min() >= weights[~kept].max()  # the largest magnitudes are kept
    loose = torch.load(folder / "mask-0.5.pt")
    assert all((m2 <= m5).all() for m2, m5 in zip(masks, loose))  # nested masks


def test_prefix_layout_keeps_each_rows_count_as_its_first_dimensions():
    mask = torch.tensor([[False, True, False, True], [False, False, False, False], [True] * 4])
    assert torch.equal(
        prefix_mask(mask),
        torch.tensor([[True, True, False, False], [False] * 4, [True] * 4]),
    )


def test_retrain_with_the_prefix_layout_reuses_the_search(isolated_run):
    elements = run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=_config(pep_target=0.5)
    )
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(folder / "journal.jsonl").load()
    prefix = run_recbole_automl(
        model="PEP",
        config_file_list=[CTR_CONFIG_FILE],
        config_dict=_config(pep_target=0.5, pep_mask_layout="prefix"),
    )
    assert Journal(folder / "journal.jsonl").load() == trials  # the same masks, no new search
    assert prefix["search"]["embedding_nonzero"] == elements["search"]["embedding_nonzero"]
    checkpoint = max((isolated_run / "saved").glob("PEP-*.pth"), key=lambda p: p.stat().st_mtime)
    state = torch.load(checkpoint, weights_only=False)["state_dict"]
    mask = state["base.token_embedding_table.embedding.mask"].bool()
    masks = torch.load(folder / "mask-0.5.pt")
    assert torch.equal(mask, prefix_mask(masks[0]))


def test_finetune_retrains_from_the_weights_the_mask_was_taken_from(isolated_run):
    config_dict = _config(pep_target=0.5, pep_retrain="finetune")
    result = run_recbole_automl(
        model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict
    )
    assert result["search"]["embedding_nonzero"] <= 0.5 * result["search"]["embedding_total"]
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    config = Config(model="PEP", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict)
    train, _, _ = data_preparation(config, create_dataset(config))
    model = PEP(config, train._dataset)
    model.load_state_dict(torch.load(folder / "weights-0.5.pt"))
    masks = torch.load(folder / "mask-0.5.pt")
    in_use = [table.table().detach() for table in model.pruned]
    assert all(torch.equal(t != 0, m) for t, m in zip(in_use, masks))  # the mask's weights
    model.fix(masks, in_use=True)
    assert all(torch.equal(table.weight, t) for table, t in zip(model.pruned, in_use))
    assert not torch.equal(in_use[0], torch.load(folder / "initial.pt")[
        "base.token_embedding_table.embedding.weight"] * masks[0])  # fmt: skip


def test_finetune_needs_the_elements_layout():
    with pytest.raises(ConfigError, match="'pep_mask_layout'.*finetune"):
        run_recbole_automl(
            model="PEP",
            config_file_list=[CTR_CONFIG_FILE],
            config_dict=_config(pep_retrain="finetune", pep_mask_layout="prefix"),
        )
