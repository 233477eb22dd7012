"""train_resume: a run stopped after some epochs and run again goes on where it was, and ends
exactly as the run that was never stopped."""

from unittest import mock

import pytest
import torch
from conftest import tiny_config
from recbole.trainer import Trainer

from recbole_automl import Config
from recbole_automl.quick_start import train_and_test
from recbole_automl.trainer.resume import resume_files


def _run(model, tmp_path, epochs, **keys):
    """Train and test ``model``; return its config, result and the epochs it trained."""
    trained = []
    original = Trainer._train_epoch

    def counting(self, *args, **kwargs):
        trained.append(args[1])
        return original(self, *args, **kwargs)

    config = Config(
        model=model,
        config_dict=tiny_config(epochs=epochs, checkpoint_dir=str(tmp_path), eval_step=1, **keys),
        read_cmd_line=False,
    )
    with mock.patch.object(Trainer, "_train_epoch", counting):
        result = train_and_test(config, verbose=False)
    return config, result, trained


@pytest.mark.parametrize(
    "model, keys",
    [("BPR", {}), ("AutoGNN", {"architecture": {"layers": 2, "edge_dropout": 0.2}})],
)
def test_a_stopped_run_resumes_and_ends_as_the_uninterrupted_one(model, keys, tmp_path):
    _, whole, _ = _run(model, tmp_path / "whole", 5, **keys)
    config, _, epochs = _run(model, tmp_path / "resumed", 2, train_resume=True, **keys)
    assert epochs == [0, 1]
    _, resumed, epochs = _run(model, tmp_path / "resumed", 5, train_resume=True, **keys)
    assert epochs == [2, 3, 4]  # from where it was, not from scratch
    last, _ = resume_files(config)
    assert torch.load(last, weights_only=False)["epoch"] == 4
    assert resumed["best_valid_result"] == whole["best_valid_result"]
    assert resumed["test_result"] == whole["test_result"]
    for ours, theirs in zip(resumed["model"].parameters(), whole["model"].parameters()):
        assert torch.equal(ours, theirs)


def test_a_finished_run_resumed_trains_no_further_and_tests_its_best(tmp_path):
    _, first, _ = _run("BPR", tmp_path, 3, train_resume=True)
    _, again, epochs = _run("BPR", tmp_path, 3, train_resume=True)
    assert epochs == []
    assert again["test_result"] == first["test_result"]
    assert again["best_valid_result"] == first["best_valid_result"]


def test_train_resume_must_be_a_boolean():
    from recbole_automl.utils import ConfigError

    with pytest.raises(ConfigError, match="train_resume"):
        Config(model="BPR", config_dict=tiny_config(train_resume="yes"), read_cmd_line=False)


def test_train_resume_is_refused_where_a_trainer_has_its_own_loop():
    from recbole_automl.utils import ConfigError

    with pytest.raises(ConfigError, match="'train_resume' must be False for LambdaOptBPR"):
        _run("LambdaOptBPR", "unused", 1, train_resume=True)
