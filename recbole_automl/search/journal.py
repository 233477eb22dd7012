"""Trial records and the journal file that makes a search resumable."""

import dataclasses
import json
import os
from typing import Any, Optional

COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"
# A trial with a validation score: trained to its end, or stopped early by a scheduler.
# (Journals written before PRUNED existed call ASHA-stopped trials complete.)
SCORED = (COMPLETE, PRUNED)


@dataclasses.dataclass
class Trial:
    """One evaluated point of a search.

    Attributes:
        number: position in the search (0, 1, ...).
        round: the strategy's round that proposed it.
        point: the point itself (plain data).
        status: ``"complete"`` (trained to its end), ``"pruned"`` (stopped early by a
            scheduler; its value is its best validation so far) or ``"failed"``.
        value: the validation score (``None`` if failed).
        result: every validation metric of the best epoch.
        curve: the validation score after each evaluation (evenly spaced, the last one
            after ``epochs``).
        epochs: epochs trained.
        seconds: wall-clock seconds spent on it.
        error: why it failed.
        started: wall-clock time it started (Unix seconds).
        worker: where it ran (``host:pid``), for a search spread over processes or machines.
    """

    number: int
    round: int
    point: Any
    status: str = COMPLETE
    value: Optional[float] = None
    result: dict = dataclasses.field(default_factory=dict)
    curve: list = dataclasses.field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    error: Optional[str] = None
    started: Optional[float] = None
    worker: Optional[str] = None

    @property
    def complete(self):
        """Trained to its end (not pruned, not failed)."""
        return self.status == COMPLETE

    @property
    def scored(self):
        """Has a validation score: complete or pruned."""
        return self.status in SCORED

    def utility(self, bigger):
        """The value to maximise (``None`` for a failed trial)."""
        if not self.scored:
            return None
        return self.value if bigger else -self.value


class Journal:
    """An append-only JSON-lines file of finished trials, one per line.

    Each trial is flushed and synced as soon as it finishes, so a killed search loses at
    most the trial that was running; a torn last line is ignored on reading.
    """

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def load(self):
        if not os.path.exists(self.path):
            return []
        trials = []
        with open(self.path) as f:
            for line in f:
                try:
                    trials.append(Trial(**json.loads(line)))
                except (json.JSONDecodeError, TypeError):
                    continue
        return trials

    def append(self, trial):
        with open(self.path, "a") as f:
            f.write(json.dumps(dataclasses.asdict(trial)) + "\n")
            f.flush()
            os.fsync(f.fileno())


def best_trial(trials, bigger):
    """The scored trial (complete or pruned) with the best value, or ``None``."""
    scored = [t for t in trials if t.scored]
    if not scored:
        return None
    return max(scored, key=lambda t: t.utility(bigger))
