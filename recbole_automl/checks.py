"""The rules config keys obey (``properties/**/*.checks.yaml``), and their checks."""

import os

import yaml

from recbole_automl.utils import ConfigError

PROPERTIES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "properties")


def load_checks(model, search=None):
    """The rules of every key ``model`` reads (``properties/**/*.checks.yaml``): the
    overall ones, the model's own (next to its YAML), then those of ``search: hyper``."""
    files = [os.path.join(PROPERTIES_DIR, "overall.checks.yaml"),
             os.path.join(PROPERTIES_DIR, "model", f"{model}.checks.yaml")]  # fmt: skip
    if search in ("hyper", "models"):
        files.append(os.path.join(PROPERTIES_DIR, f"{search}.checks.yaml"))
    rules = {}
    for path in files:
        if os.path.isfile(path):
            with open(path) as f:
                rules.update(yaml.safe_load(f) or {})
    return rules


def check_key(key, value, rule, config):
    """Raise ``ConfigError`` if ``value`` breaks ``rule`` (see overall.checks.yaml)."""
    unless = rule.get("unless", {})
    if any(config.get(k) == v for k, v in unless.items()):
        return
    none, hint = rule.get("none"), rule.get("hint", "")
    if value is None and none:
        return
    if "choice" in rule:
        choices = rule["choice"]
        given = value.lower() if rule.get("casefold") and isinstance(value, str) else value
        if given not in choices:
            allowed = [None, *choices] if none else choices
            raise ConfigError(f"Config key '{key}' must be one of {allowed}{hint}, got {value!r}.")
    if "one_of_key" in rule:
        choices = config.get(rule["one_of_key"]) or []
        if value not in choices:
            raise ConfigError(f"Config key '{key}' must be one of {choices}{hint}, got {value!r}.")
    if "lowest" in rule:
        lowest = rule["lowest"]
        bound = "> 0" if 0 < lowest < 1 else f">= {lowest}"
        allowed = f"a number {bound}" + (f" or ~ ({none})" if none else "")
        if not _is_number(value) or value < lowest:
            raise ConfigError(f"Config key '{key}' must be {allowed}{hint}, got {value!r}.")
    if "highest" in rule and _is_number(value) and value > rule["highest"]:
        raise ConfigError(
            f"Config key '{key}' must be at most {rule['highest']}{hint}, got {value!r}."
        )
    if "keys" in rule and value is not None:
        unknown = sorted(set(value) - set(rule["keys"])) if isinstance(value, dict) else value
        if unknown:
            raise ConfigError(
                f"Config key '{key}' may only set {rule['keys']}{hint}, got {unknown!r}."
            )
    if "items_choice" in rule:
        choices = rule["items_choice"]
        if not isinstance(value, list) or any(v not in choices for v in value):
            raise ConfigError(
                f"Config key '{key}' must be a list of values from {choices}{hint}, "
                f"got {value!r}."
            )
    if "items_lowest" in rule:
        lowest = rule["items_lowest"]
        ints = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= lowest for v in value
        )
        if not ints:
            raise ConfigError(
                f"Config key '{key}' must be a list of ints >= {lowest}{hint}, got {value!r}."
            )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_space(space, rules, config, where):
    """Every value a hyper-parameter space (``space.walk()``: its ``Param``s) can take obeys
    the rule of its key: each option of a choice, both bounds of a range. Raises
    ``ConfigError`` naming ``where`` (the config key that holds the space)."""
    for param in space.walk():
        rule = rules.get(param.name)
        values = param.args if param.kind == "choice" else param.args[:2]
        for value in values if rule else ():
            try:
                check_key(param.name, value, rule, config)
            except ConfigError as error:
                raise ConfigError(f"Config key '{where}': {error}") from None
