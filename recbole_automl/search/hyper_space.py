"""Hyper-parameter spaces, read from YAML or from RecBole's params-file format.

The YAML format, one entry per config key::

    learning_rate: {loguniform: [1.0e-4, 1.0e-1]}   # bounds of the value itself
    embedding_size: {choice: [32, 64, 128]}
    weight_decay: {uniform: [0.0, 1.0e-3]}
    dropout_prob: {quniform: [0.0, 0.5, 0.1]}        # low, high, step
    train_batch_size: 2048                           # a fixed value
    learner:                                         # conditional parameters:
      choice:                                        # `momentum` exists only with sgd
        adam: ~
        sgd: {momentum: {uniform: [0.0, 0.9]}}

RecBole's format (``recbole/properties/hyper.test``), one ``name type values`` per line,
is read as RecBole reads it, so its ``loguniform`` bounds are natural logarithms::

    learning_rate loguniform -8,0
    embedding_size choice [64,96,128]

A point is a flat dict of the active keys, e.g. ``{"learner": "sgd", "momentum": 0.3}``.
Sampling and TPE go through hyperopt: :mod:`recbole_automl.search.tpe` translates the
space.
"""

import ast
import dataclasses
import math
from typing import Any, Optional

import numpy as np
import yaml

from recbole_automl.search.errors import SearchError
from recbole_automl.search.space import Space

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "quniform")
# Keys that change how the dataset is loaded, filtered or split: trials must share one
# dataset and one validation split to be comparable, so these cannot be searched.
DATASET_KEYS = (
    "data_path", "dataset", "benchmark_filename", "load_col", "unload_col", "unused_col",
    "additional_feat_suffix", "rm_dup_inter", "val_interval", "filter_inter_by_user_or_item",
    "user_inter_num_interval", "item_inter_num_interval", "normalize_field", "normalize_all",
    "discretization", "threshold", "LABEL_FIELD", "USER_ID_FIELD", "ITEM_ID_FIELD",
    "RATING_FIELD", "TIME_FIELD", "eval_args", "seed", "reproducibility",
)  # fmt: skip


@dataclasses.dataclass
class Param:
    """One searched key: a distribution, its arguments, and for a conditional choice the
    parameters that exist under each option."""

    name: str
    kind: str
    args: Any  # the options of a choice; (low, high) or (low, high, q) otherwise
    conditions: Optional[list] = None  # for a conditional choice: one list of Params per option
    label: str = ""  # unique name in hyperopt's space (prefixed inside a condition)

    def number(self, value):
        """A drawn value as the point holds it: an int for integer quniform bounds."""
        if self.kind == "quniform":
            return _number(value, self.args)
        return float(value)

    def grid(self):
        if self.kind == "choice":
            return list(self.args)
        if self.kind == "quniform":
            low, high, q = self.args
            return [_number(v, self.args) for v in np.arange(low, high + q / 2, q)]
        raise SearchError(
            f"Grid search needs a finite set of values: '{self.name}' is {self.kind}; "
            f"give it as choice or quniform."
        )


class HyperSpace(Space):
    """A space of RecBole config values (see the module docstring for the file formats).

    Args:
        params (list of Param): the searched keys.
        fixed (dict): keys set to one value in every point.
    """

    def __init__(self, params, fixed=None):
        self.params = params
        self.fixed = dict(fixed or {})
        _label(self.params, "")

    @classmethod
    def from_file(cls, path):
        """Read a YAML space, or RecBole's params-file format if the text is not a mapping."""
        try:
            with open(path) as f:
                text = f.read()
        except OSError as error:
            raise SearchError(
                f"Config key 'params_file': cannot read {path!r} ({error})."
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            try:  # RecBole's params-file format need not be valid YAML
                return cls.from_recbole(text)
            except SearchError:
                first = str(error).splitlines()[0]
                raise SearchError(
                    f"Config key 'params_file': {path!r} is not valid YAML ({first}) nor "
                    "RecBole's params-file format ('name kind values' lines)."
                ) from None
        if isinstance(data, dict):
            return cls.from_dict(data)
        return cls.from_recbole(text)

    @classmethod
    def from_dict(cls, data):
        params, fixed = _parse_entries(data, "")
        if not params:
            raise SearchError(
                f"The search space has no searched key: give at least one key as "
                f"{{kind: values}} with kind one of {list(DISTRIBUTIONS)}."
            )
        return cls(params, fixed)

    @classmethod
    def from_recbole(cls, text):
        """RecBole's format: ``name type values`` per line; loguniform bounds are logs."""
        params = []
        for number, line in enumerate(text.splitlines(), 1):
            parts = line.strip().split(" ")
            if len(parts) < 3:
                continue
            name, kind, value = parts[0], parts[1], "".join(parts[2:])
            try:
                if kind == "choice":
                    args = ast.literal_eval(value)
                else:
                    args = [float(v) for v in value.split(",")]
            except (ValueError, SyntaxError):
                raise SearchError(
                    f"Params file line {number}: cannot read {value!r} for {name}."
                ) from None
            if kind == "loguniform" and len(args) == 2:
                args = [math.exp(args[0]), math.exp(args[1])]
            params.append(_parse_param(name, {kind: args}, ""))
        if not params:
            raise SearchError(
                "Config key 'params_file': the file has no searched key: give a YAML mapping "
                "{key: {choice|uniform|loguniform|quniform: ...}} or RecBole's 'name kind "
                "values' lines."
            )
        return cls(params)

    # A point ----------------------------------------------------------------------------

    def walk(self):
        """Every searched :class:`Param`, conditional ones too (breadth first)."""
        stack = list(self.params)
        while stack:
            param = stack.pop(0)
            yield param
            for sub in param.conditions or []:
                stack.extend(sub)

    def keys(self):
        """Every config key the space sets: searched (conditional ones too) and fixed."""
        return list(dict.fromkeys([*self.fixed, *(param.name for param in self.walk())]))

    def point(self, value_of):
        """The point whose keys take ``value_of(key)`` (a run's own settings: the point a
        search compares with), the conditional keys of the options so chosen included."""
        point = dict(self.fixed)
        stack = list(self.params)
        while stack:
            param = stack.pop(0)
            point[param.name] = value_of(param.name)
            if param.conditions and point[param.name] in param.args:
                stack.extend(param.conditions[param.args.index(point[param.name])])
        return point

    def sample(self, rng):
        from recbole_automl.search.tpe import sample  # hyperopt's sampler, imported on use

        return sample(self, rng)

    def encode(self, point):
        """A fixed-length vector (the input of ARSP's predictor): a choice one-hot, a number
        scaled to [0, 1] between its bounds (loguniform: in logs); a key a condition leaves
        inactive is all zeros."""
        vector = []
        _encode(self.params, point, vector, active=True)
        return np.asarray(vector, dtype=np.float32)

    def grid(self):
        """Every point of the space, in a fixed order (every key must be finite)."""
        for values in _grid(self.params):
            yield {**self.fixed, **values}

    def __len__(self):
        return sum(1 for _ in self.grid())


def _parse_entries(data, where):
    params, fixed = [], {}
    for name, spec in data.items():
        name = str(name)
        if name in DATASET_KEYS:
            raise SearchError(
                f"The search space sets '{name}', which changes the dataset or its split; "
                f"trials must share one validation split. Remove it from the space."
            )
        if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS:
            params.append(_parse_param(name, spec, where))
        elif isinstance(spec, dict) and any(k in DISTRIBUTIONS for k in spec):
            raise SearchError(
                f"Search space key '{where}{name}' must have exactly one of "
                f"{list(DISTRIBUTIONS)}, got {sorted(spec)}."
            )
        else:
            fixed[name] = spec
    return params, fixed


def _parse_param(name, spec, where):
    (kind, args), = spec.items()  # fmt: skip
    key = f"{where}{name}"
    if kind == "choice":
        if isinstance(args, dict):
            options, conditions = list(args), []
            for option, sub in args.items():
                sub_params, sub_fixed = _parse_entries(sub or {}, f"{key}={option}/")
                if sub_fixed:
                    raise SearchError(
                        f"Search space key '{key}', option {option!r}: conditional keys "
                        f"{sorted(sub_fixed)} need a distribution ({list(DISTRIBUTIONS)})."
                    )
                conditions.append(sub_params)
            return Param(name, kind, options, conditions)
        if not isinstance(args, list) or not args:
            raise SearchError(
                f"Search space key '{key}': choice expects a non-empty list of values "
                f"(or a mapping option -> conditional keys), got {args!r}."
            )
        return Param(name, kind, list(args))
    expected = 3 if kind == "quniform" else 2
    if (
        not isinstance(args, (list, tuple))
        or len(args) != expected
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args)
    ):
        shape = "[low, high, q]" if kind == "quniform" else "[low, high]"
        raise SearchError(f"Search space key '{key}': {kind} expects {shape}, got {args!r}.")
    if args[0] >= args[1] or (kind == "loguniform" and args[0] <= 0):
        raise SearchError(
            f"Search space key '{key}': {kind} needs low < high"
            + (" and low > 0" if kind == "loguniform" else "")
            + f", got {args!r}."
        )
    return Param(name, kind, tuple(args))


def _number(value, args):
    """quniform values are ints when every bound is an int (embedding sizes, layers)."""
    if all(isinstance(v, int) for v in args):
        return int(round(value))
    return round(float(value), 12)


def _label(params, prefix):
    for param in params:
        param.label = prefix + param.name
        for option, sub in zip(param.args, param.conditions or []):
            _label(sub, f"{param.label}={option}/")


def _grid(params):
    if not params:
        yield {}
        return
    first, rest = params[0], params[1:]
    for index, value in enumerate(first.grid()):
        sub = first.conditions[index] if first.conditions else []
        for sub_values in _grid(sub):
            for rest_values in _grid(rest):
                yield {first.name: value, **sub_values, **rest_values}


def _encode(params, point, vector, active):
    for p in params:
        value = point.get(p.name) if active else None
        if p.kind == "choice":  # a value outside the options (a default) is all zeros
            index = p.args.index(value) if active and value in p.args else -1
            vector.extend(1.0 if i == index else 0.0 for i in range(len(p.args)))
            for i, sub in enumerate(p.conditions or []):
                _encode(sub, point, vector, active=active and i == index)
        elif not active:
            vector.append(0.0)
        elif p.kind == "loguniform":
            low, high = math.log(p.args[0]), math.log(p.args[1])
            vector.append((math.log(value) - low) / (high - low))
        else:
            vector.append((value - p.args[0]) / (p.args[1] - p.args[0]))
