"""The resource constraint of a search: trials, trial-epochs and/or wall-clock seconds."""

import time


class Budget:
    """Counts trials, trial-epochs and seconds against optional limits.

    Trial-epochs are the epochs every trial trained, summed (a trial stopped early by a
    scheduler counts what it trained; a closed-form fit is one epoch): a deterministic
    unit of compute that a multi-fidelity search shares among its trials.

    Seconds are wall-clock time since the budget was created plus the recorded seconds of
    trials replayed from a journal (:meth:`credit`), so a resumed search does not get its
    time back.

    Args:
        max_trials (int, optional): trials (complete or failed) allowed.
        max_seconds (float, optional): seconds allowed.
        max_epochs (int, optional): trial-epochs allowed (the trial that crosses the limit
            finishes).
    """

    def __init__(self, max_trials=None, max_seconds=None, max_epochs=None):
        self.max_trials = max_trials
        self.max_seconds = max_seconds
        self.max_epochs = max_epochs
        self.trials = 0
        self.epochs = 0
        self._start = time.monotonic()
        self._credited = 0.0

    def credit(self, seconds):
        """Count ``seconds`` spent in an earlier session."""
        self._credited += seconds

    def replay(self, trials):
        """Count ``trials`` finished in an earlier session, and their seconds."""
        for trial in trials:
            self.credit(trial.seconds)
            self.count(trial)
        return self

    def count(self, trial=None):
        """Count one finished trial (and the epochs it trained)."""
        self.trials += 1
        if trial is not None:
            self.epochs += trial.epochs

    @property
    def elapsed(self):
        return self._credited + time.monotonic() - self._start

    @property
    def seconds_left(self):
        if self.max_seconds is None:
            return None
        return max(0.0, self.max_seconds - self.elapsed)

    @property
    def exhausted(self):
        if self.max_trials is not None and self.trials >= self.max_trials:
            return True
        if self.max_epochs is not None and self.epochs >= self.max_epochs:
            return True
        return self.max_seconds is not None and self.elapsed >= self.max_seconds

    def __repr__(self):
        epochs = f", max_epochs={self.max_epochs}" if self.max_epochs is not None else ""
        return f"Budget(max_trials={self.max_trials}, max_seconds={self.max_seconds}{epochs})"
