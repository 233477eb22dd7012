import os
import sys

import pytest
import yaml

TEST_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_data")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(autouse=True)
def isolated_run(tmp_path, monkeypatch):
    """RecBole writes log/ and saved/ into the working directory and parses sys.argv."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["pytest"])
    yield tmp_path


def tiny_config(**overrides):
    """Config dict for one quick epoch on tests/test_data/tiny on the CPU."""
    config = {
        "dataset": "tiny",
        "data_path": TEST_DATA,
        "epochs": 1,
        "train_batch_size": 256,
        "show_progress": False,
        "state": "ERROR",
        "use_gpu": False,
        "seed": 7,
        "search_workers": 1,  # searches run serially here unless a test says otherwise
    }
    config.update(overrides)
    return config


CTR_CONFIG_FILE = os.path.join(TEST_DATA, "tiny_ctr.yaml")


def mean_predictor_rmse():
    """Test RMSE of predicting the training split's mean rating (configs/explicit.yaml on
    the tiny data, ratings in [0, 1]): the bar an explicit-feedback model must beat."""
    from recbole.data import create_dataset, data_preparation

    from recbole_automl import Config
    from recbole_automl.utils import init_seed

    explicit = os.path.join(ROOT, "configs", "explicit.yaml")
    config = Config(model="AutoCF", config_file_list=[explicit], config_dict=tiny_config())
    init_seed(config["seed"], config["reproducibility"])
    train, _, test = data_preparation(config, create_dataset(config))
    mean = train._dataset.inter_feat["rating"].mean()
    ratings = test._dataset.inter_feat["rating"]
    return float(((ratings - mean) ** 2).mean().sqrt())


def write_yaml(path, data):
    """Write ``data`` (a YAML text, or data to dump) to ``path``; return the path as text."""
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def autocf_search_config(**overrides):
    """A 4-candidate AutoCF search of one epoch each, in rounds of 2 (the item-item check
    without the ensemble of its models: a test of the ensemble asks for it)."""
    search = {"search_trials": 4, "search_epochs": 1, "arsp_k1": 2, "arsp_k2": 6,
              "search_presets": [], "search_check_ensemble": False}  # fmt: skip
    return tiny_config(**{"epochs": 2, **search, **overrides})


def hyper_config(tmp_path, space=None, **overrides):
    """A search: hyper config over a 4-point space (or ``space``) written to ``tmp_path``."""
    default = {"learning_rate": {"choice": [0.001, 0.01]}, "embedding_size": {"choice": [8, 16]}}
    space_file = write_yaml(tmp_path / "space.yaml", space or default)
    return tiny_config(
        search="hyper", params_file=space_file, epochs=4, eval_step=1, asha_min_epochs=1,
        asha_reduction_factor=2, **overrides,
    )  # fmt: skip
