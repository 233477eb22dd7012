"""Search spaces: what can be sampled, how a point is encoded and named.

A point is plain data (dicts and lists of strings and numbers), so it can be written to
the journal and into a RecBole config as it is.
"""

import itertools
import json
from abc import ABC, abstractmethod

import numpy as np


def point_key(point):
    """A canonical string naming ``point``: equal points have equal keys."""
    return json.dumps(point, sort_keys=True, separators=(",", ":"))


class Space(ABC):
    """A set of points a strategy can sample from."""

    @abstractmethod
    def sample(self, rng):
        """One point drawn at random with ``rng`` (a ``numpy.random.Generator``)."""

    @abstractmethod
    def encode(self, point):
        """A fixed-length float vector describing ``point`` (the input of a predictor)."""

    def key(self, point):
        return point_key(point)


class CategoricalSpace(Space):
    """Points are dicts ``{name: choice}``, one choice per name.

    Example:
        >>> space = CategoricalSpace({"op": ["plus", "max"], "head": ["SUM", "VEC"]})
        >>> space.encode({"op": "max", "head": "SUM"})
        array([0., 1., 1., 0.], dtype=float32)
    """

    def __init__(self, choices):
        self.choices = {name: list(values) for name, values in choices.items()}
        self.dim = sum(len(values) for values in self.choices.values())

    def sample(self, rng):
        return {name: values[rng.integers(len(values))] for name, values in self.choices.items()}

    def encode(self, point):
        vector = np.zeros(self.dim, dtype=np.float32)
        offset = 0
        for name, values in self.choices.items():
            vector[offset + values.index(point[name])] = 1.0
            offset += len(values)
        return vector

    def grid(self):
        """Every point, in a fixed order."""
        names = list(self.choices)
        for values in itertools.product(*self.choices.values()):
            yield dict(zip(names, values))

    def __len__(self):
        return int(np.prod([len(values) for values in self.choices.values()]))


class BranchSpace(Space):
    """Points are sets of 1 to ``max_branches`` distinct points of ``branch`` (their sum).

    A set is stored as a list sorted by key, so the same branches in another order are the
    same point. The encoding adds the branches' encodings.
    """

    def __init__(self, branch, max_branches=1):
        if max_branches < 1:
            raise ValueError(f"max_branches must be at least 1, got {max_branches}")
        self.branch = branch
        self.max_branches = max_branches

    def sample(self, rng):
        count = int(rng.integers(1, self.max_branches + 1))
        branches = {}
        while len(branches) < count:
            branch = self.branch.sample(rng)
            branches[self.branch.key(branch)] = branch
        return [branches[key] for key in sorted(branches)]

    def encode(self, point):
        return np.sum([self.branch.encode(branch) for branch in point], axis=0)

    def grid(self):
        """Every single-branch point (the grid of sums of several is not enumerated)."""
        if self.max_branches != 1:
            raise ValueError("only a space of single branches can be enumerated")
        return ([branch] for branch in self.branch.grid())


class JointSpace(Space):
    """Points are flat dicts of config keys: each key of ``named`` set to a point of its
    space (AutoCF's ``architecture``: a :class:`BranchSpace`), and the keys of ``hyper``
    (a :class:`~recbole_automl.search.HyperSpace`): an architecture and its
    hyper-parameters searched together (Wen et al., KDD 2023). The encoding concatenates
    the parts' encodings.

    Args:
        named (dict): config key -> the space of its value.
        hyper (HyperSpace, optional): more config keys, searched jointly.
    """

    def __init__(self, named, hyper=None):
        self.named = dict(named)
        self.hyper = hyper

    def _hyper_part(self, point):
        return {k: v for k, v in point.items() if k not in self.named}

    def sample(self, rng):
        point = {key: space.sample(rng) for key, space in self.named.items()}
        if self.hyper is not None:
            point.update(self.hyper.sample(rng))
        return point

    def key(self, point):
        """The point's key, each named part as its own space keys it (equal for points that
        space holds equal)."""
        named = {key: json.loads(space.key(point[key])) for key, space in self.named.items()}
        return point_key({**point, **named})

    def encode(self, point):
        parts = [space.encode(point[key]) for key, space in self.named.items()]
        if self.hyper is not None:
            parts.append(self.hyper.encode(self._hyper_part(point)))
        return np.concatenate(parts).astype(np.float32)

    def keys(self):
        """Every config key a point sets."""
        return list(self.named) + (self.hyper.keys() if self.hyper is not None else [])

    def grid(self):
        """Every point: the product of the parts' grids (each must be finite)."""
        parts = [[(key, value) for value in space.grid()] for key, space in self.named.items()]
        hyper = list(self.hyper.grid()) if self.hyper is not None else [{}]
        for named in itertools.product(*parts):
            for values in hyper:
                yield {**dict(named), **values}
