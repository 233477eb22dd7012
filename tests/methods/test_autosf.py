"""AutoSF: the block structures, their invariances and features, the KG-aware model, and
the progressive search through the search core."""

import itertools

import numpy as np
import pytest
import torch
import yaml
from conftest import tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.knowledge_aware_recommender.autosf import (
    NAMED,
    AutoSF,
    BlockSpace,
    canonical,
    degenerate,
    named_as,
    symmetry_features,
)
from recbole_automl.search import Journal, ProgressiveStrategy


def _explicit_score(structure, h, r, t):
    """f(h, r, t) written out: sum of sign * <h_i, r_k, t_j> over the entries."""
    hb, rb, tb = (x.chunk(4, -1) for x in (h, r, t))
    total = torch.zeros(len(h))
    for i, j in itertools.product(range(4), repeat=2):
        v = structure[i][j]
        if v:
            total += np.sign(v) * (hb[i] * rb[abs(v) - 1] * tb[j]).sum(-1)
    return total


def _transform(structure, entity_perm, relation_perm, signs):
    """The structure after permuting entity blocks, relabelling and flipping relations."""
    out = [[0] * 4 for _ in range(4)]
    for i, j in itertools.product(range(4), repeat=2):
        v = structure[i][j]
        if v:
            k = abs(v) - 1
            out[entity_perm[i]][entity_perm[j]] = (
                int(np.sign(v)) * signs[k] * (relation_perm[k] + 1)
            )
    return out


def _model(structure, **overrides):
    config = Config(
        model="AutoSF", read_cmd_line=False,
        config_dict=tiny_config(scoring_function=structure, embedding_size=8, **overrides),
    )  # fmt: skip
    train, _, _ = data_preparation(config, create_dataset(config))
    return AutoSF(config, train._dataset)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_the_model_scores_the_bilinear_form_of_its_structure(name):
    torch.manual_seed(0)
    model = _model(name)
    h, r, t = torch.randn(3, 5, 8)
    score = (model.query(h, r) * t).sum(-1)
    assert torch.allclose(score, _explicit_score(NAMED[name], h, r, t), atol=1e-5)


def test_equivalent_structures_share_a_key_and_score_alike_once_reparametrised():
    rng = np.random.default_rng(0)
    complex_ = NAMED["ComplEx"]
    for _ in range(5):
        ep, rp = rng.permutation(4), rng.permutation(4)
        signs = [int(s) for s in rng.choice([1, -1], 4)]
        other = _transform(complex_, ep, rp, signs)
        assert canonical(other) == canonical(complex_)
        assert named_as(other) == "ComplEx"
        # The same function: move the embeddings' blocks (and flip relation blocks).
        h, r, t = torch.randn(3, 6, 8).chunk(3)
        h, r, t = h[0], r[0], t[0]
        hb, rb, tb = h.view(6, 4, 2), r.view(6, 4, 2), t.view(6, 4, 2)
        h2, t2, r2 = torch.empty_like(hb), torch.empty_like(tb), torch.empty_like(rb)
        for i in range(4):
            h2[:, ep[i]], t2[:, ep[i]] = hb[:, i], tb[:, i]
            r2[:, rp[i]] = signs[i] * rb[:, i]
        expected = _explicit_score(complex_, h, r, t)
        got = _explicit_score(other, h2.reshape(6, 8), r2.reshape(6, 8), t2.reshape(6, 8))
        assert torch.allclose(expected, got, atol=1e-5)
    assert canonical(NAMED["DistMult"]) != canonical(NAMED["SimplE"])
    assert len({str(canonical(s)) for s in NAMED.values()}) == 4


def test_first_stage_is_the_five_classes_of_one_block_per_row_and_column():
    space = BlockSpace(8)
    first = space.initial()
    assert len(first) == 5  # the cycle types of a permutation of 4 blocks
    assert {named_as(p) for p in first} >= {"DistMult", "SimplE"}
    assert all(space.stage(p) == 4 and not degenerate(p) for p in first)
    rng = np.random.default_rng(1)
    grown = [space.grow(first[0], rng) for _ in range(50)]
    assert all(g is None or (space.stage(g) == 6 and not degenerate(g)) for g in grown)


def test_symmetry_features_tell_symmetric_from_skew_capable_functions():
    # Two features per pattern of relation blocks: can the function be symmetric, and can
    # it be skew-symmetric, for a relation of that pattern?
    distmult, complex_ = symmetry_features(NAMED["DistMult"]), symmetry_features(NAMED["ComplEx"])
    assert distmult.shape == (22,)
    assert distmult[0::2].all() and not distmult[1::2].any()  # always symmetric, never skew
    assert not complex_[0] and not complex_[1]  # four distinct non-zero relation blocks: neither
    assert complex_[0::2].any() and complex_[1::2].any()  # real only: symmetric; imaginary: skew


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"scoring_function": "TransE"}, r"'scoring_function' must be one of \['DistMult'"),
        ({"scoring_function": [[1, 2], [3, 4]]}, r"'scoring_function' must be one of .*4 x 4"),
        ({"scoring_function": [[5, 0, 0, 0]] * 4}, r"'scoring_function'"),
        ({"scoring_function": "DistMult", "embedding_size": 30}, r"'embedding_size'.*of 4"),
        ({"loss_type": "CE"}, r"'loss_type' must be one of"),
        ({"search_strategy": "grid"}, r"'search_strategy' must be one of \['progressive',"),
        ({"autosf_max_blocks": 2}, r"'autosf_max_blocks'"),
    ],
)  # fmt: skip
def test_bad_inputs_are_named_before_training(overrides, message, isolated_run):
    with pytest.raises(ConfigError, match=message):
        run_recbole_automl(model="AutoSF", config_dict=tiny_config(**overrides))
    assert not (isolated_run / "saved" / "search").exists()


def test_progressive_strategy_grows_from_the_best_of_each_stage():
    space = BlockSpace(8)
    strategy = ProgressiveStrategy(space, per_stage=3, top_k=2, candidates=64, steps=20)
    rng = np.random.default_rng(0)
    seen = set()
    for round_index in range(20):
        points = strategy.ask(2, np.random.default_rng([0, round_index]), seen)
        if not points:
            break
        for p in points:
            seen.add(space.key(p))
            utility = float(np.count_nonzero(np.asarray(p) > 0)) + rng.random() * 0.1
            strategy.tell(p, utility)
    stages = [space.stage(p) for p in strategy.points]
    assert stages == sorted(stages) and stages.count(4) == 5
    assert stages.count(6) == 3 and stages.count(8) == 3
    best4 = sorted(
        (p for p in strategy.points if space.stage(p) == 4),
        key=lambda p: -strategy.utilities[strategy.points.index(p)],
    )[:2]
    for p in (p for p in strategy.points if space.stage(p) == 6):
        parents = [b for b in best4 if all(not b[i][j] or b[i][j] == p[i][j]
                                           for i in range(4) for j in range(4))]  # fmt: skip
        assert parents, "a 6-block structure extends one of the best two 4-block ones"
    assert len({space.key(p) for p in strategy.points}) == len(strategy.points)


SEARCH = {"search_epochs": 1, "autosf_stage_trials": 2, "autosf_max_blocks": 6,
          "search_trials": 7, "epochs": 2}  # fmt: skip


def test_search_retrains_the_best_structure_and_resumes_without_retraining(isolated_run):
    result = run_recbole_automl(model="AutoSF", config_dict=tiny_config(**SEARCH))
    summary = result["search"]
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    trials = Journal(folder / "journal.jsonl").load()
    assert len(trials) == 7 and all(t.status == "complete" for t in trials)
    space = BlockSpace(6)
    assert [space.stage(t.point) for t in trials] == [4] * 5 + [6] * 2
    best = max(trials, key=lambda t: t.value)
    assert summary["scoring_function"] == best.point
    assert summary["blocks"] == space.stage(best.point)
    exported = yaml.safe_load(open(folder / "best.yaml"))
    assert exported["scoring_function"] == best.point and exported["model"] == "AutoSF"
    assert set(result["test_result"]) >= {"ndcg@10", "recall@10"}

    again = run_recbole_automl(model="AutoSF", config_dict=tiny_config(**SEARCH))
    assert Journal(folder / "journal.jsonl").load() == trials  # nothing trained again
    assert again["search"]["scoring_function"] == best.point
    assert again["test_result"] == result["test_result"]  # the same seed, the same model


def test_a_named_function_trains_without_search(isolated_run):
    result = run_recbole_automl(
        model="AutoSF", config_dict=tiny_config(scoring_function="ComplEx", epochs=2)
    )
    assert result.get("search") is None
    assert not (isolated_run / "saved" / "search").exists()
    assert 0 < result["test_result"]["ndcg@10"] <= 1
