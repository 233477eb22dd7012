"""AutoGNN: the presets are RecBole's LightGCN, NGCF and MF (BPR), the space's other parts
do what they say, and the search runs through the core (journal, presets, resume)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import yaml
from conftest import tiny_config
from recbole.data import create_dataset, data_preparation
from recbole.trainer import Trainer

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.lookup import get_model
from recbole_automl.model.general_recommender.autognn import (
    PRESETS,
    AutoGNN,
    GNNLayer,
    normalized_adjacency,
    parse_architecture,
)
from recbole_automl.search import Journal
from recbole_automl.utils import reseed


def _one_epoch_loss(config, model, train):
    reseed(config, train)
    return Trainer(config, model)._train_epoch(train, 0)


@pytest.mark.parametrize(
    "preset, theirs, settings",
    [
        ("LightGCN", "LightGCN", {}),
        ("MF", "BPR", {"reg_weight": 0.0}),  # RecBole's BPR: MF without L2
        ("NGCF", "NGCF", {"reg_weight": 0.0, "message_dropout": 0.0}),  # NGCF's L2 is on
    ],  # its final embeddings, LightGCN's (and AutoGNN's) on the layer-0 ones
)
def test_each_preset_trains_as_recbole_model_from_the_same_initialisation(preset, theirs, settings):
    common = tiny_config(
        embedding_size=8,
        hidden_size_list=[8, 8, 8],
        loss_type="BPR",
        learning_rate=0.001,
        **settings,
    )
    ours_config = Config(
        "AutoGNN", read_cmd_line=False, config_dict={**common, "architecture": preset}
    )
    their_config = Config(theirs, read_cmd_line=False, config_dict=common)
    train, _, _ = data_preparation(ours_config, create_dataset(ours_config))
    ours = AutoGNN(ours_config, train._dataset)
    reference = get_model(theirs)(their_config, train._dataset)
    ours.user_embedding.load_state_dict(reference.user_embedding.state_dict())
    ours.item_embedding.load_state_dict(reference.item_embedding.state_dict())
    for layer, their_layer in zip(ours.layers, getattr(reference, "GNNlayers", [])):
        layer.linear.load_state_dict(their_layer.linear.state_dict())
        layer.interaction.load_state_dict(their_layer.interActTransform.state_dict())
    expected = _one_epoch_loss(their_config, reference, train)
    got = _one_epoch_loss(ours_config, ours, train)
    assert got == pytest.approx(expected, rel=1e-4)
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )


def test_normalizations_and_self_connection_of_the_adjacency():
    interactions = sp.coo_matrix((np.ones(3), ([0, 0, 1], [0, 1, 1])), shape=(2, 2))
    dense = {
        n: normalized_adjacency(interactions, 2, 2, n, False).to_dense()
        for n in ("none", "left", "symmetric")
    }
    a = dense["none"]
    degree = a.sum(1)
    assert a[0, 2] == 1 and a[2, 0] == 1 and a[1, 2] == 0 and a.sum() == 6
    assert torch.allclose(dense["left"], a / degree[:, None])
    assert torch.allclose(dense["symmetric"], a / degree.sqrt()[:, None] / degree.sqrt()[None, :])
    with_self = normalized_adjacency(interactions, 2, 2, "none", True).to_dense()
    assert torch.equal(with_self, a + torch.eye(4))


def test_attention_weights_each_nodes_neighbours_by_a_softmax():
    arch = parse_architecture({"aggregation": "attention"})
    layer = GNNLayer(arch, 4, 0.0)
    adjacency = torch.tensor([[0.0, 1, 1], [1, 0, 0], [1, 0, 0]]).to_sparse().coalesce()
    x = torch.randn(3, 4)
    scores = x @ x.T / 2.0
    weights = torch.softmax(scores.masked_fill(adjacency.to_dense() == 0, -float("inf")), 1)
    assert torch.allclose(layer(adjacency, x), weights @ x, atol=1e-6)


@pytest.mark.parametrize(
    "architecture, message",
    [
        ("GCN", r"'architecture': unknown preset 'GCN'; presets are \['MF', 'LightGCN', 'NGCF'\]"),
        ({"depth": 2}, r"'architecture': unknown parts \['depth'\]"),
        ({"layers": 7}, r"'architecture': 'layers' must be one of \[0, 1, 2, 3, 4\], got 7"),
        ({"combination": "max"}, r"'combination' must be one of \['last', 'mean'"),
    ],
)
def test_bad_architectures_are_named_before_training(architecture, message, isolated_run):
    with pytest.raises(ConfigError, match=message):
        run_recbole_automl(model="AutoGNN", config_dict=tiny_config(architecture=architecture))


def test_edge_dropout_drops_edges_while_training_only():
    config = Config(
        "AutoGNN", read_cmd_line=False,
        config_dict=tiny_config(architecture={"edge_dropout": 0.2}, embedding_size=8),
    )  # fmt: skip
    train, _, _ = data_preparation(config, create_dataset(config))
    model = AutoGNN(config, train._dataset)
    kept = model._dropped()._nnz() / model.adjacency._nnz()
    assert 0.7 < kept < 0.9
    model.eval()
    assert model._dropped() is model.adjacency
    users, _ = model.forward()
    again, _ = model.forward()
    assert torch.equal(users, again)


SEARCH = {"search_epochs": 1, "search_trials": 6, "arsp_k1": 3, "epochs": 2}


def test_search_trains_the_presets_first_then_retrains_the_best_and_resumes(isolated_run):
    result = run_recbole_automl(model="AutoGNN", config_dict=tiny_config(**SEARCH))
    summary = result["search"]
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(folder / "journal.jsonl").load()
    assert len(trials) == 6
    assert [parse_architecture(t.point["architecture"]) for t in trials[:3]] == [
        parse_architecture(name) for name in ("MF", "LightGCN", "NGCF")
    ]
    best = max((t for t in trials if t.scored), key=lambda t: t.value)
    assert summary["architecture"] == best.point["architecture"]
    assert summary["embedding_size"] == best.point["embedding_size"]
    rows = summary["comparison"]  # the found model, then the presets by validation score
    assert rows[0]["model"] == "found" and {r["model"] for r in rows[1:]} == set(PRESETS)
    assert [r["valid_score"] for r in rows[1:]] == sorted((r["valid_score"] for r in rows[1:]),
                                                          reverse=True)  # fmt: skip
    exported = yaml.safe_load(open(folder / "best.yaml"))
    assert exported["architecture"] == best.point["architecture"]
    again = run_recbole_automl(model="AutoGNN", config_dict=tiny_config(**SEARCH))
    assert Journal(folder / "journal.jsonl").load() == trials  # nothing trained again
    assert again["test_result"] == result["test_result"]


def test_softmax_loss_is_the_cross_entropy_of_the_positive_among_every_item():
    config = Config(
        "AutoGNN", read_cmd_line=False,
        config_dict=tiny_config(architecture="LightGCN", loss_type="softmax", reg_weight=0.0),
    )  # fmt: skip
    train, _, _ = data_preparation(config, create_dataset(config))
    model = AutoGNN(config, train._dataset)
    batch = next(iter(train))
    users, items = model.forward()
    u, pos = users[batch[model.USER_ID]], batch[model.ITEM_ID]
    expected = -torch.log_softmax(u @ items.T, 1)[torch.arange(len(pos)), pos].mean()
    assert torch.allclose(model.calculate_loss(batch), expected, atol=1e-6)


def test_a_search_holds_every_zero_layer_architecture_as_one_point():
    from recbole_automl.model.general_recommender.autognn import ArchitectureSpace
    from recbole_automl.search import HyperSpace, JointSpace

    space = JointSpace(
        {"architecture": ArchitectureSpace()},
        HyperSpace.from_dict({"embedding_size": {"choice": [8, 16]}}),
    )
    mf = {"architecture": {"layers": 0}, "embedding_size": 8}
    other = {"architecture": {"layers": 0, "transform": "bi", "edge_dropout": 0.2},
             "embedding_size": 8}  # fmt: skip
    assert space.key(mf) == space.key(other)
    assert space.key(mf) != space.key({**mf, "embedding_size": 16})
    deep = {"architecture": {"layers": 2}, "embedding_size": 8}
    assert space.key(deep) != space.key({**deep, "architecture": {"layers": 2, "transform": "bi"}})
    rng = np.random.default_rng(0)
    for _ in range(20):
        point = space.sample(rng)
        if point["architecture"]["layers"] == 0:
            assert point["architecture"] == parse_architecture("MF")


def test_the_search_draws_from_the_narrowed_space_and_names_a_bad_one(isolated_run):
    from recbole_automl.model.general_recommender.autognn import ArchitectureSpace

    space = ArchitectureSpace({"aggregation": ["sum"], "layers": [0, 1]})
    rng = np.random.default_rng(0)
    points = [space.sample(rng) for _ in range(30)]
    assert {p["aggregation"] for p in points} == {"sum"}
    assert {p["layers"] for p in points} == {0, 1}
    bad_spaces = [({"depth": [1]}, "unknown part 'depth'"),
                  ({"layers": [9]}, r"'layers' must be a non-empty list of \[0, 1")]  # fmt: skip
    for bad, message in bad_spaces:
        with pytest.raises(ConfigError, match=f"'search_architecture_space': {message}"):
            run_recbole_automl(
                model="AutoGNN", config_dict=tiny_config(search_architecture_space=bad)
            )
