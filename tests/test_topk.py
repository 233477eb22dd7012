"""Using a result: a saved checkpoint reloads (RecBole's and the plugin's models, searched
ones too) and gives the top-k items of given users, as the README shows."""

import pytest
import torch
from conftest import autocf_search_config, tiny_config
from recbole.utils.case_study import full_sort_topk

from recbole_automl import Config, load_data_and_model, run_recbole_automl
from recbole_automl.training import train_and_test

RUNS = {
    "BPR": ("BPR", tiny_config()),
    "EASE": ("EASE", tiny_config()),
    "AutoCF, a preset": ("AutoCF", tiny_config(architecture="NeuMF", item_item=True)),
    "AutoCF, searched": ("AutoCF", autocf_search_config()),
    "SIF, searched": ("SIF", tiny_config(search_epochs=2)),
    "LambdaOptBPR": ("LambdaOptBPR", tiny_config()),
    "ModelEnsemble": ("ModelEnsemble", tiny_config(
        ensemble_members=[{"model": "EASE"}, {"model": "MultiVAE"}], ensemble_weights=[2, 1]
    )),
}  # fmt: skip


def _topk(model, dataset, test_data, device):
    users = dataset.token2id(dataset.uid_field, ["59", "13", "7"])
    with torch.no_grad():
        return full_sort_topk(users, model.eval(), test_data, k=5, device=device)


@pytest.mark.parametrize("run", RUNS)
def test_a_saved_checkpoint_reloads_and_recommends_what_the_trained_model_does(run, isolated_run):
    model, settings = RUNS[run]
    result = train_and_test(Config(model=model, config_dict=settings, read_cmd_line=False))
    config, loaded, dataset, _, _, test_data = load_data_and_model(result["model_file"])
    scores, items = _topk(loaded, dataset, test_data, config["device"])
    trained_scores, trained_items = _topk(result["model"], dataset, test_data, config["device"])
    assert torch.equal(items, trained_items)
    assert torch.allclose(scores, trained_scores)
    assert items.shape == (3, 5)


def test_the_winner_of_a_model_search_reloads_from_its_model_file(isolated_run):
    config = tiny_config(search="models", search_models=["Pop", "BPR"], search_trials=2)
    result = run_recbole_automl(config_dict=config)
    config, model, dataset, _, _, test_data = load_data_and_model(result["model_file"])
    assert config["model"] == result["best_params"]["model"]
    _, items = _topk(model, dataset, test_data, config["device"])
    assert items.shape == (3, 5)


@pytest.mark.parametrize(
    "model, settings",
    [
        ("PEP", {"threshold_init": -3.0, "search_epochs": 30, "pep_targets": [0.5],
                 "pep_target": 0.5, "epochs": 2, "learning_rate": 0.01}),
        ("AutoCross", {"autocross_min_gain": -1.0, "autocross_max_crosses": 2,
                       "autocross_min_count": 1, "epochs": 2, "learning_rate": 0.01}),
    ],
)  # fmt: skip
def test_a_searched_ctr_model_reloads_and_predicts_what_the_trained_model_does(
    model, settings, isolated_run
):
    from conftest import CTR_CONFIG_FILE

    config = Config(
        model=model, config_file_list=[CTR_CONFIG_FILE], config_dict=tiny_config(**settings),
        read_cmd_line=False,
    )  # fmt: skip
    result = train_and_test(config)
    config, loaded, _, _, _, test_data = load_data_and_model(result["model_file"])
    batch = next(iter(test_data))[0].to(config["device"])
    with torch.no_grad():
        expected = result["model"].eval().predict(batch)
        assert torch.allclose(loaded.predict(batch), expected)
