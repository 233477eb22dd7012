"""hyperopt behind the core: a :class:`~recbole_automl.search.HyperSpace` translated into
hyperopt's expressions, and the strategy that asks hyperopt's TPE or random search.

hyperopt is imported here only, when a hyper-parameter space is sampled or searched.
"""

import functools
import logging
import math

from recbole_automl.search.errors import SearchError
from recbole_automl.search.strategies import Strategy


def to_hyperopt(params):
    """``space.params`` as a hyperopt expression (a dict of ``hp.*`` nodes)."""
    from hyperopt import hp

    expression = {}
    for p in params:
        if p.kind == "choice" and p.conditions:
            options = [{"option": i, **to_hyperopt(sub)} for i, sub in enumerate(p.conditions)]
            expression[p.name] = hp.choice(p.label, options)
        elif p.kind == "choice":
            expression[p.name] = hp.choice(p.label, list(range(len(p.args))))
        elif p.kind == "uniform":
            expression[p.name] = hp.uniform(p.label, *p.args)
        elif p.kind == "loguniform":
            expression[p.name] = hp.loguniform(p.label, math.log(p.args[0]), math.log(p.args[1]))
        else:
            expression[p.name] = hp.quniform(p.label, *p.args)
    return expression


def sample(space, rng):
    """One point of ``space`` drawn by hyperopt's sampler with ``rng``."""
    from hyperopt.pyll import stochastic

    point = dict(space.fixed)
    _flatten(space.params, stochastic.sample(to_hyperopt(space.params), rng=rng), point)
    return point


def point_from_vals(space, vals):
    """The point of hyperopt's ``misc['vals']`` (label -> [value] or [])."""
    point = dict(space.fixed)
    _from_vals(space.params, vals, point)
    return point


def vals_from_point(space, point):
    """hyperopt's ``vals`` (label -> [value] or []) for a point of ``space``."""
    vals = {}
    _to_vals(space.params, point, vals, active=True)
    return vals


def _flatten(params, nested, point):
    for p in params:
        value = nested[p.name]
        if p.kind == "choice" and p.conditions:
            index = value["option"]
            point[p.name] = p.args[index]
            _flatten(p.conditions[index], value, point)
        elif p.kind == "choice":
            point[p.name] = p.args[value]
        else:
            point[p.name] = p.number(value)


def _from_vals(params, vals, point):
    for p in params:
        (value,) = vals[p.label]
        if p.kind == "choice":
            point[p.name] = p.args[int(value)]
            if p.conditions:
                _from_vals(p.conditions[int(value)], vals, point)
        else:
            point[p.name] = p.number(value)


def _to_vals(params, point, vals, active):
    for p in params:
        if not active:  # every label of an inactive branch is empty, nested ones too
            vals[p.label] = []
            for sub in p.conditions or []:
                _to_vals(sub, point, vals, active=False)
            continue
        value = point[p.name]
        if p.kind == "choice":
            index = p.args.index(value)
            vals[p.label] = [index]
            for i, sub in enumerate(p.conditions or []):
                _to_vals(sub, point, vals, active=i == index)
        else:
            vals[p.label] = [value]


class HyperoptStrategy(Strategy):
    """hyperopt's TPE (Bergstra et al., NIPS 2011) or its random search, asked and told.

    Every told trial becomes a hyperopt trial document, so TPE models exactly the trials of
    the journal (failed ones are told as failed and ignored by TPE). A proposal that repeats
    a told point is drawn again with the next seed, up to ``retries`` times, then replaced
    by a random unseen point.

    Args:
        space (HyperSpace): the search space.
        algo (str): ``"tpe"`` or ``"random"``.
        startup_trials (int): TPE samples at random until this many trials are told
            (hyperopt's ``n_startup_jobs``; its default of 20 is too many for small budgets).
        retries (int): draws per point before falling back to a random unseen point.
    """

    ALGORITHMS = ("tpe", "random")

    def __init__(self, space, algo="tpe", startup_trials=5, retries=20):
        from hyperopt import Domain, Trials, rand, tpe

        super().__init__(space)
        # hyperopt logs two INFO lines per proposal ("TPE using 19/19 trials ..."): the
        # search's own log says what was proposed and how it scored.
        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        if algo not in self.ALGORITHMS:
            raise SearchError(f"algo must be one of {list(self.ALGORITHMS)}, got {algo!r}")
        if algo == "tpe":
            self.suggest = functools.partial(tpe.suggest, n_startup_jobs=startup_trials)
        else:
            self.suggest = rand.suggest
        self.domain = Domain(lambda point: 0.0, to_hyperopt(space.params))
        self.trials = Trials()
        self.retries = retries

    def ask(self, n, rng, exclude):
        points, keys = [], set(exclude)
        for _ in range(n * self.retries):
            if len(points) == n:
                break
            seed = int(rng.integers(2**31 - 1))
            (doc,) = self.suggest([len(self.points)], self.domain, self.trials, seed)
            point = point_from_vals(self.space, doc["misc"]["vals"])
            if self.space.key(point) not in keys:
                keys.add(self.space.key(point))
                points.append(point)
        return points + self._sample_unique(n - len(points), rng, keys)

    def tell(self, point, utility, fidelity=None):
        from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK

        tid = len(self.points)
        super().tell(point, utility, fidelity)
        vals = vals_from_point(self.space, point)
        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {label: [tid] if v else [] for label, v in vals.items()},
            "vals": vals,
        }
        if utility is None:
            result = {"status": STATUS_FAIL}
        else:
            result = {"status": STATUS_OK, "loss": -float(utility)}
        (doc,) = self.trials.new_trial_docs([tid], [None], [result], [misc])
        doc["state"] = JOB_STATE_DONE
        self.trials.insert_trial_docs([doc])
        self.trials.refresh()
