"""The contract every scheduler of the registry keeps: a decision per report, a stopped
trial recorded as pruned with its best epoch so far, state rebuilt from a journal (also one
written before trials could be pruned). A new scheduler is registered in
``search/registry.py``; then it runs this suite."""

import json

import pytest

from recbole_automl.search import (
    CONTINUE,
    SCHEDULERS,
    STOP,
    Budget,
    CategoricalSpace,
    Journal,
    RandomStrategy,
    StopTraining,
    TrialOutcome,
    evaluate_point,
    run_search,
)

SETTINGS = {"asha_min_epochs": 1, "asha_reduction_factor": 2}
SETTINGS.update(stopping_step=2, search_stall_delta=1e-3)  # stalled
MAX_EPOCHS = 8


def make(name):
    return SCHEDULERS.create(name, SETTINGS, True, MAX_EPOCHS)


def curve_of(point):
    """A learning curve per point: its level times the epoch, over MAX_EPOCHS epochs."""
    return [point["level"] * (1 + epoch / MAX_EPOCHS) for epoch in range(MAX_EPOCHS)]


def objective(point, report):
    curve = []
    try:
        for epoch, score in enumerate(curve_of(point), 1):
            curve.append(score)
            report(epoch, score)
    except StopTraining:  # what Trainer.fit does: end at this validation
        pass
    return TrialOutcome(max(curve), curve=curve, epochs=len(curve))


SPACE = CategoricalSpace({"level": [round(0.1 * i, 1) for i in range(1, 13)]})


def search(scheduler, journal=None, trials=10, seed=1):
    return run_search(
        objective, SPACE, RandomStrategy(SPACE), Budget(max_trials=trials), journal, seed=seed,
        scheduler=scheduler,
    )  # fmt: skip


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_each_report_is_a_decision_and_a_stop_prunes_the_trial(name):
    scheduler = make(name)
    decisions = [scheduler.report(0, epoch, 0.5) for epoch in range(1, MAX_EPOCHS + 1)]
    assert set(decisions) <= {CONTINUE, STOP}
    trials = search(make(name))
    for trial in trials:
        assert trial.status in ("complete", "pruned")
        full = curve_of(trial.point)
        assert trial.curve == full[: trial.epochs] and trial.value == max(trial.curve)
        assert (trial.status == "pruned") == (trial.epochs < MAX_EPOCHS)


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_state_rebuilt_from_the_journal_decides_as_the_live_one(name, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    live = make(name)
    trials = search(live, journal)
    rebuilt = make(name)
    for trial in journal.load() + journal.load():  # observing twice changes nothing
        rebuilt.observe(trial)
    probe = {"level": 0.35}
    a = evaluate_point(objective, probe, len(trials), 99, live)
    b = evaluate_point(objective, probe, len(trials), 99, rebuilt)
    assert (a.status, a.epochs, a.curve) == (b.status, b.epochs, b.curve)


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_a_journal_from_before_pruned_trials_still_replays(name, tmp_path):
    """Journals written before PRUNED existed call an ASHA-stopped trial complete."""
    journal = Journal(tmp_path / "journal.jsonl")
    trials = search(make(name), journal, trials=6)
    old = []
    for line in (tmp_path / "journal.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["status"] = "complete" if record["status"] == "pruned" else record["status"]
        record.pop("worker")  # nor did they name workers
        old.append(json.dumps(record))
    (tmp_path / "journal.jsonl").write_text("\n".join(old) + "\n")

    calls = []

    def counted(point, report):
        calls.append(point)
        return objective(point, report)

    again = run_search(
        counted, SPACE, RandomStrategy(SPACE), Budget(max_trials=6), journal, seed=1,
        scheduler=make(name),
    )  # fmt: skip
    assert not calls and [t.point for t in again] == [t.point for t in trials]
    assert [t.value for t in again] == [t.value for t in trials]


def test_a_trial_stops_only_when_it_is_behind_and_has_stalled():
    from recbole_automl.search import StalledBehind

    scheduler = StalledBehind(patience=3, min_delta=0.01, bigger=False)  # RMSE: smaller wins
    for epoch, score in enumerate([0.30, 0.25, 0.24, 0.24, 0.24, 0.24], 1):
        assert scheduler.report(0, epoch, score) == CONTINUE  # the leader is never stopped
    improving = [0.40, 0.35, 0.31, 0.28, 0.26]  # behind, but more than 1% better each 3
    assert [scheduler.report(1, e, s) for e, s in enumerate(improving, 1)] == [CONTINUE] * 5
    flat = [0.26, 0.259, 0.259, 0.2589]  # behind 0.24 and < 1% better than 3 before
    assert [scheduler.report(2, e, s) for e, s in enumerate(flat, 1)] == [CONTINUE] * 3 + [STOP]
    assert "stalled behind 0.2400" in scheduler.reason
    outside = StalledBehind(patience=3, min_delta=0.01, bigger=False, leader=0.2)
    assert [outside.report(0, e, s) for e, s in enumerate(flat, 1)][-1] == STOP
