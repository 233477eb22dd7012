"""Strategies decide which points to evaluate next: ``ask`` for points, ``tell`` results.

Every strategy maximises a utility (the search loop turns "smaller is better" metrics
around) and receives ``None`` for a failed trial.
"""

from abc import ABC, abstractmethod

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Strategy(ABC):
    """Base class: keeps the told points, utilities and fidelities."""

    def __init__(self, space):
        self.space = space
        self.points, self.utilities, self.fidelities = [], [], []

    @abstractmethod
    def ask(self, n, rng, exclude):
        """Up to ``n`` new points whose keys are not in ``exclude``, drawn with ``rng``."""

    def tell(self, point, utility, fidelity=None):
        """``point`` scored ``utility`` (``None``: failed) after ``fidelity`` epochs (a trial
        that a scheduler stopped early was scored at a lower fidelity)."""
        self.points.append(point)
        self.utilities.append(utility)
        self.fidelities.append(fidelity)

    def _sample_unique(self, n, rng, exclude, max_tries_per_point=50):
        points, keys = [], set(exclude)
        for _ in range(n * max_tries_per_point):
            if len(points) == n:
                break
            point = self.space.sample(rng)
            key = self.space.key(point)
            if key not in keys:
                keys.add(key)
                points.append(point)
        return points


class RandomStrategy(Strategy):
    """Uniform random sampling without repeats."""

    def ask(self, n, rng, exclude):
        return self._sample_unique(n, rng, exclude)


class GridStrategy(Strategy):
    """Every point of a finite list exactly once, in an order shuffled by ``seed``.

    Args:
        space (Space): the search space (for keys).
        points (list): every point to visit.
        seed (int, optional): shuffles the order; ``None`` keeps the given order.
    """

    def __init__(self, space, points, seed=None):
        super().__init__(space)
        self.grid = list(points)
        if seed is not None:
            order = np.random.default_rng(seed).permutation(len(self.grid))
            self.grid = [self.grid[i] for i in order]

    def ask(self, n, rng, exclude):
        exclude = set(exclude)
        fresh = (p for p in self.grid if self.space.key(p) not in exclude)
        return [p for _, p in zip(range(n), fresh)]


class SeededStrategy(Strategy):
    """``first`` points (a warm start: human-designed models, a user's guess) before the
    points of ``strategy``, which is told every result, theirs too.

    Args:
        strategy (Strategy): proposes the points after ``first``.
        first (list): points evaluated first, in this order.
    """

    def __init__(self, strategy, first):
        super().__init__(strategy.space)
        self.strategy = strategy
        self.first = list(first)

    def ask(self, n, rng, exclude):
        exclude = set(exclude)
        points = [p for p in self.first if self.space.key(p) not in exclude][:n]
        if len(points) < n:
            taken = exclude | {self.space.key(p) for p in points}
            points += self.strategy.ask(n - len(points), rng, taken)
        return points

    def tell(self, point, utility, fidelity=None):
        super().tell(point, utility, fidelity)
        self.strategy.tell(point, utility, fidelity)


class ArchitecturePredictor(nn.Module):
    """A small MLP that scores encoded points; trained to rank, not to regress.

    Args:
        input_dim (int): length of the space's encoding.
        hidden_size (int): width of the hidden layer.
    """

    def __init__(self, input_dim, hidden_size=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1)
        )

    def forward(self, x):
        return self.net(x).squeeze(-1)

    def fit(self, x, utility, steps=200, lr=0.01, weight_decay=1e-4):
        """Pairwise ranking loss over every ordered pair; ``nan`` utility ranks below all."""
        utility = torch.nan_to_num(utility, nan=-float("inf"))
        better = utility.unsqueeze(1) > utility.unsqueeze(0)
        i, j = better.nonzero(as_tuple=True)
        if len(i) == 0:
            return
        optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        self.train()
        for _ in range(steps):
            score = self(x)
            loss = F.softplus(score[j] - score[i]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        self.eval()


class PredictorStrategy(Strategy):
    """ARSP, the tutorial's Algorithm 1 (Gao et al., KDD 2021).

    Each ``ask(k1)`` samples ``k1 + k2`` unseen random points and returns the ``k1`` that
    a predictor, trained with a ranking loss on every point told so far, ranks highest.
    Before two points have been told, it returns the first ``k1`` random ones.

    With ``fidelity``, the predictor also reads the fidelity of each result (its epochs, as
    a share of the most told): it learns across fidelities (a trial stopped at an early rung
    scored lower than it would have at the end) and ranks candidates at the highest.

    Args:
        space (Space): the search space.
        k2 (int): extra random candidates per ask that the predictor filters out.
        steps (int): predictor training steps per refit.
        seed (int): seeds the predictor's initialisation.
        fidelity (bool): whether the predictor reads the fidelity of each result.
    """

    def __init__(self, space, k2=45, steps=200, seed=0, fidelity=False):
        super().__init__(space)
        self.k2 = k2
        self.steps = steps
        self.seed = seed
        self.fidelity = fidelity
        self.predictor = None

    def _inputs(self, points, fidelities):
        x = np.stack([self.space.encode(p) for p in points])
        if self.fidelity:
            top = max((f for f in self.fidelities if f), default=1)
            share = [[(f or top) / top] for f in fidelities]
            x = np.concatenate([x, np.asarray(share, dtype=np.float32)], axis=1)
        return torch.as_tensor(x)

    def _refit(self):
        x = self._inputs(self.points, self.fidelities)
        y = torch.tensor([np.nan if u is None else u for u in self.utilities], dtype=torch.float32)
        # Seeded by the number of records, so a resumed search refits identically.
        torch.manual_seed(self.seed * 100003 + len(self.points))
        self.predictor = ArchitecturePredictor(x.shape[1])
        self.predictor.fit(x, y, steps=self.steps)

    def ask(self, n, rng, exclude):
        candidates = self._sample_unique(n + self.k2, rng, exclude)
        if len(self.points) < 2 or not candidates:  # (none left: the space is exhausted)
            return candidates[:n]
        self._refit()
        with torch.no_grad():  # candidates at the highest fidelity
            scores = self.predictor(self._inputs(candidates, [None] * len(candidates))).numpy()
        order = np.argsort(-scores, kind="stable")
        return [candidates[i] for i in order[:n]]


class ProgressiveStrategy(Strategy):
    """AutoSF's progressive greedy search (Zhang et al., ICDE 2020), for a space that grows
    its points stage by stage (``stages``, ``stage(point)``, ``initial()``,
    ``grow(point, rng)``: AutoSF's :class:`~recbole_automl.model.knowledge_aware_recommender.
    autosf.BlockSpace`).

    The first stage's points are all evaluated. Each later stage draws ``candidates``
    children of the ``top_k`` best points of the stage before (a child that is invalid, or
    equivalent to a point seen, is dropped: the space's keys), ranks them with a predictor
    trained on every result so far (:class:`ArchitecturePredictor` on the space's encoding;
    AutoSF's reads symmetry-related features) and evaluates the best ``per_stage``. The
    search ends after the last stage (or when the budget ends first).

    Args:
        space: the space (see above).
        per_stage (int): points evaluated in each stage after the first.
        top_k (int): best points of a stage that the next one grows from.
        candidates (int): children drawn per stage before the predictor's filter.
        steps (int): predictor training steps per refit.
        seed (int): seeds the predictor's initialisation.
    """

    def __init__(self, space, per_stage=4, top_k=4, candidates=256, steps=200, seed=0):
        super().__init__(space)
        self.per_stage, self.top_k, self.candidates = per_stage, top_k, candidates
        self.steps, self.seed = steps, seed

    def _told(self, stage):
        return [(p, u) for p, u in zip(self.points, self.utilities) if self.space.stage(p) == stage]

    def ask(self, n, rng, exclude):
        exclude = set(exclude)
        first, *later = self.space.stages
        fresh = [p for p in self.space.initial() if self.space.key(p) not in exclude]
        if fresh:
            return fresh[:n]
        for previous, stage in zip([first, *later], later):
            left = self.per_stage - len(self._told(stage))
            children = self._grow(previous, min(n, left), rng, exclude) if left > 0 else []
            if children:
                return children  # (none: this stage has no new child; on to the next)
        return []

    def _grow(self, previous, n, rng, exclude):
        scored = [(p, u) for p, u in self._told(previous) if u is not None]
        parents = [p for p, _ in sorted(scored, key=lambda pu: -pu[1])[: self.top_k]]
        children, keys = [], set(exclude)
        for _ in range(self.candidates if parents else 0):
            child = self.space.grow(parents[rng.integers(len(parents))], rng)
            if child is not None and self.space.key(child) not in keys:
                keys.add(self.space.key(child))
                children.append(child)
        if len(children) <= n:
            return children
        x = torch.as_tensor(np.stack([self.space.encode(p) for p in self.points]))
        y = torch.tensor([np.nan if u is None else u for u in self.utilities], dtype=torch.float32)
        torch.manual_seed(self.seed * 100003 + len(self.points))  # a resumed search refits alike
        predictor = ArchitecturePredictor(x.shape[1])
        predictor.fit(x, y, steps=self.steps)
        with torch.no_grad():
            scores = predictor(torch.as_tensor(np.stack([self.space.encode(c) for c in children])))
        order = np.argsort(-scores.numpy(), kind="stable")
        return [children[i] for i in order[:n]]
