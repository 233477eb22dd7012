"""ModelEnsemble: a weighted sum of members' standardised scores, trained member by member."""

import pytest
import torch
from conftest import tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.general_recommender.ensemble import ModelEnsemble

MEMBERS = [{"model": "EASE", "reg_weight": 10.0}, {"model": "NeuMF", "mf_embedding_size": 8}]


def _ensemble(weights, **overrides):
    config = tiny_config(ensemble_members=MEMBERS, ensemble_weights=weights, **overrides)
    return run_recbole_automl(model="ModelEnsemble", config_dict=config)


def test_one_weight_ranks_as_that_member_alone(isolated_run):
    """Each member trains as a run of it alone (NeuMF: dropout, and no full_sort_predict)."""
    for weights, member in (([1.0, 0.0], MEMBERS[0]), ([0.0, 2.0], MEMBERS[1])):
        alone = run_recbole_automl(model=member["model"], config_dict=tiny_config(**member))
        assert _ensemble(weights)["test_result"] == alone["test_result"]


def test_the_score_is_the_weighted_sum_of_the_members_standardised_scores(isolated_run):
    members = [MEMBERS[0], {"model": "BPR", "embedding_size": 8}]
    config = Config(
        model="ModelEnsemble",
        config_dict=tiny_config(ensemble_members=members, ensemble_weights=[3.0, 1.0]),
    )
    train, _, _ = data_preparation(config, create_dataset(config))
    model = ModelEnsemble(config, train._dataset).eval()
    batch = {config["USER_ID_FIELD"]: torch.tensor([1, 2])}
    with torch.no_grad():
        parts = []
        for member in model.members:
            s = member.full_sort_predict(batch).view(2, -1).float()
            parts.append((s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True))
        expected = 0.75 * parts[0] + 0.25 * parts[1]
        assert torch.allclose(model.full_sort_predict(batch).view(2, -1), expected, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ensemble_members": None}, "'ensemble_members' must be a non-empty list"),
        ({"ensemble_weights": [1.0]}, r"'ensemble_weights' must be 2 numbers >= 0"),
        ({"ensemble_weights": [0.0, 0.0]}, "not all 0"),
        ({"ensemble_members": [{"model": "FM"}, {"model": "BPR"}]}, "FM is not a general"),
    ],
)
def test_bad_ensemble_keys_are_named(isolated_run, overrides, message):
    config = tiny_config(**{"ensemble_members": MEMBERS, "ensemble_weights": [1.0, 1.0],
                            **overrides})  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        run_recbole_automl(model="ModelEnsemble", config_dict=config)
