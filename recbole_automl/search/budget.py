"""The resource constraint of a search: trials and/or wall-clock seconds."""

import time


class Budget:
    """Counts trials and seconds against optional limits.

    Seconds are wall-clock time since the budget was created plus the recorded seconds of
    trials replayed from a journal (:meth:`credit`), so a resumed search does not get its
    time back.

    Args:
        max_trials (int, optional): trials (complete or failed) allowed.
        max_seconds (float, optional): seconds allowed.
    """

    def __init__(self, max_trials=None, max_seconds=None):
        self.max_trials = max_trials
        self.max_seconds = max_seconds
        self.trials = 0
        self._start = time.monotonic()
        self._credited = 0.0

    def credit(self, seconds):
        """Count ``seconds`` spent in an earlier session."""
        self._credited += seconds

    def replay(self, trials):
        """Count ``trials`` finished in an earlier session, and their seconds."""
        for trial in trials:
            self.credit(trial.seconds)
            self.count()
        return self

    def count(self):
        self.trials += 1

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
        return self.max_seconds is not None and self.elapsed >= self.max_seconds

    def __repr__(self):
        return f"Budget(max_trials={self.max_trials}, max_seconds={self.max_seconds})"
