"""AutoCross: the feature producer, the beam search with successive mini-batch gradient
descent, resuming, and the producer re-applied to raw data of the same schema."""

import os

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import CTR_CONFIG_FILE, TEST_DATA, tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.methods.cross_search import CrossSearch, auc
from recbole_automl.model.context_aware_recommender.autocross import AutoCross
from recbole_automl.model.feature_cross import FeatureProducer, joined, token_code
from recbole_automl.search import Journal

SEARCH = {"autocross_min_gain": -1.0, "autocross_max_crosses": 2, "autocross_min_count": 1}


def _run(config_files=(CTR_CONFIG_FILE,), **overrides):
    config_dict = tiny_config(**{**SEARCH, "epochs": 2, "learning_rate": 0.01, **overrides})
    return run_recbole_automl(
        model="AutoCross", config_file_list=list(config_files), config_dict=config_dict
    )


def _data(config_dict, config_file=CTR_CONFIG_FILE):
    config = Config(model="AutoCross", config_file_list=[config_file], config_dict=config_dict)
    return config, data_preparation(config, create_dataset(config))


def test_auc_counts_ordered_pairs_and_halves_ties():
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0])
    logits = torch.tensor([[0.9, 0.1, 0.8, 0.2], [0.1, 0.9, 0.5, 0.5]])
    assert auc(logits, labels).tolist() == pytest.approx([1.0, 0.125])


def test_a_cross_with_a_token_sequence_is_one_id_per_element_and_padding_stays_0():
    atoms = {"a": {"field": "a", "type": "token", "boundaries": None},
             "g": {"field": "g", "type": "token_seq", "boundaries": None}}  # fmt: skip
    producer = FeatureProducer(atoms, [], [], buckets=1000)
    x, y = token_code("Action"), token_code("Comedy")
    codes = {"a": torch.tensor([5, 5, 6]), "g": torch.tensor([[x, y, 0], [y, 0, 0], [x, 0, 0]])}
    hashed = producer.hashed(codes, ["a", "g"])
    assert hashed.shape == (3, 3) and (hashed[codes["g"] == 0] == 0).all()
    assert hashed[0, 1] == hashed[1, 0] and hashed[0, 0] != hashed[2, 0]  # (5, y) twice
    assert producer.hashed(codes, ["a"]).shape == (3,)


def test_atoms_are_every_feature_field_with_floats_at_each_granularity():
    config, (train, _, _) = _data(tiny_config(autocross_bins=[2, 4]))
    producer = FeatureProducer.fit(train._dataset, [2, 4], 100, config["LABEL_FIELD"])
    assert list(producer.atoms) == [
        "user_id", "item_id", "timestamp@2", "timestamp@4", "age", "gender", "occupation",
        "release_year", "class",
    ]  # fmt: skip
    assert len(producer.atoms["timestamp@4"]["boundaries"]) == 3
    assert producer.atoms["class"]["type"] == "token_seq"


def _candidates(crosses, max_order, atoms=None):
    """Candidates over atoms name -> (field, type)."""
    atoms = atoms or {"a": ("a", "token"), "b": ("b", "token"), "t@2": ("t", "float"),
                      "t@4": ("t", "float")}  # fmt: skip
    search = CrossSearch(
        {"autocross_max_order": max_order},
        FeatureProducer({n: {"field": f, "type": k, "boundaries": None}
                         for n, (f, k) in atoms.items()}, [], [], 8),  # fmt: skip
        None, None, None, None,
    )  # fmt: skip
    return search.candidates(crosses)


def test_candidates_are_pairs_of_fields_then_the_selected_extended_by_one_field():
    pairs = [("a", "b"), ("a", "t@2"), ("a", "t@4"), ("b", "t@2"), ("b", "t@4")]
    assert _candidates([], 3) == pairs  # never two granularities of one field
    grown = _candidates([["a", "t@2"]], 3)
    assert ("a", "b", "t@2") in grown and ("a", "t@2") not in grown
    assert len(grown) == 5  # 4 pairs left + one extension
    assert _candidates([["a", "t@2"]], 2) == [p for p in pairs if p != ("a", "t@2")]
    sequences = {"a": ("a", "token"), "g": ("g", "token_seq"), "h": ("h", "token_seq")}
    assert _candidates([], 3, sequences) == [("a", "g"), ("a", "h")]  # one token_seq at most
    assert _candidates([["a", "g"]], 3, sequences) == [("a", "h")]


def _planted_dataset(folder, rows=3000, seed=0):
    """Label = a XOR b (10% flipped); c is noise. No atom alone predicts it, a*b does."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.integers(0, 2, (3, rows))
    label = (a ^ b) ^ (rng.random(rows) < 0.1)
    os.makedirs(folder / "planted")
    frame = pd.DataFrame({
        "user_id:token": rng.integers(0, 50, rows), "item_id:token": rng.integers(0, 50, rows),
        "a:token": a, "b:token": b, "c:token": c, "label:float": label.astype(float),
    })  # fmt: skip
    frame.to_csv(folder / "planted" / "planted.inter", sep="\t", index=False)
    return {"dataset": "planted", "data_path": str(folder), "LABEL_FIELD": "label",
            "load_col": None}  # fmt: skip


def test_search_finds_the_planted_cross_first_and_stops_without_gain(isolated_run):
    data = _planted_dataset(isolated_run)
    result = _run(
        (), **data, autocross_min_gain=0.01, autocross_max_crosses=5, autocross_min_count=5,
        autocross_batch_size=64,
        epochs=20, learning_rate=0.05,
    )  # fmt: skip
    assert result["search"]["crosses"] == ["a*b"]
    assert result["test_result"]["auc"] > 0.85  # plain LR: about 0.5
    trials = Journal(os.path.join(result["search"]["folder"], "journal.jsonl")).load()
    assert trials[1].point == {"cross": "a*b", "accepted": True}
    assert trials[1].value > trials[0].value + 0.3
    assert trials[-1].point["accepted"] is False  # the second step gained too little


def test_search_writes_producer_config_journal_and_plot(isolated_run):
    result = _run()
    folder = result["search"]["folder"]
    assert len(result["search"]["crosses"]) == 2
    for name in ("producer.json", "best.yaml", "journal.jsonl", "trajectory.png"):
        assert os.path.exists(os.path.join(folder, name)), name
    trials = Journal(os.path.join(folder, "journal.jsonl")).load()
    assert [t.point["cross"] for t in trials[1:]] == result["search"]["crosses"]
    assert trials[1].result["candidates"] > trials[1].result["rounds"] >= 1


def test_best_yaml_trains_the_same_model_without_searching(isolated_run):
    first = _run()
    best = os.path.join(first["search"]["folder"], "best.yaml")
    found = yaml.safe_load(open(best))
    assert found["model"] == "AutoCross" and found["autocross_producer"].endswith(".json")
    journal = Journal(os.path.join(first["search"]["folder"], "journal.jsonl")).load()
    again = run_recbole_automl(config_file_list=[CTR_CONFIG_FILE, best],
                               config_dict={"show_progress": False, "state": "ERROR"})  # fmt: skip
    assert again["search"]["folder"] is None
    assert again["search"]["crosses"] == first["search"]["crosses"]
    assert again["test_result"] == first["test_result"]
    assert Journal(os.path.join(first["search"]["folder"], "journal.jsonl")).load() == journal


def test_rerun_resumes_and_a_larger_budget_extends_the_search(isolated_run):
    first = _run(autocross_max_crosses=1)
    journal = Journal(os.path.join(first["search"]["folder"], "journal.jsonl"))
    trials = journal.load()
    # Killed after the checkpoint of the last step but before its journal line.
    lines = open(journal.path).read().splitlines(keepends=True)
    open(journal.path, "w").writelines(lines[:-1])
    assert _run(autocross_max_crosses=1)["search"]["crosses"] == first["search"]["crosses"]
    assert journal.load() == trials  # restored from the checkpoint, nothing searched again
    extended = _run(autocross_max_crosses=2)
    assert extended["search"]["folder"] == first["search"]["folder"]
    assert extended["search"]["crosses"][:1] == first["search"]["crosses"]
    assert journal.load()[:2] == trials and len(journal.load()) == 3
    again = _run(autocross_max_crosses=3)  # replays two frozen crosses, then searches on
    assert again["search"]["crosses"][:2] == extended["search"]["crosses"]
    assert len(journal.load()) == 4


def _raw_frame(dataset):
    """The tiny dataset's atomic files as a user would read them: raw values, joined."""
    read = lambda suffix: pd.read_csv(  # noqa: E731
        os.path.join(TEST_DATA, dataset, f"{dataset}.{suffix}"), sep="\t", dtype=str
    ).rename(columns=lambda c: c.split(":")[0])
    frame = read("inter").merge(read("user"), on="user_id").merge(read("item"), on="item_id")
    frame["timestamp"] = frame["timestamp"].astype(float)
    return frame


def test_saved_producer_reapplied_to_raw_data_gives_the_models_crosses(isolated_run):
    result = _run(autocross_max_crosses=3, autocross_min_count=2)
    producer = FeatureProducer.load(os.path.join(result["search"]["folder"], "producer.json"))
    assert producer.cross_names == result["search"]["crosses"]
    config, (_, _, test) = _data(tiny_config(**{**SEARCH, "autocross_min_count": 2}))
    dataset = test._dataset
    model = AutoCross(config, dataset, producer)
    inside = model.crosser(joined(dataset))  # the crosses the model computes of the test split

    raw = _raw_frame("tiny")  # every split, in the files' order
    crossed = producer.transform(raw).set_index(
        pd.MultiIndex.from_frame(raw[["user_id", "item_id"]])
    )
    tokens = {
        f: dataset.field2id_token[f][dataset.inter_feat[f].numpy()] for f in ("user_id", "item_id")
    }
    rows = pd.MultiIndex.from_arrays([tokens["user_id"], tokens["item_id"]])  # the test split's
    assert any(ids.dim() == 2 for ids in inside.values())  # a token sequence cross too
    for name, ids in inside.items():
        expected = (
            [[t for t in row if t] for row in ids.tolist()] if ids.dim() == 2 else ids.tolist()
        )
        assert [list(v) if isinstance(v, list) else v for v in crossed.loc[rows, name]] == expected
        assert 0 < ids.max() <= len(producer.vocabularies[producer.cross_names.index(name)])


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"base_model": "BPR"}, "'base_model'"),
        ({"autocross_max_order": 1}, "'autocross_max_order'"),
        ({"autocross_max_crosses": 0}, "'autocross_max_crosses'"),
        ({"autocross_bins": [1, 10]}, "'autocross_bins'"),
        ({"autocross_producer": "missing.json"}, "'autocross_producer'"),
        ({"autocross_placement": "wide"}, "'autocross_placement'"),
    ],
)
def test_bad_keys_are_named(overrides, key):
    with pytest.raises(ConfigError, match=key):
        _run(**overrides)


@pytest.mark.parametrize("base", ["FM", "DeepFM"])
@pytest.mark.parametrize("placement", ["all", "linear"])
def test_any_context_model_trains_on_the_crosses(base, placement):
    from recbole_automl.quick_start import train_and_test

    config_dict = tiny_config(**{**SEARCH, "epochs": 2, "learning_rate": 0.01})
    config_dict.update(base_model=base, autocross_placement=placement)
    config = Config(model="AutoCross", config_file_list=[CTR_CONFIG_FILE], config_dict=config_dict)
    result = train_and_test(config, verbose=False)
    assert set(result["test_result"]) == {"auc", "logloss"}
    model, names = result["model"], result["search"]["crosses"]
    assert len(names) == 2
    part = model.base.first_order_linear if placement == "linear" else model.base
    assert set(names) <= set(part.token_field_names) | set(part.token_seq_field_names)
    # The trained model uses them: its scores change when every cross is set to id 0.
    _, (_, _, test) = _data(config_dict)
    batch = next(iter(test))[0]
    model.eval()
    with torch.no_grad():
        scores = model.predict(batch)
        crossed = model.inputs

        def blank(interaction):
            interaction = crossed(interaction)
            for name in names:
                interaction[name] = torch.zeros_like(interaction[name])
            return interaction

        model.inputs = blank
        blanked = model.predict(batch)
    assert not torch.allclose(scores, blanked)


def test_linear_placement_gives_the_crosses_to_the_first_order_part_only():
    config, (train, _, _) = _data(tiny_config(**SEARCH, base_model="DeepFM"))
    producer = CrossSearch.on(config, train._dataset, train._dataset, None, None).producer
    producer = producer.with_cross(["user_id", "gender"], [1, 2, 3])
    config["autocross_placement"] = "linear"
    linear = AutoCross(config, train._dataset, producer)
    config["autocross_placement"] = "all"
    everywhere = AutoCross(config, train._dataset, producer)
    assert "user_id*gender" in linear.base.first_order_linear.token_field_names
    assert "user_id*gender" not in linear.base.token_field_names
    assert "user_id*gender" in everywhere.base.token_field_names
    config["autocross_placement"], config["base_model"] = "linear", "DCN"  # no linear part
    with pytest.raises(ConfigError, match="'autocross_placement'"):
        AutoCross(config, train._dataset, producer)


def test_time_budget_ends_the_search_and_a_rerun_with_more_time_extends_it(isolated_run):
    spent = _run(search_time=1e-6)  # spent before the first step
    assert spent["search"]["crosses"] == []  # only the regression on the atoms
    journal = Journal(os.path.join(spent["search"]["folder"], "journal.jsonl"))
    assert [t.point["cross"] for t in journal.load()] == [None]
    extended = _run()
    assert extended["search"]["folder"] == spent["search"]["folder"]
    assert len(journal.load()) == 3 and len(extended["search"]["crosses"]) == 2


def test_frozen_crosses_of_different_vocabulary_sizes_add_their_weights():
    config, (train, valid, _) = _data(tiny_config(**SEARCH))
    search = CrossSearch.on(config, train._dataset, valid._dataset, None, None)
    crosses = [["user_id", "gender"], ["item_id", "class"]]
    vocabularies = search.vocabularies(crosses)
    weights = [torch.randn(len(v) + 1) for v in vocabularies]
    assert len(weights[0]) != len(weights[1])
    search._freeze(crosses, vocabularies, weights)
    ids = search.valid.cross_ids(search.producer, crosses, vocabularies)
    expected = sum(((w[i] * (i > 0)).sum(-1) for w, i in zip(weights, ids)))
    assert torch.allclose(search.valid.offset, expected)
