import os
import sys

import pytest

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
    }
    config.update(overrides)
    return config


CTR_CONFIG_FILE = os.path.join(TEST_DATA, "tiny_ctr.yaml")
