"""The config-to-search glue (methods/searching.py): one folder per distinct search."""

from conftest import tiny_config

from recbole_automl import Config
from recbole_automl.methods.searching import LATER_KEYS, RUN_KEY_IGNORES, search_folder
from recbole_automl.search import run_key


def _config(**overrides):
    return Config("AutoCF", "tiny", config_dict=tiny_config(**overrides), read_cmd_line=False)


def test_keys_added_later_leave_an_older_search_its_folder():
    # At the values that searched as before them, they are left out of the run key.
    config = _config(**LATER_KEYS)
    before = {k: v for k, v in config.final_config_dict.items() if k not in LATER_KEYS}
    expected = run_key({**before, "_extra": None}, RUN_KEY_IGNORES)
    assert search_folder(config, "AutoCF-tiny").endswith(expected)
    # A default that changed how a search runs (ASHA's extrapolation) names a new search.
    assert search_folder(_config(), "AutoCF-tiny") != search_folder(config, "AutoCF-tiny")
    # Set to anything else, they name another search.
    joint = _config(search_hyper_space={"embedding_size": {"choice": [8, 16]}})
    assert search_folder(joint, "AutoCF-tiny") != search_folder(config, "AutoCF-tiny")
    assert search_folder(_config(item_item=True), "AutoCF-tiny") != search_folder(
        config, "AutoCF-tiny"
    )
