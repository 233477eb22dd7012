"""λOpt: MF-BPR with coefficients learned against the validation loss."""

import pytest
import torch
from conftest import tiny_config
from recbole.data import create_dataset, data_preparation

from recbole_automl import Config, ConfigError, run_recbole_automl
from recbole_automl.model.general_recommender.lambdaopt import GRANULARITIES, LambdaOptBPR
from recbole_automl.search import Journal
from recbole_automl.trainer.lambdaopt_trainer import LambdaOptBPRTrainer
from recbole_automl.trainer.one_shot import split_validation


def _build(**overrides):
    config = Config(model="LambdaOptBPR", config_dict=tiny_config(**overrides))
    train, valid, _ = data_preparation(config, create_dataset(config))
    model = LambdaOptBPR(config, train._dataset)
    return config, model, train, valid


# granularity -> (users' coefficients shape, items' coefficients shape); None: unregularized,
# "shared": the users' tensor.
SHAPES = {
    "global": ((1, 1), "shared"),
    "dimension": ((1, 8), "shared"),
    "user": (("users", 1), None),
    "item": (None, ("items", 1)),
    "user+item": (("users", 1), ("items", 1)),
    "dimension+user": (("users", 8), (1, 8)),
    "dimension+item": ((1, 8), ("items", 8)),
    "dimension+user+item": (("users", 8), ("items", 8)),
    "fixed": ((1, 1), "shared"),
}


@pytest.mark.parametrize("granularity", sorted(GRANULARITIES))
def test_every_granularity_has_its_coefficients(granularity):
    _, model, train, _ = _build(reg_granularity=granularity, embedding_size=8, reg_weight=0.5)
    sizes = {"users": model.n_users, "items": model.n_items}

    def shape(tensor):
        return None if tensor is None else tuple(tensor.shape)

    def expected(spec):
        return None if spec is None else tuple(sizes.get(n, n) for n in spec)

    user_spec, item_spec = SHAPES[granularity]
    assert shape(model.user_lambda) == expected(user_spec)
    if item_spec == "shared":
        assert model.shared and model.item_lambda is None
    else:
        assert shape(model.item_lambda) == expected(item_spec)
    batch = next(iter(train))
    assert model.penalty(batch) > 0  # every granularity regularizes something
    assert bool(model.lambda_parameters()) == (granularity != "fixed")


def test_bad_keys_are_named():
    with pytest.raises(ConfigError, match="'reg_granularity'"):
        _build(reg_granularity="per-layer")
    with pytest.raises(ConfigError, match="'learner'"):  # its step cannot be simulated
        _build(learner="adagrad")
    _build(learner="adagrad", reg_granularity="fixed")  # nothing is simulated


@pytest.mark.parametrize(
    "learner, weight_decay, amsgrad",
    [("sgd", 0.0, False), ("adam", 0.0, False), ("sgd", 0.01, False), ("adam", 0.01, True)],
)
def test_simulated_step_is_the_optimizers_real_step(learner, weight_decay, amsgrad, isolated_run):
    config, model, train, _ = _build(
        learner=learner, reg_weight=0.3, learning_rate=0.05, weight_decay=weight_decay
    )
    trainer = LambdaOptBPRTrainer(config, model)
    if amsgrad:  # (RecBole's config cannot set it; a subclass's optimizer could)
        trainer.optimizer.param_groups[0]["amsgrad"] = True
    batches = iter(train)
    for _ in range(2):  # a second step replays Adam's moments and step count
        batch = next(batches)
        tables = model.embedding_parameters()
        grads = torch.autograd.grad(model.calculate_loss(batch), tables)
        simulated = [t.detach().clone() for t in trainer._simulated_step(tables, grads)]
        trainer.optimizer.zero_grad()
        model.calculate_loss(batch).backward()
        trainer.optimizer.step()
        for real, expected in zip(tables, simulated):
            assert torch.allclose(real, expected, atol=1e-6)


@pytest.mark.parametrize("granularity", ["global", "user", "dimension+item", "dimension+user+item"])
def test_the_original_simulated_penalty_is_the_gradient_over_whole_tables(granularity):
    config, model, _, _ = _build(reg_granularity=granularity, reg_weight=0.3)
    with torch.no_grad():
        for p in model.lambda_parameters():
            p.uniform_(0.0, 1.0)
    tables = model.embedding_parameters()
    rows = [torch.arange(len(t)) for t in tables]
    total = sum(
        (model.coefficients(side, ids) * table[ids].pow(2)).sum()
        for side, ids, table in zip(("user", "item"), rows, tables)
        if model.coefficients(side, ids) is not None
    )
    expected = torch.autograd.grad(total, tables, allow_unused=True)
    for got, want in zip(model.table_penalty_gradients(), expected):
        assert (got is None) == (want is None)
        assert got is None or torch.allclose(got, want)
    with pytest.raises(ConfigError, match="'lambda_simulated_penalty'"):
        _build(lambda_simulated_penalty="rows")


@pytest.mark.parametrize("penalty", ["batch", "tables"])
def test_coefficients_learn_on_validation_and_stay_non_negative(penalty, isolated_run):
    config, model, train, valid = _build(lambda_learning_rate=0.1, lambda_simulated_penalty=penalty)
    trainer = LambdaOptBPRTrainer(config, model)
    trainer.fit(train, valid, saved=False, verbose=False)  # one epoch
    assert model.user_lambda.min() >= 0 and model.item_lambda.min() >= 0
    assert model.user_lambda.max() > 0  # moved from reg_weight 0
    assert set(trainer.search_summary["frequency_spearman"]) == {"user", "item"}
    # one point per validated epoch, the last the coefficients' means now
    curve = trainer.search_summary["lambda_curve"]
    assert len(curve) == len(trainer.trials) and curve[-1] == trainer.point()["lambda"]


def test_train_and_test_saves_the_coefficients_and_resumes(isolated_run):
    def run(epochs):
        config = tiny_config(epochs=epochs, lambda_learning_rate=0.1, eval_step=1)
        return run_recbole_automl(model="LambdaOptBPR", config_dict=config)

    first = run(2)
    (folder,) = (isolated_run / "saved" / "search").iterdir()
    for name in ("coefficients.png", "lambda.png", "best_model.pth", "journal.jsonl"):
        assert (folder / name).exists()
    state = torch.load(folder / "best_model.pth", weights_only=False)["state_dict"]
    assert state["user_lambda"].max() > 0
    assert "ndcg@10" in first["test_result"]

    journal = Journal(folder / "journal.jsonl")
    trials = journal.load()
    run(3)  # a larger budget trains one more epoch in the same folder
    assert journal.load()[:2] == trials and len(journal.load()) == 3


def test_fixed_coefficient_is_not_learned(isolated_run):
    config, model, train, valid = _build(reg_granularity="fixed", reg_weight=0.01)
    LambdaOptBPRTrainer(config, model).fit(train, valid, saved=False, verbose=False)
    assert model.user_lambda.item() == pytest.approx(0.01)


def test_coefficients_learn_on_one_part_of_validation_and_select_on_the_other():
    config, _, _, valid = _build()
    part, selection = split_validation(config, valid, 0.5)

    def pairs(dataset):
        inter = dataset.inter_feat
        return set(zip(inter["user_id"].tolist(), inter["item_id"].tolist()))

    learn, select, whole = pairs(part), pairs(selection._dataset), pairs(valid._dataset)
    assert learn and select and not learn & select and learn | select == whole
    assert type(selection) is type(valid)
