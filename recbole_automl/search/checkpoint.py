"""The state of a search that learns as it goes (a one-shot supernet, AutoCross's frozen
regression), saved with the journal so that a killed search resumes where it was."""

import dataclasses
import os

import torch

from recbole_automl.search.journal import Journal, Trial


class SearchState:
    """``folder/checkpoint.pth`` (the state after the last trial) and ``folder/journal.jsonl``.

    :meth:`save` writes the state with its trial atomically, then the trial's journal line;
    :meth:`load` returns the state and every trial, journaling the checkpoint's trial if a
    kill came between the two writes. So a resumed search neither loses nor repeats a trial.
    """

    def __init__(self, folder):
        self.path = os.path.join(folder, "checkpoint.pth")
        self.journal = Journal(os.path.join(folder, "journal.jsonl"))

    def save(self, state, trial):
        partial = self.path + ".partial"
        torch.save({**state, "trial": dataclasses.asdict(trial)}, partial)
        os.replace(partial, self.path)
        self.journal.append(trial)

    def load(self, map_location=None):
        """(the saved state, or ``None`` before the first trial; the trials so far)."""
        trials = self.journal.load()
        if not os.path.exists(self.path):
            return None, trials
        state = torch.load(self.path, map_location=map_location, weights_only=False)
        trial = Trial(**state.pop("trial"))
        if trial.number >= len(trials):  # killed between the checkpoint and the journal
            self.journal.append(trial)
            trials.append(trial)
        return state, trials
