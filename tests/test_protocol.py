"""The tutorial's protocol, for every trainer: searches and model selection see the training
and validation splits only; the test split is evaluated exactly once per run, after fit."""

import pytest
from conftest import CTR_CONFIG_FILE, tiny_config

import recbole_automl.methods.hyper_search as hyper_search
import recbole_automl.training as training
from recbole_automl import run_recbole_automl

RUNS = {
    "BPR": ("BPR", [], {}),
    "AutoCF search": (
        "AutoCF", [], {"search_trials": 4, "search_epochs": 1, "arsp_k1": 2, "arsp_k2": 6}
    ),
    "SIF": ("SIF", [], {"search_epochs": 2}),
    "LambdaOptBPR": ("LambdaOptBPR", [], {"epochs": 2}),
    "PEP": ("PEP", [CTR_CONFIG_FILE], {"search_epochs": 3, "pep_targets": [0.9], "pep_target": 0.9,
                                        "threshold_init": -3.0, "learning_rate": 0.01}),
    "AutoCross": ("AutoCross", [CTR_CONFIG_FILE], {"autocross_max_crosses": 1,
                                                   "autocross_min_gain": -1.0,
                                                   "autocross_min_count": 1}),
    "hyper search": ("BPR", [], {"search": "hyper", "search_trials": 3, "epochs": 2}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(RUNS))
def test_test_split_is_evaluated_once_after_fit(name, isolated_run, monkeypatch):
    model, files, overrides = RUNS[name]
    space = isolated_run / "space.yaml"
    space.write_text("learning_rate: {choice: [0.001, 0.01, 0.05]}\n")
    events, state = [], {"fitting": 0}

    def counted(prepare):
        def data_preparation(config, dataset):
            train, valid, test = prepare(config, dataset)
            base = type(test)

            def iterate(loader):
                events.append("test during fit" if state["fitting"] else "test")
                return base.__iter__(loader)

            test.__class__ = type("CountedTest", (base,), {"__iter__": iterate})
            return train, valid, test

        return data_preparation

    def fitting(fit):
        def wrapped(*args, **kwargs):
            state["fitting"] += 1
            try:
                return fit(*args, **kwargs)
            finally:
                state["fitting"] -= 1

        return wrapped

    monkeypatch.setattr(training, "data_preparation", counted(training.data_preparation))
    monkeypatch.setattr(hyper_search, "data_preparation", counted(hyper_search.data_preparation))
    monkeypatch.setattr(training, "fit", fitting(training.fit))
    monkeypatch.setattr(
        hyper_search, "run_configured_search", fitting(hyper_search.run_configured_search)
    )
    config = tiny_config(**{"epochs": 2, "params_file": str(space), **overrides})
    result = run_recbole_automl(model=model, config_file_list=files, config_dict=config)
    assert events == ["test"], events
    assert result["test_result"]
