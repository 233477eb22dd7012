"""What a user sees of a search: a progress bar, the trajectory plot, the exported config."""

import hashlib
import os

import numpy as np
import yaml
from tqdm import tqdm


class SearchProgress:
    """A progress bar of trials done, with the best score so far and the time left."""

    def __init__(self, total=None, desc="search", disable=False, done=0):
        self.bar = tqdm(
            total=total, desc=desc, unit="trial", disable=disable, leave=True, initial=done
        )

    def update(self, trial, best, budget):
        postfix = {"best": "-" if best is None else f"{best.value:.4f}"}
        if budget.seconds_left is not None:
            postfix["left"] = f"{budget.seconds_left:.0f}s"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def _pyplot():
    """matplotlib's pyplot on a backend that needs no display (imported when first used)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def best_so_far(trials, bigger):
    """Best value after each trial (NaN until the first scored one)."""
    best, out = None, []
    for trial in trials:
        if trial.scored and (best is None or (trial.value > best) == bigger):
            best = trial.value
        out.append(np.nan if best is None else best)
    return np.array(out)


def plot_trajectory(runs, path, metric, bigger):
    """Best validation score against trials and against seconds, one line per run.

    Args:
        runs (dict): label -> list of Trial (in the order they were evaluated).
        path (str): PNG file to write.
        metric (str): the validation metric's name, for the axis label.
        bigger (bool): whether bigger is better.
    """
    plt = _pyplot()
    fig, (by_trials, by_time) = plt.subplots(1, 2, figsize=(10, 4))
    for label, trials in runs.items():
        best = best_so_far(trials, bigger)
        seconds = np.cumsum([t.seconds for t in trials])
        by_trials.plot(np.arange(1, len(trials) + 1), best, marker=".", label=label)
        by_time.plot(seconds, best, marker=".", label=label)
    by_trials.set_xlabel("trials evaluated")
    by_time.set_xlabel("seconds of training")
    for ax in (by_trials, by_time):
        ax.set_ylabel(f"best valid {metric}")
        ax.grid(alpha=0.3)
    by_trials.legend()
    _save(fig, path)


def plot_weights(trials, path, key="weights", ylabel="operation weight (alpha)"):
    """The architecture weights of a one-shot search against its trials (epochs).

    Args:
        trials (list of Trial): in order; ``trial.point[key]`` maps a name to its weight.
        path (str): PNG file to write.
    """
    plt = _pyplot()
    epochs = [t.epochs for t in trials]
    names = list(trials[0].point[key]) if trials else []
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        ax.plot(epochs, [t.point[key][name] for t in trials], marker=".", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_against_frequency(series, path, ylabel="mean coefficient"):
    """Values per user / item against their training frequency, averaged in log2 bins.

    Args:
        series (dict): label -> (frequencies, values), two arrays of the same length.
        path (str): PNG file to write.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (frequencies, values) in series.items():
        bins = np.floor(np.log2(frequencies)).astype(int)
        edges = sorted(set(bins))
        means = [values[bins == b].mean() for b in edges]
        ax.plot([2.0**b for b in edges], means, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("interactions in the training split (log2 bins)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def export_config(config_dict, path):
    """Write ``config_dict`` as a RecBole YAML config file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(_plain(config_dict), f, sort_keys=False)
    return path


def _plain(value):
    """Turn numpy scalars and tuples into what ``yaml.safe_dump`` writes plainly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_key(config_dict, ignore=()):
    """A short hash of the settings that define a search, so a rerun finds its journal.

    Args:
        config_dict (dict): the settings.
        ignore (iterable of str): keys that do not change which trials are run (the
            budget, the device, verbosity).
    """
    items = sorted((k, repr(v)) for k, v in config_dict.items() if k not in set(ignore))
    return hashlib.sha1(repr(items).encode()).hexdigest()[:10]
