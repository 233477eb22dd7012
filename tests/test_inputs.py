"""Bad input, as a new user types it: one line on stderr that names the key and what is
allowed, exit status 2, before anything trains, and nothing half-written."""

import importlib.util
import os
import re
import sys

import pytest
import torch
from conftest import CTR_CONFIG_FILE, ROOT, TEST_DATA

from recbole_automl import Config

TINY = [f"--data_path={TEST_DATA}", "--use_gpu=False", "--show_progress=False", "--state=ERROR"]
SPACES = {
    "unknown_key.yaml": "no_such_key: {choice: [1, 2]}\n",
    "empty.yaml": "",
    "empty_choice.yaml": "learning_rate: {choice: []}\n",
    "log_zero.yaml": "learning_rate: {loguniform: [0, 1]}\n",
    "broken.yaml": "learning_rate: {choice: [0.1, 0.01]\nembedding_size: [\n",
}
HYPER = ["--model=BPR", "--dataset=tiny", "--search=hyper"]
CTR = f"--config_files={CTR_CONFIG_FILE}"

# (command-line arguments, what the one line must say): the 22 inputs of the evidence issue.
BAD_INPUTS = [
    (["--model=AutoCF", "--dataset=tiny", "--search_trials=0"], r"'search_trials' must be .*>= 1 or ~"),
    (["--model=AutoCF", "--dataset=tiny", "--search_trial_epochs=0"], r"'search_trial_epochs' must be .*>= 1 or ~"),
    (["--model=AutoCF", "--dataset=tiny", "--search_time=-5"], r"'search_time' must be .*> 0 or ~"),
    (["--model=BPR", "--dataset=tiny", "--epochs=-1"], r"'epochs' must be .*>= 1, got -1"),
    (["--model=AutoCF", "--dataset=tiny", "--architecture=MF", "--embedding_size=0"], r"'embedding_size' must be .*>= 1, got 0"),
    ([*HYPER, "--params_file=unknown_key.yaml"], r"'no_such_key' .*is not a config key of BPR"),
    (["--model=BPR", "--dataset=tiny", "--config_files=nonexistent.yaml"], r"Config file 'nonexistent.yaml' \(config_files\) does not exist"),
    (["--model=BPR", "--dataset=nosuch"], r"Dataset 'nosuch': no atomic file nosuch.inter"),
    (["--model=BPR", "--dataset=tiny", "--learning_rate=abc"], r"'learning_rate' expects a number, got 'abc'"),
    (["--model=AutoCF", "--dataset=tiny", "--architecture=Foo"], r"'architecture'.*'Foo'.*MF"),
    (["--model=SIF", "--dataset=tiny", "--interaction=conv"], r"'interaction' must be .*'multiply'.*got 'conv'"),
    (["--model=AutoCF", "--dataset=tiny", "--search_strategy=evolution"], r"'search_strategy' must be one of \['arsp', 'random', 'grid'\]"),
    (["--model=BPR", "--dataset=tiny", "--search=nas"], r"'search' must be one of \[None, 'hyper', 'models'\]"),
    (["--model=LambdaOptBPR", "--dataset=tiny", "--reg_granularity=foo"], r"'reg_granularity' must be one of .*'dimension\+user\+item'.*got 'foo'"),
    (["--model=AutoCF", "--dataset=tiny", "--search_workers=0"], r"'search_workers' must be .*>= 1, got 0"),
    (["--model=PEP", "--dataset=tiny", CTR, "--base_model=BPR"], r"'base_model' must name a RecBole context-aware model .*got 'BPR'"),
    (["--model=PEP", "--dataset=tiny", CTR, "--pep_target=2"], r"'pep_target' must be one of \[.*\], got 2"),
    (["--model=AutoCross", "--dataset=tiny", CTR, "--base_model=NoSuch"], r"'base_model': Unknown model 'NoSuch'.*Available models: .*DeepFM"),
    ([*HYPER, "--params_file=nonexistent.yaml"], r"'params_file': cannot read 'nonexistent.yaml'"),
    ([*HYPER, "--params_file=empty.yaml"], r"'params_file': the file has no searched key: give a YAML mapping"),
    ([*HYPER, "--params_file=empty_choice.yaml"], r"'learning_rate': choice expects a non-empty list"),
    ([*HYPER, "--params_file=log_zero.yaml"], r"'learning_rate': loguniform needs low < high and low > 0"),
    ([*HYPER, "--params_file=broken.yaml"], r"'params_file': 'broken.yaml' is not valid YAML"),
]  # fmt: skip


class Trained(BaseException):
    """Raised by any backward pass: bad input must be refused before training starts
    (a BaseException, so that a search cannot record it as a failed trial and go on)."""


def _cli_main():
    spec = importlib.util.spec_from_file_location(
        "cli", os.path.join(ROOT, "run_recbole_automl.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize(
    "args, message", BAD_INPUTS, ids=[" ".join(a[:1] + a[2:]) for a, _ in BAD_INPUTS]
)
def test_bad_input_is_one_line_naming_the_key_before_training(args, message, isolated_run, monkeypatch, capsys):  # fmt: skip
    for name, text in SPACES.items():
        (isolated_run / name).write_text(text)

    def no_training(*_, **__):
        raise Trained("training started")

    monkeypatch.setattr(torch.Tensor, "backward", no_training)
    monkeypatch.setattr(torch.autograd, "backward", no_training)
    monkeypatch.setattr(sys, "argv", ["run_recbole_automl.py", *args, *TINY])
    with pytest.raises(SystemExit) as stop:
        _cli_main()()
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2, err
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert re.search(message, err), err
    saved = isolated_run / "saved"
    written = [os.path.join(d, f) for d, _, files in os.walk(saved) for f in files]
    assert written == [], f"half-written: {written}"


@pytest.mark.parametrize("word", ["~", "None", "null"])
def test_no_limit_can_be_said_on_the_command_line(word, monkeypatch):
    monkeypatch.setattr(
        sys, "argv", ["run", f"--search_time={word}", f"--search_trials={word}", *TINY]
    )
    config = Config(model="AutoCF", dataset="tiny")
    assert config["search_time"] is None and config["search_trials"] is None


def test_the_value_none_stays_a_string(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["run", "--search_scheduler=none", *TINY])
    assert Config(model="BPR", dataset="tiny")["search_scheduler"] == "none"
