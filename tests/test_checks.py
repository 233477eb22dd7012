"""The rules of the config keys (``properties/**/*.checks.yaml``): each one names a key its
method reads, allows what the code accepts, and is enforced before anything loads."""

import os

import pytest
import recbole
import yaml
from conftest import tiny_config

from recbole_automl import Config, ConfigError
from recbole_automl.config import PROPERTIES_DIR, check_key, load_checks
from recbole_automl.model.context_aware_recommender.autocross import PLACEMENTS
from recbole_automl.model.general_recommender.lambdaopt import GRANULARITIES
from recbole_automl.model.layers import INTERACTIONS, THRESHOLD_GRANULARITIES
from recbole_automl.search import EXECUTORS, SCHEDULERS, STRATEGIES

RECBOLE_PROPERTIES = os.path.join(os.path.dirname(recbole.__file__), "properties")


def _keys(path):
    with open(path) as f:
        return set(yaml.safe_load(f) or {})


def test_every_checked_key_is_a_key_of_its_method():
    overall = _keys(os.path.join(PROPERTIES_DIR, "overall.yaml"))
    overall |= _keys(os.path.join(RECBOLE_PROPERTIES, "overall.yaml"))
    folder = os.path.join(PROPERTIES_DIR, "model")
    models = {}  # every model's keys: the overall rules cover keys many models have
    for base in (folder, os.path.join(RECBOLE_PROPERTIES, "model")):
        for file in os.listdir(base):
            if file.endswith(".yaml") and not file.endswith(".checks.yaml"):
                models[file] = _keys(os.path.join(base, file))
    assert set(load_checks("BPR", "hyper")) <= overall | set().union(*models.values())
    for file in os.listdir(folder):
        if file.endswith(".checks.yaml"):
            model = file[: -len(".checks.yaml")]
            own = _keys(os.path.join(folder, f"{model}.yaml")) | overall
            assert _keys(os.path.join(folder, file)) <= own, model


def test_the_allowed_values_are_the_ones_the_code_has():
    rules = {m: load_checks(m) for m in ("AutoCF", "SIF", "LambdaOptBPR", "PEP", "AutoCross")}
    assert rules["SIF"]["interaction"]["choice"] == list(INTERACTIONS)
    assert rules["LambdaOptBPR"]["reg_granularity"]["choice"] == list(GRANULARITIES)
    assert rules["PEP"]["threshold_granularity"]["choice"] == list(THRESHOLD_GRANULARITIES)
    assert rules["AutoCross"]["autocross_placement"]["choice"] == list(PLACEMENTS)
    # Every strategy, scheduler and executor a config may name exists in the registry.
    assert set(rules["AutoCF"]["search_strategy"]["choice"]) <= set(STRATEGIES.names())
    assert set(load_checks("BPR", "hyper")["search_strategy"]["choice"]) <= set(STRATEGIES.names())
    assert set(rules["AutoCF"]["search_scheduler"]["choice"]) == set(SCHEDULERS.names())
    assert set(rules["AutoCF"]["search_executor"]["choice"]) == set(EXECUTORS.names())


@pytest.mark.parametrize(
    "rule, good, bad",
    [
        ({"choice": ["a", "b"]}, ["a", "b"], ["c", None, 1]),
        ({"choice": ["a"], "none": "off"}, ["a", None], ["b"]),
        ({"choice": ["adam", "sgd"], "casefold": True}, ["Adam", "sgd"], ["rmsprop"]),
        ({"lowest": 1}, [1, 2.5], [0, -1, None, "3", True]),
        ({"lowest": 1e-9, "none": "no limit"}, [0.5, None], [0, -5]),
        ({"items_lowest": 2}, [[2, 5], []], [[1], [2.5], "5", None]),
        ({"one_of_key": "targets"}, [0.5], [0.3, None]),
        ({"choice": ["x"], "unless": {"mode": "off"}}, ["x"], ["y"]),
    ],
)
def test_each_kind_of_rule_allows_and_refuses(rule, good, bad):
    config = {"targets": [0.5, 0.1], "mode": "on"}
    for value in good:
        check_key("k", value, rule, config)
    for value in bad:
        with pytest.raises(ConfigError, match="Config key 'k' must be"):
            check_key("k", value, rule, config)
    if "unless" in rule:
        check_key("k", bad[0], rule, {"mode": "off"})


def test_the_search_hyper_rules_apply_only_with_search_hyper():
    Config("AutoCF", "tiny", config_dict=tiny_config(search_strategy="arsp"), read_cmd_line=False)
    with pytest.raises(ConfigError, match=r"'search_strategy' must be one of \['tpe'"):
        Config(
            "AutoCF", "tiny", read_cmd_line=False,
            config_dict=tiny_config(search="hyper", architecture="MF", search_strategy="arsp"),
        )  # fmt: skip
