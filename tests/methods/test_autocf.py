"""AutoCF: the model, its presets, and the ARSP search of AutoCFTrainer."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import ROOT, autocf_search_config, mean_predictor_rmse, tiny_config

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.general_recommender.autocf import (
    PRESETS,
    SPACE,
    AutoCF,
    history_dropout,
)
from recbole_automl.model.layers import HistoryEncoder
from recbole_automl.quick_start import load_data_and_model, train_and_test
from recbole_automl.search import Journal
from recbole_automl.trainer.autocf_trainer import CandidateObjective
from recbole_automl.utils import init_seed

EXPLICIT = os.path.join(ROOT, "configs", "explicit.yaml")


def _structure(model):
    """What a built AutoCF model is, read from its modules (not from its config)."""
    from recbole_automl.model.layers import HistoryEncoder

    def side(encoder):
        source = "history" if isinstance(encoder.lookup, HistoryEncoder) else "ID"
        return f"{source}-{'MAT' if encoder.mlp is None else 'MLP'}"

    return [
        {"user": side(b.user), "item": side(b.item), "interaction": b.interaction_name,
         "prediction": b.head.kind}
        for b in model.branches
    ]  # fmt: skip


# The tutorial's table of human-designed models, written out here rather than read from
# PRESETS: (user encoding, item encoding, interaction, prediction) per branch.
TUTORIAL_TABLE = {
    "MF": [("ID-MAT", "ID-MAT", "multiply", "SUM")],
    "FISM": [("history-MAT", "ID-MAT", "multiply", "SUM")],
    "GMF": [("ID-MAT", "ID-MAT", "multiply", "VEC")],
    "MLP": [("ID-MAT", "ID-MAT", "concat", "MLP")],
    "CMF": [("ID-MAT", "ID-MAT", "minus", "Norm")],
    "DMF": [("history-MLP", "history-MLP", "multiply", "SUM")],
    "JNCF-Cat": [("history-MLP", "history-MLP", "concat", "MLP")],
    "JNCF-Dot": [("history-MLP", "history-MLP", "multiply", "MLP")],
    "NeuMF": [("ID-MAT", "ID-MAT", "multiply", "VEC"), ("ID-MAT", "ID-MAT", "concat", "MLP")],
    "SVD++": [("ID-MAT", "ID-MAT", "multiply", "SUM"),
              ("history-MAT", "ID-MAT", "multiply", "SUM")],
    "DELF": [("ID-MAT", "ID-MAT", "concat", "MLP"), ("ID-MAT", "history-MAT", "concat", "MLP"),
             ("history-MAT", "ID-MAT", "concat", "MLP"),
             ("history-MAT", "history-MAT", "concat", "MLP")],
}  # fmt: skip


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_the_tutorial_model_and_trains(preset):
    assert set(PRESETS) == set(TUTORIAL_TABLE)
    result = train_and_test(
        Config(model="AutoCF", config_dict=tiny_config(architecture=preset, epochs=2)),
        verbose=False,
    )
    keys = ("user", "item", "interaction", "prediction")
    trained = result["model"]
    assert _structure(trained) == [dict(zip(keys, b)) for b in TUTORIAL_TABLE[preset]]
    train = _tiny_train()
    init_seed(tiny_config()["seed"], True)  # the initialisation train_and_test started from
    start = AutoCF(
        Config(model="AutoCF", config_dict=tiny_config(architecture=preset)), train._dataset
    )
    assert _structure(start) == _structure(trained)
    changed = [
        name for name, p in trained.state_dict().items()
        if p.dtype.is_floating_point and not torch.equal(p, start.state_dict()[name])
    ]  # fmt: skip
    assert changed, "no weight moved: the preset did not train"


def test_implicit_losses_train_pointwise_and_pairwise():
    from recbole.utils import InputType

    results = {}
    losses = (("CE", InputType.POINTWISE), ("BPR", InputType.PAIRWISE),
              ("softmax", InputType.PAIRWISE))  # fmt: skip
    for loss, input_type in losses:
        config = Config(
            model="AutoCF", config_dict=tiny_config(architecture="NeuMF", loss_type=loss)
        )
        assert config["MODEL_INPUT_TYPE"] == input_type
        results[loss] = train_and_test(config, verbose=False)
        assert "ndcg@10" in results[loss]["test_result"]
    states = [results[k]["model"].state_dict() for k in ("CE", "BPR", "softmax")]
    for one, other in ((0, 1), (0, 2), (1, 2)):  # three objectives
        assert any(not torch.equal(states[one][k], states[other][k]) for k in states[0])


def test_explicit_feedback_regresses_ratings():
    result = run_recbole_automl(
        model="AutoCF",
        config_file_list=[EXPLICIT],
        config_dict=tiny_config(architecture="SVD++", epochs=3),
    )
    assert set(result["test_result"]) == {"rmse", "mae"}
    assert result["valid_score_bigger"] is False
    assert result["test_result"]["rmse"] < mean_predictor_rmse()


def test_mf_preset_trains_exactly_like_recbole_bpr():
    bpr = run_recbole_automl(model="BPR", config_dict=tiny_config(epochs=2))
    mf_bpr = tiny_config(epochs=2, architecture="MF", loss_type="BPR")
    mf = run_recbole_automl(model="AutoCF", config_dict=mf_bpr)
    assert mf["best_valid_result"] == pytest.approx(bpr["best_valid_result"], abs=1e-4)


@pytest.mark.parametrize(
    "architecture, message",
    [
        ("NoSuchModel", "unknown preset 'NoSuchModel'; presets are"),
        ([{"user": "ID-MAT", "item": "ID-MAT", "interaction": "divide", "prediction": "SUM"}],
         "interaction 'divide' is not one of"),
        ([{"user": "ID-MAT"}], "a branch needs exactly the keys"),
    ],
)  # fmt: skip
def test_bad_architecture_names_the_key_and_the_choices(architecture, message):
    with pytest.raises(ConfigError, match=f"'architecture'.*{message}"):
        run_recbole_automl(model="AutoCF", config_dict=tiny_config(architecture=architecture))


def test_bad_loss_and_strategy_name_their_keys():
    allowed = "\\['BPR', 'CE', 'softmax', 'MSE'\\]"
    with pytest.raises(ConfigError, match=f"'loss_type' must be one of {allowed}"):
        run_recbole_automl(model="AutoCF", config_dict=tiny_config(loss_type="hinge"))
    with pytest.raises(ConfigError, match="'search_strategy' must be one of"):
        run_recbole_automl(model="AutoCF", config_dict=tiny_config(search_strategy="bayes"))


def test_history_encoder_is_sparse_and_matches_the_dense_formula():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 40)) < 0.2).astype(np.float32)
    encoder = HistoryEncoder(sp.csr_matrix(dense), embedding_size=4, alpha=0.5)
    assert encoder.indices.numel() == int(dense.sum())  # memory follows the interactions
    rows = torch.tensor([0, 3, 7, 3])
    norm = np.maximum(dense.sum(1, keepdims=True), 1) ** -0.5
    weight = encoder.embedding.weight.detach().numpy()
    expected = (dense * norm)[rows.numpy()] @ weight
    assert np.allclose(encoder(rows).detach().numpy(), expected, atol=1e-5)
    # Leaving out an observed column removes exactly its share.
    row, col = 3, int(np.flatnonzero(dense[3])[0])
    left_out = dense.copy()
    left_out[row, col] = 0
    expected = (left_out[row] * norm[row]) @ weight
    got = encoder(torch.tensor([row]), exclude=torch.tensor([col]))[0].detach().numpy()
    assert np.allclose(got, expected, atol=1e-5)


def test_history_dropout_leaves_out_the_same_entries_in_every_call_of_a_step():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 40)) < 0.3).astype(np.float32)
    encoder = HistoryEncoder(sp.csr_matrix(dense), embedding_size=4, alpha=0.5, dropout=0.5)
    norm = np.maximum(dense.sum(1, keepdims=True), 1) ** -0.5
    weight = encoder.embedding.weight.detach().numpy()
    rows = torch.arange(30)
    columns = torch.arange(40)
    encoder.salt = 12345
    kept = np.stack([encoder.kept(torch.full((40,), r), columns).numpy() for r in range(30)])
    assert set(np.unique(kept)) == {0.0, 2.0}  # kept entries are scaled by 1 / (1 - 0.5)
    assert 0.35 < (kept[dense > 0] > 0).mean() < 0.65
    expected = (dense * kept * norm) @ weight
    assert np.allclose(encoder(rows).detach().numpy(), expected, atol=1e-5)
    # The positive left out of its row: subtracted only where this step kept it.
    users, items = np.nonzero(dense)
    got = encoder(torch.as_tensor(users), exclude=torch.as_tensor(items)).detach().numpy()
    left_out = expected[users] - (kept * norm)[users, items][:, None] * weight[items]
    assert np.allclose(got, left_out, atol=1e-5)
    assert (kept[users, items] == 0).any() and (kept[users, items] > 0).any()
    # Another salt, other entries; evaluation uses every entry.
    encoder.salt = 54321
    assert not np.array_equal(
        kept, np.stack([encoder.kept(torch.full((40,), r), columns).numpy() for r in range(30)])
    )
    encoder.eval()
    assert np.allclose(encoder(rows).detach().numpy(), (dense * norm) @ weight, atol=1e-5)


def test_a_model_with_history_dropout_draws_its_entries_once_a_step_from_the_seed():
    losses = [
        _trained_model(architecture="FISM", loss_type="softmax", history_dropout=0.3)[0]
        for _ in range(2)
    ]
    encoders = [m.branches[0].user.lookup for m in losses]
    assert encoders[0].dropout == 0.3 and encoders[0].salt == encoders[1].salt != 0
    assert torch.equal(encoders[0].embedding.weight, encoders[1].embedding.weight)
    # The item-item term drops the entries with the same draw as the encodings.
    model = _trained_model(architecture="FISM", item_item=True, loss_type="softmax")[0]
    encoder = model.branches[0].user.lookup
    assert model.item_item.dropout == encoder.dropout == 0.5  # the softmax's default
    assert model.item_item.salt == encoder.salt != 0  # one draw for both


@pytest.mark.parametrize(
    "loss_type, given, expected",
    [("softmax", None, 0.5), ("BPR", None, 0.0), ("CE", None, 0.0), ("softmax", 0.0, 0.0),
     ("BPR", 0.25, 0.25)],
)  # fmt: skip
def test_history_dropout_defaults_to_one_half_under_the_softmax_loss_only(
    loss_type, given, expected
):
    config = Config(model="AutoCF", config_dict=tiny_config(loss_type=loss_type))
    assert config["history_dropout"] is None  # the shipped default: ~
    config["history_dropout"] = given
    assert history_dropout(config) == expected


@pytest.mark.parametrize("architecture", ["DELF", "NeuMF", "MF", "CMF"])
def test_full_sort_scores_equal_pairwise_scores(architecture):
    from recbole.data import create_dataset, data_preparation
    from recbole.data.interaction import Interaction

    from recbole_automl.model.general_recommender.autocf import AutoCF

    config = Config(model="AutoCF", config_dict=tiny_config(architecture=architecture))
    train, _, _ = data_preparation(config, create_dataset(config))
    model = AutoCF(config, train._dataset).eval()
    users = torch.tensor([1, 5])
    full = model.full_sort_predict(Interaction({"user_id": users})).view(2, -1)
    items = torch.arange(model.n_items)
    pairwise = model.predict(
        Interaction({"user_id": users.repeat_interleave(len(items)), "item_id": items.repeat(2)})
    ).view(2, -1)
    assert torch.allclose(full, pairwise, atol=1e-5)


def _tiny_train():
    from recbole.data import create_dataset, data_preparation

    config = Config(model="AutoCF", config_dict=tiny_config())
    init_seed(config["seed"], config["reproducibility"])
    return data_preparation(config, create_dataset(config))[0]


def test_search_records_exports_and_resumes(isolated_run, caplog):
    first = run_recbole_automl(model="AutoCF", config_dict=autocf_search_config())
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert len(trials) == 4 and all(t.complete for t in trials)
    assert {"architecture", "model", "dataset", "seed"} <= set(
        __import__("yaml").safe_load(open(search_dir / "best.yaml"))
    )
    assert (search_dir / "trajectory.png").exists()

    # Same command again: every candidate comes from the journal, the result is the same.
    again = run_recbole_automl(model="AutoCF", config_dict=autocf_search_config())
    assert len(Journal(search_dir / "journal.jsonl").load()) == 4
    assert again["test_result"] == first["test_result"]

    # The exported config reproduces the final model without searching.
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["test_result"] == first["test_result"]


def test_the_found_candidate_is_checked_with_the_item_item_term(isolated_run):
    # After the search, the found candidate is trained without and with the item-item
    # term, and the runner-up with it, as runs of them would be; the best on validation is
    # the found model, kept as trained, and best.yaml reproduces it.
    alone = autocf_search_config(epochs=3)
    result = run_recbole_automl(model="AutoCF", config_dict=alone)
    summary = result["search"]
    checks = summary["item_item_check"]
    assert [(check["candidate"], check["item_item"]) for check in checks] == [
        (1, False),
        (1, True),
        (2, True),
    ]
    better = max(checks, key=lambda check: check["valid_score"])
    assert summary["item_item"] is better["item_item"] and not summary["retrained"]
    assert result["best_valid_score"] == better["valid_score"]
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    exported = __import__("yaml").safe_load(open(search_dir / "best.yaml"))
    assert exported.get("item_item", False) is better["item_item"]
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["best_valid_score"] == result["best_valid_score"]
    assert reproduced["test_result"] == result["test_result"]
    # Run again (as after a kill): the checks' models were saved with their journal.
    again = run_recbole_automl(model="AutoCF", config_dict=alone)
    assert not again["search"]["retrained"] and again["test_result"] == result["test_result"]
    # The two checks in forked workers: their models come back through the files.
    forked = {**alone, "search_workers": 2, "search_dir": "forked"}
    forked_summary = run_recbole_automl(model="AutoCF", config_dict=forked)["search"]
    assert len(forked_summary["item_item_check"]) == 3 and not forked_summary["retrained"]

    unchecked = autocf_search_config(epochs=3, search_item_item_check=False)
    plain = run_recbole_automl(model="AutoCF", config_dict=unchecked)["search"]
    assert plain["item_item_check"] == [] and plain["retrained"]


def test_the_checked_models_are_ensembled_when_that_wins_on_validation(isolated_run):
    # The same search and check as above, then greedy ensemble selection over the three
    # checked models on validation: here it wins, so the found model is a ModelEnsemble of
    # AutoCF members, kept as selected (not trained again), and best.yaml reproduces it.
    ensembled = autocf_search_config(epochs=3, search_check_ensemble=True)
    result = run_recbole_automl(model="AutoCF", config_dict=ensembled)
    summary = result["search"]
    checks = [check["valid_score"] for check in summary["item_item_check"]]
    picked = summary["check_ensemble"]
    assert len(picked["counts"]) == 3 and picked["kept"]
    assert result["best_valid_score"] == picked["valid_score"] > max(checks)
    assert not summary["retrained"] and summary["model"] == "ModelEnsemble"
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    exported = __import__("yaml").safe_load(open(search_dir / "best.yaml"))
    members = exported["ensemble_members"]
    assert exported["model"] == "ModelEnsemble" and {m["model"] for m in members} == {"AutoCF"}
    assert len(members) == len(exported["ensemble_weights"]) == sum(map(bool, picked["counts"]))
    _, model, *_ = load_data_and_model(result["model_file"])  # its checkpoint: the ensemble
    assert type(model).__name__ == "ModelEnsemble" and len(model.members) == len(members)
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["best_valid_score"] == result["best_valid_score"]
    assert reproduced["test_result"] == result["test_result"]
    # Resumed: the checks come from their journal and files; the same ensemble is chosen.
    again = run_recbole_automl(model="AutoCF", config_dict=ensembled)
    assert again["search"]["check_ensemble"] == picked
    assert again["test_result"] == result["test_result"]


def test_no_ensemble_of_the_checks_under_labeled_evaluation(isolated_run):
    # An ensemble ranks full item lists: rating regression keeps the best checked model.
    config = autocf_search_config(epochs=2, search_check_ensemble=True)
    result = run_recbole_automl(model="AutoCF", config_file_list=[EXPLICIT], config_dict=config)
    assert len(result["search"]["item_item_check"]) == 3
    assert result["search"]["check_ensemble"] is None and "ensemble_members" not in result["search"]


def test_a_failing_candidate_is_recorded_and_the_search_goes_on(isolated_run, monkeypatch):
    original = CandidateObjective.__call__
    calls = []

    def fail_first(self, architecture, *args):
        calls.append(architecture)
        if len(calls) == 1:
            raise ValueError("Training loss is nan")
        return original(self, architecture, *args)

    monkeypatch.setattr(CandidateObjective, "__call__", fail_first)
    run_recbole_automl(model="AutoCF", config_dict=autocf_search_config())
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert [t.status for t in trials] == ["failed", "complete", "complete", "complete"]
    assert "Training loss is nan" in trials[0].error


def test_random_strategy_and_fused_candidates(isolated_run):
    config = autocf_search_config(search_strategy="random", search_max_branches=2, search_trials=6)
    run_recbole_automl(model="AutoCF", config_dict=config)
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    fused = [t for t in Journal(search_dir / "journal.jsonl").load() if len(t.point) == 2]
    assert fused, "no fused (two-branch) candidate was drawn"
    for trial in fused:  # it was built with two branches and trained
        assert trial.complete and trial.epochs == 1
        model = AutoCF(Config(model="AutoCF", config_dict=tiny_config(architecture=trial.point)),
                       _tiny_train()._dataset)  # fmt: skip
        assert len(model.branches) == 2 and _structure(model) == trial.point


def test_parallel_candidates_score_as_serial_ones(isolated_run):
    serial = run_recbole_automl(
        model="AutoCF", config_dict=autocf_search_config(search_dir="serial")
    )
    parallel = run_recbole_automl(
        model="AutoCF", config_dict=autocf_search_config(search_dir="parallel", search_workers=2)
    )

    def records(folder):
        return Journal(isolated_run / folder / "journal.jsonl").load()

    # Same candidates; scores equal up to float summation order (workers use fewer threads).
    assert [t.point for t in records("parallel")] == [t.point for t in records("serial")]
    values = [t.value for t in records("parallel")]
    assert values == pytest.approx([t.value for t in records("serial")], abs=1e-3)
    assert dict(parallel["test_result"]) == pytest.approx(dict(serial["test_result"]), abs=1e-3)


def test_history_encoder_gradients_are_the_same_every_time():
    """A batch gathers its rows from unique ones (``x[inverse]``); on the CPU that backward
    adds in a varying order unless ``reproducibility`` turns deterministic kernels on."""
    init_seed(0, True)
    matrix = sp.random(900, 1700, density=0.08, format="csr", random_state=0)
    encoder = HistoryEncoder(matrix, 64)
    rows = torch.randint(0, 900, (4096,))
    upstream = torch.randn(4096, 64)
    grads = []
    for _ in range(8):
        encoder.zero_grad()
        (encoder(rows) * upstream).sum().backward()
        grads.append(encoder.embedding.weight.grad.clone())
    assert all(torch.equal(grads[0], g) for g in grads[1:])


def test_same_seed_same_search_and_a_resumed_search_is_the_fresh_one(isolated_run):
    """Same command, same seed: the same journal (points and scores, to the bit) and the
    same final model, also when the search was killed halfway and resumed."""
    config = autocf_search_config(search_max_branches=2, search_trials=6)
    runs = {}
    for name in ("first", "second", "resumed"):
        runs[name] = run_recbole_automl(model="AutoCF", config_dict={**config, "search_dir": name})
        if name == "resumed":  # as if killed after 3 candidates: rerun the same command
            journal = isolated_run / name / "journal.jsonl"
            journal.write_text("".join(journal.read_text().splitlines(True)[:3]))
            runs[name] = run_recbole_automl(
                model="AutoCF", config_dict={**config, "search_dir": name}
            )

    def scored(name):
        trials = Journal(isolated_run / name / "journal.jsonl").load()
        return [(t.point, t.value, t.epochs) for t in trials]

    assert len(scored("first")) == 6
    assert scored("second") == scored("first") and scored("resumed") == scored("first")
    assert runs["second"]["test_result"] == runs["first"]["test_result"]
    assert runs["resumed"]["test_result"] == runs["first"]["test_result"]


def test_the_item_item_term_sums_the_history_without_the_item_itself():
    from recbole_automl.model.general_recommender.autocf import ItemItem

    history = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]], "float32"))
    term = ItemItem(history, 4, alpha=0.5)
    assert not term.weight.detach().any()  # starts at 0
    with torch.no_grad():
        term.weight.copy_(torch.arange(16.0).view(4, 4))
    user, item = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 3, 0, 3])
    rows = torch.as_tensor(history.toarray()) / torch.tensor([2.0, 2.0, 2.0]).sqrt()[:, None]
    dense = rows @ (term.weight.detach() * (1 - torch.eye(4)))
    observed = term(user[:2], item[:2], observed=True)  # (0, 1) and (1, 3) are in history
    assert torch.allclose(observed, dense[user[:2], item[:2]])
    assert torch.allclose(term(user[2:], item[2:]), dense[user[2:], item[2:]])
    observed.sum().backward()
    assert not term.weight.grad.diagonal().any()  # the diagonal is never trained
    full = term.score_matrix(torch.tensor([0, 2]))
    with torch.no_grad():
        term.weight.fill_diagonal_(0)
    assert torch.allclose(term.score_matrix(torch.tensor([0, 2])), dense[[0, 2]])
    assert full.shape == (2, 4)


def test_the_item_item_term_leaves_out_the_entries_the_history_encodings_leave_out():
    from recbole_automl.model.general_recommender.autocf import ItemItem

    rng = np.random.default_rng(1)
    dense = (rng.random((12, 9)) < 0.4).astype(np.float32)
    history = sp.csr_matrix(dense)
    term = ItemItem(history, 9, alpha=0.5, dropout=0.5)
    encoder = HistoryEncoder(history, embedding_size=9, alpha=0.5, dropout=0.5)
    weights = torch.as_tensor(rng.normal(size=(9, 9)), dtype=torch.float32)
    with torch.no_grad():
        term.weight.copy_(weights * (1 - torch.eye(9)))  # no diagonal: as trained
        encoder.embedding.weight.copy_(term.weight)  # the same sum of the same rows
    term.salt = encoder.salt = 777
    users, items = (torch.as_tensor(a) for a in np.nonzero(dense))
    rows = term.score_matrix(torch.arange(12))
    assert torch.allclose(rows, encoder(torch.arange(12)), atol=1e-5)  # the same draw
    assert not torch.allclose(rows, term.eval().score_matrix(torch.arange(12)), atol=1e-3)
    term.train()
    pairs = term(users, items, observed=True)  # (the pair's own entry never counts)
    assert torch.allclose(pairs, rows[users, items], atol=1e-5)
    left_out = term.score_matrix(users, exclude=items)[torch.arange(len(users)), items]
    assert torch.allclose(left_out, pairs, atol=1e-5)


def test_an_item_item_term_of_k_neighbours_is_the_full_term_zero_elsewhere():
    from recbole_automl.model.general_recommender.autocf import ItemItem

    rng = np.random.default_rng(2)
    dense = (rng.random((15, 10)) < 0.4).astype(np.float32)
    history = sp.csr_matrix(dense)
    sparse_term = ItemItem(history, 10, alpha=0.5, dropout=0.5, neighbours=3)
    full_term = ItemItem(history, 10, alpha=0.5, dropout=0.5)
    # The support: each item's 3 most similar others (cosine of the columns), ascending.
    norms = np.sqrt(dense.sum(0))
    cosine = dense.T @ dense / np.maximum(np.outer(norms, norms), 1e-9)
    np.fill_diagonal(cosine, -np.inf)
    support = sparse_term.support.numpy()
    assert support.shape == (10, 3) and (np.diff(support, axis=1) > 0).all()
    for j in range(10):
        assert cosine[j, support[j]].min() >= np.sort(cosine[j])[-3] - 1e-6
    with torch.no_grad():
        sparse_term.weight.copy_(torch.as_tensor(rng.normal(size=(10, 3)), dtype=torch.float32))
        full_term.weight.zero_()
        full_term.weight[torch.arange(10)[:, None], sparse_term.support] = sparse_term.weight
    sparse_term.salt = full_term.salt = 99  # the same dropout draw
    users, items = (torch.as_tensor(a) for a in np.nonzero(dense))
    for train in (True, False):
        sparse_term.train(train), full_term.train(train)
        pairs = sparse_term(users, items, observed=True)
        assert torch.allclose(pairs, full_term(users, items, observed=True), atol=1e-5)
        for exclude in (None, items):
            got = sparse_term.score_matrix(users, exclude)
            assert torch.allclose(got, full_term.score_matrix(users, exclude), atol=1e-5)
    sparse_term.train()
    sparse_term.score_matrix(users, items).sum().backward()
    assert sparse_term.weight.grad.abs().sum() > 0


def _trained_model(**keys):
    """An AutoCF model of ``keys`` on the tiny data after one epoch, and its training split."""
    train = _tiny_train()
    result = train_and_test(Config(model="AutoCF", config_dict=tiny_config(**keys)), False)
    return result["model"].eval(), train


def test_the_softmax_loss_is_the_cross_entropy_of_each_positive_among_the_unseen_items():
    model, train = _trained_model(architecture="MF", loss_type="softmax")
    matrix = train._dataset.inter_matrix(form="csr").toarray() > 0
    batch = next(iter(train))
    user, item = batch["user_id"], batch["item_id"]
    expected = []
    for u, i in zip(user.tolist(), item.tolist()):
        others = [j for j in range(model.n_items) if not matrix[u, j] or j == i]
        scores = model(torch.full((len(others),), u), torch.tensor(others))
        expected.append(-torch.log_softmax(scores, 0)[others.index(i)])
    assert model.calculate_loss(batch).item() == pytest.approx(torch.stack(expected).mean().item())


@pytest.mark.parametrize("leave_out", [False, True])
def test_the_softmax_negatives_of_a_history_model_are_scored_as_its_key_says(leave_out):
    # FISM + the item-item term encode the user's history: the positive is always scored
    # with itself left out; the negatives from the whole history (default), or with the
    # pair's positive left out too (softmax_leave_out).
    model, train = _trained_model(
        architecture="FISM", item_item=True, loss_type="softmax", softmax_leave_out=leave_out
    )
    matrix = train._dataset.inter_matrix(form="csr").toarray() > 0
    batch = next(iter(train))
    user, item = batch["user_id"][:40], batch["item_id"][:40]
    expected = []
    with torch.no_grad():
        for u, i in zip(user.tolist(), item.tolist()):
            unseen = torch.tensor([j for j in range(model.n_items) if not matrix[u, j]])
            exclude = torch.tensor([i]) if leave_out else None
            negatives = model.score_rows(torch.tensor([u]), exclude=exclude)[0, unseen]
            positive = model(torch.tensor([u]), torch.tensor([i]), observed=True)[0]
            scores = torch.cat([positive.reshape(1), negatives])
            expected.append(-torch.log_softmax(scores, 0)[0])
        loss = model.softmax_loss(user, item)
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)


def test_a_row_of_scores_is_the_scores_of_its_pairs_and_leaves_out_the_excluded_item():
    # FISM + the item-item term: the user's side encodes their history; the item's an id.
    model, train = _trained_model(architecture="FISM", item_item=True, loss_type="softmax")
    user, item = train._dataset.inter_feat["user_id"][:6], train._dataset.inter_feat["item_id"][:6]
    with torch.no_grad():
        rows = model.score_rows(user)
        items = torch.arange(model.n_items)
        pairs = torch.stack([model(u.repeat(model.n_items), items) for u in user])
        assert torch.allclose(rows, pairs, atol=1e-5)
        left_out = model.score_rows(user, exclude=item)[torch.arange(6), item]
        assert torch.allclose(left_out, model(user, item, observed=True), atol=1e-5)


def test_a_model_that_cannot_score_a_row_refuses_the_softmax_loss():
    with pytest.raises(ConfigError, match="'loss_type': softmax scores every item"):
        run_recbole_automl(model="SIF", config_dict=tiny_config(loss_type="softmax"))


def test_a_joint_search_finds_architecture_and_hyper_parameters_and_exports_both(
    isolated_run,
):
    space = {
        "embedding_size": {"choice": [8, 16]}, "item_item": {"choice": [False, True]},
        "loss_type": "CE", "train_neg_sample_args.sample_num": {"choice": [2, 3]},
    }  # fmt: skip
    config = autocf_search_config(search_hyper_space=space)
    result = run_recbole_automl(model="AutoCF", config_dict=config)
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert len(trials) == 4 and all(set(t.point) == {"architecture", *space} for t in trials)
    best = max(trials, key=lambda t: t.value)
    exported = __import__("yaml").safe_load(open(search_dir / "best.yaml"))
    negatives = best.point.pop("train_neg_sample_args.sample_num")
    assert {k: exported[k] for k in best.point} == best.point
    assert exported["train_neg_sample_args"]["sample_num"] == negatives  # a dotted key's field
    assert exported["train_neg_sample_args"]["distribution"] == "uniform"  # the rest kept
    assert "search_hyper_space" not in exported
    assert result["search"]["embedding_size"] == best.point["embedding_size"]
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["test_result"] == result["test_result"]


def test_a_joint_space_may_only_set_what_the_candidates_read():
    with pytest.raises(
        ConfigError, match=r"'search_hyper_space' may only set .*'train_batch_size'"
    ):
        Config(
            "AutoCF", "tiny", read_cmd_line=False,
            config_dict=tiny_config(search_hyper_space={"train_batch_size": {"choice": [64]}}),
        )  # fmt: skip


def test_a_candidate_trains_on_the_samples_its_loss_and_negatives_ask_for():
    from recbole.utils import InputType

    from recbole_automl.methods.searching import train_loader, trial_config

    train_data = _tiny_train()
    config = train_data.config
    assert train_loader(trial_config(config, {"embedding_size": 8}), train_data) is train_data
    point = {"loss_type": "CE", "train_neg_sample_args.sample_num": 3}
    loader = train_loader(trial_config(config, point), train_data)
    assert loader.dl_format == InputType.POINTWISE and loader.times == 4
    labels = next(iter(loader))[config["LABEL_FIELD"]]
    assert (labels == 0).sum() == 3 * (labels == 1).sum()  # three negatives per positive
    pairs = train_loader(trial_config(config, {"train_neg_sample_args.sample_num": 2}), train_data)
    assert pairs.dl_format == InputType.PAIRWISE and len(pairs.dataset) == len(train_data.dataset)
    assert config["train_neg_sample_args"]["sample_num"] == 1  # the search's config unchanged


@pytest.mark.parametrize(
    "space, named",
    [
        ({"loss_type": {"choice": ["BPR", "hinge"]}}, r"'loss_type' must be one of"),
        ({"weight_decay": {"uniform": [-1.0, 0.1]}}, r"'weight_decay' must be a number >= 0"),
    ],
)
def test_a_joint_space_value_that_breaks_its_key_rule_fails_before_training(space, named):
    config = autocf_search_config(search_hyper_space=space)
    with pytest.raises(ConfigError, match=r"'search_hyper_space': Config key " + named):
        run_recbole_automl(model="AutoCF", config_dict=config)


def test_presets_train_first_and_the_found_model_is_compared_with_them(isolated_run):
    from recbole_automl.trainer.autocf_trainer import comparison_line

    space = {"embedding_size": {"choice": [8, 16]}}
    config = autocf_search_config(
        search_presets=["NeuMF", "MF"], search_hyper_space=space, state="INFO", loss_type="BPR"
    )
    result = run_recbole_automl(model="AutoCF", config_dict=config)
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    # The presets first, in the order given, at the run's own embedding_size (not in the space).
    neumf = [{"user": "ID-MAT", "item": "ID-MAT", "interaction": i, "prediction": p}
             for i, p in (("concat", "MLP"), ("multiply", "VEC"))]  # fmt: skip
    assert [t.point["architecture"] for t in trials[:2]] == [neumf, PRESETS["MF"]]
    assert [t.point["embedding_size"] for t in trials[:2]] == [64, 64]
    assert all(t.point["embedding_size"] in (8, 16) for t in trials[2:])
    rows = result["search"]["comparison"]
    best = max(trials, key=lambda t: t.value)
    assert rows[0] == {"model": "found", "valid_score": best.value}
    presets = {row["model"]: row["valid_score"] for row in rows[1:]}
    assert presets == {"NeuMF": trials[0].value, "MF": trials[1].value}
    assert [row["valid_score"] for row in rows[1:]] == sorted(presets.values(), reverse=True)
    line = comparison_line(rows, "ndcg@10", 1)  # what the log shows
    assert line.startswith(
        f"found vs presets (valid ndcg@10, 1 epochs each): found {best.value:.4f} | "
    )


def test_a_softmax_search_draws_only_architectures_that_score_a_row_at_once(isolated_run):
    from recbole_automl.model.general_recommender.autocf import ROW_SCORED

    config = autocf_search_config(
        loss_type="softmax", search_trials=6, search_max_branches=2, search_presets=["SVD++"]
    )
    run_recbole_automl(model="AutoCF", config_dict=config)
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert len(trials) == 6 and trials[0].point == PRESETS["SVD++"]
    for trial in trials:
        for branch in trial.point:
            assert branch["interaction"] == "multiply"
            assert branch["prediction"] in ("SUM", "VEC")
    assert ROW_SCORED["user"] == ROW_SCORED["item"] == SPACE["user"]  # every encoding


@pytest.mark.parametrize("where", ["loss_type", "search_hyper_space"])
def test_a_preset_a_softmax_search_cannot_score_names_the_key_before_training(where, isolated_run):
    keys = {"loss_type": "softmax"} if where == "loss_type" else {
        "search_hyper_space": {"loss_type": {"choice": ["BPR", "softmax"]}}
    }  # fmt: skip
    config = autocf_search_config(search_presets=["MF", "NeuMF"], **keys)
    with pytest.raises(
        ConfigError, match=r"'search_presets': NeuMF is not in the space .*'SVD\+\+'"
    ):
        run_recbole_automl(model="AutoCF", config_dict=config)
    assert not (isolated_run / "saved" / "search").exists() or not any(
        (isolated_run / "saved" / "search").rglob("journal.jsonl")
    )


def test_an_unknown_preset_names_the_key_and_the_presets():
    with pytest.raises(ConfigError, match=r"'search_presets' must be a list of values from"):
        Config(
            "AutoCF", "tiny", read_cmd_line=False,
            config_dict=tiny_config(search_presets=["MF", "BPR"]),
        )  # fmt: skip


def test_a_data_fraction_screens_on_a_share_of_the_users_with_their_whole_history():
    from recbole.data import create_dataset, data_preparation

    from recbole_automl.methods.searching import sample_users

    config = Config(model="AutoCF", config_dict=tiny_config(), read_cmd_line=False)
    init_seed(config["seed"], config["reproducibility"])
    train_data, valid_data, _ = data_preparation(config, create_dataset(config))
    train, valid = sample_users(config, train_data, valid_data, 0.5)
    uid = config["USER_ID_FIELD"]
    every = set(train_data._dataset.inter_feat[uid].tolist())
    users = set(train._dataset.inter_feat[uid].tolist())
    assert len(users) == round(len(every) / 2) and set(valid.uid_list.tolist()) <= users
    full = train_data._dataset.inter_feat
    kept = np.isin(full[uid].numpy(), list(users))
    assert len(train._dataset) == kept.sum()  # every interaction of a chosen user
    for user in valid.uid_list.tolist():  # validation masks the same training history
        assert set(valid.uid2history_item[user].tolist()) == set(
            valid_data.uid2history_item[user].tolist()
        )
    assert sample_users(config, train_data, valid_data, 1.0) == (train_data, valid_data)


def test_a_search_on_a_share_of_the_users_retrains_the_found_model_on_all(isolated_run):
    result = run_recbole_automl(
        model="AutoCF", config_dict=autocf_search_config(search_data_fraction=0.5)
    )
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    assert len(Journal(search_dir / "journal.jsonl").load()) == 4
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["test_result"] == result["test_result"]  # trained on every user


def test_a_conditional_key_of_a_joint_space_is_checked_too():
    space = {"loss_type": {"choice": {"BPR": None, "CE": {"neg_samples": {"choice": [1, 4]}}}}}
    with pytest.raises(ConfigError, match=r"'search_hyper_space' may only set .*'neg_samples'"):
        run_recbole_automl(
            model="AutoCF", config_dict=autocf_search_config(search_hyper_space=space)
        )


def test_a_given_architecture_with_a_hyper_space_searches_its_hyper_parameters(isolated_run):
    # Neither learning rate nor weight decay is the default: the retrained model must use
    # the found ones, or best.yaml (which sets them) trains another model.
    space = {"embedding_size": {"choice": [8, 16, 32]}, "learning_rate": {"choice": [5e-3, 1e-2]},
             "weight_decay": {"choice": [1e-4]}}  # fmt: skip
    config = autocf_search_config(architecture="MF", search_hyper_space=space)
    result = run_recbole_automl(model="AutoCF", config_dict=config)
    (search_dir,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(search_dir / "journal.jsonl").load()
    assert len(trials) == 4 and all(set(t.point) == set(space) for t in trials)
    exported = __import__("yaml").safe_load(open(search_dir / "best.yaml"))
    best = max(trials, key=lambda t: t.value)
    assert exported["architecture"] == "MF" and {k: exported[k] for k in space} == best.point
    reproduced = run_recbole_automl(config_file_list=[str(search_dir / "best.yaml")])
    assert reproduced["test_result"] == result["test_result"]


def test_the_item_item_table_trains_with_fused_adam_and_the_presets_with_recboles():
    from recbole_automl.trainer.autocf_trainer import AutoCFTrainer, CandidateTrainer

    train_data = _tiny_train()
    config = train_data.config
    for item_item in (False, True):
        config["item_item"] = item_item
        model = AutoCF(config, train_data._dataset)
        for trainer_class in (AutoCFTrainer, CandidateTrainer):
            optimizer = trainer_class(config, model).optimizer
            assert isinstance(optimizer, torch.optim.Adam)
            assert bool(optimizer.defaults["fused"]) == item_item
            assert optimizer.defaults["lr"] == config["learning_rate"]


def test_an_item_item_term_over_too_many_items_is_refused_and_left_out_of_a_search(
    isolated_run,
):
    from recbole_automl.trainer.autocf_trainer import search_space

    # The limit is on a term over every item (item_item_neighbours: ~); a term of k
    # neighbours an item is n_items * k weights.
    full = {"item_item_max_items": 5, "item_item_neighbours": None}
    with pytest.raises(ConfigError, match=r"'item_item': an item-item term over .* items"):
        run_recbole_automl(
            model="AutoCF", config_dict=tiny_config(architecture="MF", item_item=True, **full)
        )
    space = {"item_item": {"choice": [False, True]}, "embedding_size": {"choice": [8, 16]}}
    config = Config(
        "AutoCF", "tiny", read_cmd_line=False,
        config_dict=tiny_config(search_hyper_space=space, **full),
    )  # fmt: skip
    assert {p["item_item"] for p in search_space(config, 6).hyper.grid()} == {False}
    assert {p["item_item"] for p in search_space(config, 5).hyper.grid()} == {False, True}
    config["item_item_neighbours"] = 3
    assert {p["item_item"] for p in search_space(config, 6).hyper.grid()} == {False, True}
    config["item_item_neighbours"] = None
    config["search_hyper_space"] = {"item_item": {"choice": [True]}}
    with pytest.raises(ConfigError, match=r"'search_hyper_space': an item-item term"):
        search_space(config, 6)


def _batches_users(monkeypatch, **keys):
    """The users of each training batch of one epoch of AutoCF on the tiny data."""
    seen, calculate_loss = [], AutoCF.calculate_loss

    def recording(model, interaction):
        seen.append(set(interaction["user_id"].tolist()))
        return calculate_loss(model, interaction)

    monkeypatch.setattr(AutoCF, "calculate_loss", recording)
    train_and_test(Config(model="AutoCF", config_dict=tiny_config(train_batch_size=64, **keys)))
    return seen


def _shared(batches):
    """Whether two batches of ``batches`` (sets of users) share a user."""
    return any(a & b for i, a in enumerate(batches) for b in batches[:i])


def test_softmax_user_chunks_keep_a_users_pairs_together_and_pairs_batches_do_not(monkeypatch):
    keys = {"architecture": "FISM", "loss_type": "softmax"}
    whole = _batches_users(monkeypatch, softmax_user_chunk=10**6, **keys)
    # whole users cut at the batch size: a user shares a batch with the next at most once
    assert len(whole) > 2 and sum(len(a & b) for a, b in zip(whole, whole[1:])) < len(whole)
    assert not any(a & b for i, a in enumerate(whole) for b in whole[: max(0, i - 1)])
    assert _shared(_batches_users(monkeypatch, softmax_user_chunk=None, **keys))  # RecBole's
    bpr = _batches_users(monkeypatch, softmax_user_chunk=2, architecture="FISM", loss_type="BPR")
    assert _shared(bpr)  # the key is the softmax's only


@pytest.mark.parametrize("chunk", [1, 3, 10**6])
def test_a_user_chunk_epoch_is_every_pair_once_in_chunks_drawn_from_the_seed(chunk):
    from recbole.data import create_dataset, data_preparation

    from recbole_automl.trainer.autocf_trainer import UserChunkLoader

    def epochs(seed):
        config = Config(model="AutoCF", config_dict=tiny_config(seed=seed, train_batch_size=64))
        init_seed(config["seed"], config["reproducibility"])
        train_data, _, _ = data_preparation(config, create_dataset(config))
        return train_data, [UserChunkLoader(train_data, chunk).batches for _ in range(2)]

    def runs(users, order):  # lengths of the runs of one user along the epoch's order
        change = np.flatnonzero(np.diff(users[order])) + 1
        return np.diff(np.concatenate([[0], change, [len(order)]]))

    train_data, (first, second) = epochs(7)
    users = train_data._dataset.inter_feat["user_id"].numpy()
    counts = np.bincount(users)
    for epoch in (first, second):
        order = np.concatenate(epoch)
        assert sorted(order.tolist()) == list(range(len(users)))  # every pair, once
        assert [len(b) for b in epoch[:-1]] == [64] * (len(epoch) - 1)  # RecBole's batches
        # each chunk (a user's `chunk` pairs, the last fewer) is one run of the order; two
        # chunks of a user may meet by chance, so there are at most as many runs as chunks
        chunks = np.ceil(counts[counts > 0] / chunk).sum()
        assert 0.8 * chunks <= len(runs(users, order)) <= chunks
    loader = UserChunkLoader(train_data, chunk)  # RecBole's collate_fn of its indices
    batch = next(iter(loader))
    assert batch["user_id"].tolist() == users[loader.batches[0]].tolist()
    assert "neg_item_id" in batch.interaction.keys()  # the loader's negatives (BPR's)
    assert [b.tolist() for b in first] != [b.tolist() for b in second]  # reshuffled
    same = epochs(7)[1][0]
    assert [b.tolist() for b in same] == [b.tolist() for b in first]  # the seed's order
    assert [b.tolist() for b in epochs(8)[1][0]] != [b.tolist() for b in first]


@pytest.mark.parametrize("value", [0, "users"])
def test_a_bad_softmax_user_chunk_names_the_key(value):
    with pytest.raises(ConfigError, match="softmax_user_chunk"):
        Config(model="AutoCF", config_dict=tiny_config(softmax_user_chunk=value))


def test_item_history_encodings_over_too_many_interactions_are_refused_and_left_out(
    isolated_run,
):
    small = {"item_history_max_interactions": 10}
    with pytest.raises(ConfigError, match=r"'architecture': an item-side history encoding"):
        run_recbole_automl(model="AutoCF", config_dict=tiny_config(architecture="DMF", **small))
    # an ID item side trains whatever the size
    run_recbole_automl(model="AutoCF", config_dict=tiny_config(architecture="FISM", **small))
    result = run_recbole_automl(
        model="AutoCF",
        config_dict=autocf_search_config(
            item_history_max_interactions=10, search_trials=6, search_presets=["MF", "DMF"]
        ),
    )
    (search_dir,) = (isolated_run / "saved" / "search").glob("AutoCF-*")
    points = [trial.point for trial in Journal(search_dir / "journal.jsonl").load()]
    assert len(points) == 6 and points[0] == PRESETS["MF"]  # DMF left out of the presets
    assert all(branch["item"].startswith("ID") for point in points for branch in point)
    assert [row["model"] for row in result["search"]["comparison"]] == ["found", "MF"]
