"""A search driver for the Ray cluster test: ``python ray_driver.py ADDRESS FOLDER TRIALS``.

Each trial appends its number to ``FOLDER/evaluations`` when it starts and sleeps a second;
the search runs on the Ray cluster at ADDRESS with 2 workers and journals to FOLDER.
"""

import os
import sys
import time

from recbole_automl.search import (
    Budget,
    CategoricalSpace,
    Journal,
    RandomStrategy,
    TrialOutcome,
    run_search,
)
from recbole_automl.search.ray_executor import RayExecutor


class SleepyObjective:
    def __init__(self, folder):
        self.folder = folder

    def __call__(self, point, report=None):
        with open(os.path.join(self.folder, "evaluations"), "a") as f:
            f.write(f"{point['a']}-{point['b']}\n")
        time.sleep(1.0)
        return TrialOutcome(point["a"] + 0.1 * point["b"], epochs=1)


def main(address, folder, trials):
    space = CategoricalSpace({"a": list(range(10)), "b": list(range(10))})
    found = run_search(
        SleepyObjective(folder), space, RandomStrategy(space), Budget(max_trials=trials),
        Journal(os.path.join(folder, "journal.jsonl")), seed=3, batch_size=2,
        executor=RayExecutor(2, address=address, cpus_per_trial=1),
    )  # fmt: skip
    print("trials", len(found), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
