"""The plugin's door: config, lookup, quick start, CLI and RecBole compatibility."""

import os
import subprocess
import sys

import pytest
import scipy.sparse as sp
import torch
import yaml
from conftest import CTR_CONFIG_FILE, ROOT, TEST_DATA, tiny_config

from recbole_automl import (
    Config,
    ConfigError,
    get_model,
    get_trainer,
    objective_function,
    run_recbole_automl,
)
from recbole_automl.config import PROPERTIES_DIR
from recbole_automl.lookup import available_models, plugin_models
from recbole_automl.trainer.stopping import StopTraining

RESULT_KEYS = {"best_valid_score", "valid_score_bigger", "best_valid_result", "test_result"}


@pytest.mark.parametrize("model", ["BPR", "LightGCN", "EASE"])
def test_recbole_general_model_runs_through_the_plugin(model, isolated_run):
    result = run_recbole_automl(model=model, config_dict=tiny_config())
    assert set(result) == RESULT_KEYS
    assert 0.0 <= result["test_result"]["ndcg@10"] <= 1.0
    assert os.listdir(isolated_run / "saved") and os.listdir(isolated_run / "log")


def test_recbole_context_model_runs_in_ctr_setup():
    result = run_recbole_automl(
        model="FM", config_file_list=[CTR_CONFIG_FILE], config_dict=tiny_config()
    )
    assert set(result["test_result"]) == {"auc", "logloss"}


def test_objective_function_returns_model_name_and_results():
    result = objective_function(config_dict=tiny_config(model="BPR"))
    assert result["model"] == "BPR"
    assert RESULT_KEYS <= set(result)


def test_model_class_is_accepted():
    config = Config(model=get_model("BPR"), config_dict=tiny_config())
    assert config["model"] == "BPR"


def test_unknown_model_names_it_and_lists_the_available_ones():
    with pytest.raises(ConfigError, match="Unknown model 'BPRR'.*Did you mean BPR") as error:
        Config(model="BPRR", config_dict=tiny_config())
    assert "LightGCN" in str(error.value) and "\n" not in str(error.value)


PLUGIN_MODELS = {
    "AutoCF", "ModelEnsemble", "SIF", "LambdaOptBPR", "PEP", "AutoCross", "AutoSF", "AutoGNN",
}  # fmt: skip


def test_every_plugin_model_is_found_by_name_before_recbole():
    assert set(plugin_models()) == PLUGIN_MODELS
    for name in PLUGIN_MODELS:
        model = get_model(name)
        assert model.__module__.startswith("recbole_automl.model.") and model.__name__ == name
        assert name in available_models()
    assert get_model("BPR").__module__.startswith("recbole.model.")
    assert {"BPR", "LightGCN", "FM", "SASRec", "KGAT"} <= set(available_models())


@pytest.mark.parametrize(
    "key, value", [("learning_rate", "abc"), ("epochs", 1.5), ("reproducibility", 3)]
)
def test_wrong_value_type_names_the_key(key, value):
    with pytest.raises(ConfigError, match=f"Config key '{key}' expects"):
        Config(model="BPR", config_dict=tiny_config(**{key: value}))


def test_missing_dataset_files_are_named():
    with pytest.raises(ConfigError, match="Dataset 'nothing': no atomic file nothing.inter"):
        Config(model="BPR", config_dict=tiny_config(dataset="nothing"))


def test_missing_model_is_explained():
    with pytest.raises(ConfigError, match="No model given"):
        Config(config_dict=tiny_config())


def test_use_gpu_false_keeps_the_cpu():
    assert Config(model="BPR", config_dict=tiny_config())["device"] == torch.device("cpu")


def test_gpu_when_recbole_asks_for_it():
    config = Config(model="BPR", config_dict=tiny_config(use_gpu=True, gpu_id="0"))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config["device"].type == expected


def test_plugin_trainer_is_found_before_recbole(monkeypatch):
    from recbole.trainer import Trainer

    import recbole_automl.trainer as trainers

    class BPRTrainer(Trainer):
        pass

    monkeypatch.setattr(trainers, "BPRTrainer", BPRTrainer, raising=False)
    assert get_trainer(None, "BPR") is BPRTrainer
    assert get_trainer(None, "LightGCN") is Trainer


def test_time_limit_stops_training_at_the_first_validation(monkeypatch):
    from recbole.trainer import Trainer

    from recbole_automl.quick_start import train_and_test

    epochs = []
    train_epoch = Trainer._train_epoch

    def counted(self, *args, **kwargs):
        epochs.append(args[1] if len(args) > 1 else kwargs.get("epoch_idx"))
        return train_epoch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", counted)
    config = tiny_config(epochs=50, eval_step=2, stopping_step=100)
    train_and_test(Config(model="BPR", config_dict=config), verbose=False)
    assert len(epochs) == 50  # without a limit: every epoch
    epochs.clear()
    result = train_and_test(
        Config(model="BPR", config_dict={**config, "train_time_limit": 0}), verbose=False
    )
    assert epochs == [0, 1]  # stopped at the first validation, after epoch 2
    assert result["best_valid_result"] is not None


def test_callback_can_stop_training():
    from recbole.data import create_dataset, data_preparation
    from recbole.trainer import Trainer

    from recbole_automl.trainer.stopping import fit

    config = Config(model="BPR", config_dict=tiny_config(epochs=20))
    train, valid, _ = data_preparation(config, create_dataset(config))
    trainer = Trainer(config, get_model("BPR")(config, train._dataset))
    seen = []

    def stop_after_two(epoch_idx, valid_score):
        seen.append(epoch_idx)
        if len(seen) == 2:
            raise StopTraining("enough")

    score, result = fit(trainer, train, valid, callback_fn=stop_after_two, saved=False)
    assert seen == [0, 1]
    assert result is not None and score == trainer.best_valid_score


def test_compat_restores_dok_update_without_touching_torch_load():
    matrix = sp.dok_matrix((3, 3))
    matrix._update({(0, 1): 1.0, (2, 2): 2.0})
    assert matrix.toarray()[0, 1] == 1.0 and matrix.nnz == 2
    assert torch.load.__module__ == "torch.serialization"


def test_looking_up_any_model_leaves_autograd_anomaly_detection_off():
    # RecBole's sine.py turns anomaly detection on for the whole process when imported.
    code = (
        "import torch, recbole_automl; from recbole_automl.lookup import get_model; "
        "import recbole.model.sequential_recommender.sine; "
        "print([get_model(m) and torch.is_anomaly_enabled() for m in ('SIF', 'BPR', 'SINE')])"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout.strip() == "[False, False, False]", proc.stderr


def test_kgat_runs_without_dgl_with_its_attention_matrix_built_by_scipy(isolated_run):
    from recbole.data import create_dataset, data_preparation
    from recbole.model.knowledge_aware_recommender import KGAT

    from recbole_automl import Config

    config = Config("KGAT", read_cmd_line=False, config_dict=tiny_config(embedding_size=8))
    train, _, _ = data_preparation(config, create_dataset(config))
    model = KGAT(config, train._dataset)
    # Written out edge by edge: A[h, t] += 1 / (h's edges of that relation).
    heads, tails, relations = model.all_hs.tolist(), model.all_ts.tolist(), model.all_rs.tolist()
    degree = {}
    for h, r in zip(heads, relations):
        degree[(h, r)] = degree.get((h, r), 0) + 1
    expected = torch.zeros(tuple(model.matrix_size))
    for h, t, r in zip(heads, tails, relations):
        if 1 <= r < model.n_relations:
            expected[h, t] += 1.0 / degree[(h, r)]
    assert torch.allclose(model.init_graph().to_dense(), expected, atol=1e-6)
    assert expected.sum() > 0
    result = run_recbole_automl(model="KGAT", config_dict=tiny_config(embedding_size=8))
    assert 0 <= result["test_result"]["ndcg@10"] <= 1


def test_plugin_property_files_comment_every_key():
    for folder, _, files in os.walk(PROPERTIES_DIR):
        for name in files:
            if name.endswith(".checks.yaml"):
                continue  # the rules of the keys (tests/test_checks.py)
            if os.path.basename(folder) == "spaces":  # a search space: sources on top
                with open(os.path.join(folder, name)) as f:
                    assert f.readline().startswith("# "), f"{name}: no comment on its source"
                continue
            with open(os.path.join(folder, name)) as f:
                lines = [line for line in f if line.strip() and not line.startswith("#")]
            for line in lines:
                if not line.startswith(" "):
                    assert "# (" in line, f"{name}: key without a '# (type) ...' comment: {line}"
            with open(os.path.join(folder, name)) as f:
                yaml.safe_load(f)


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_recbole_automl.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_trains_and_tests_with_overrides_and_config_files(isolated_run):
    config_file = isolated_run / "bpr.yaml"
    config_file.write_text(yaml.safe_dump({"model": "BPR", "embedding_size": 8}))
    proc = _cli(
        "--dataset=tiny",
        f"--data_path={TEST_DATA}",
        f"--config_files={config_file}",
        "--epochs=1",
        "--use_gpu=False",
        "--show_progress=False",
        cwd=isolated_run,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test result" in proc.stdout + proc.stderr
    assert "embedding_size = 8" in proc.stdout + proc.stderr


def test_cli_bad_input_is_one_line_and_exit_2(isolated_run):
    proc = _cli("--model=Nope", "--dataset=ml-100k", cwd=isolated_run)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Unknown model 'Nope'" in proc.stderr


def test_importing_the_plugin_does_not_import_ray():
    code = "import sys, recbole_automl; print('ray' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.parametrize("name", ["example", "sif", "lambdaopt", "pep", "autocross"])
def test_example_config_files_are_valid(name):
    config = Config(
        config_file_list=[os.path.join(ROOT, "configs", f"{name}.yaml")], read_cmd_line=False
    )
    assert config["model"] and config["dataset"] == "ml-100k"


def test_a_checkpoint_is_named_by_its_process_too(isolated_run):
    # RecBole names it by model and second: parallel runs started in the same second in one
    # folder would overwrite, and reload, each other's model.
    from recbole_automl.quick_start import train_and_test

    result = train_and_test(Config(model="BPR", config_dict=tiny_config()), verbose=False)
    name = os.path.basename(result["model_file"])
    assert name.startswith("BPR-") and name.endswith(f"-{os.getpid()}.pth")
    assert os.path.isfile(result["model_file"])
