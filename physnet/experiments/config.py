"""Experiment configs: load (TOML), validate against the schema, resolve defaults, expand sweeps, name runs.

A config picks a task (which builds its own network: sizes, diodes and
initial conductances are task options), a learning rule, an optimizer, a
hardware model and the training settings::

    [task]                       # physnet.tasks.make_task(name, seed, **options)
    name = "xor"
    seed = 0
    hidden = 8
    [rule]                       # physnet.learning.rules.make_rule(name, **params); "chemical" for flow
                                 # tasks; "adjoint", "fp" or "coupled" for elastic ones (experiments.elastic)
    name = "fp"
    beta = 1e-3
    [optimizer]                  # physnet.learning.optimizers.make_optimizer(name, **params)
    name = "adam"
    lr = 2e-5
    [hardware]                   # physnet.hardware.Hardware.from_dict
    bounds = [1e-6, 1e-2]
    [train]                      # physnet.learning.train.train keywords
    epochs = 20
    batch_size = 4
    seed = 0
    [output]
    dir = "runs/xor"             # default output folder
    name = "xor-fp"              # readable prefix of the run ids
    [sweep]                      # dotted keys -> value lists (Cartesian grid)
    "rule.name" = ["fp", "ep"]
    "train.seed" = [0, 1, 2]
    "task.seed" = [0, 1, 2]
    zip = [["train.seed", "task.seed"]]   # these advance together

A section name in ``[sweep]`` with a list of tables sweeps whole sections,
e.g. rules that each take their own parameters (the results table gets their
dotted keys as columns)::

    rule = [{name = "fp", beta = 1e-5}, {name = "coupled", eta = 1e-3}, {name = "adjoint"}]

:func:`resolve` validates a config *before anything runs* and fills every
default (the task builder's, the rule's, the optimizer's, :func:`train`'s),
so the resolved config written next to a run says everything the run did.
:func:`expand` turns a sweep into resolved configs, one per grid point, each
validated again. :func:`run_id` names a resolved config deterministically.

Examples
--------
>>> config = resolve({"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}})
>>> config["rule"], config["train"]["epochs"], run_id(config)[:7]
({'name': 'fp', 'beta': 0.001, 'solver': 'phasor'}, 10, 'xor-fp-')
>>> resolve({"task": {"name": "xor"}, "rule": {"name": "fp", "bta": 0.1}, "optimizer": {"name": "sgd", "lr": 1.0}})
Traceback (most recent call last):
...
physnet.experiments.schema.ConfigError: unknown key rule.bta = 0.1 (did you mean 'rule.beta'? allowed: name, beta, \
solver)
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import inspect
import itertools
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from physnet.errors import PhysnetError
from physnet.experiments.elastic import ELASTIC_DEFAULTS, elastic_rule
from physnet.experiments.flow import CHEMICAL_DEFAULTS
from physnet.experiments.schema import (
    HARDWARE,
    OPTIMIZER_PARAMS,
    RULE_PARAMS,
    TASK_DOMAINS,
    TASK_OPTIONS,
    ConfigError,
    Field,
    domain_rules,
    schema,
)
from physnet.hardware import Hardware, Noise, Quantization, Sparsity, Variation
from physnet.learning.optimizers import OPTIMIZERS, make_optimizer
from physnet.learning.rules import RULES, EquilibriumPropagation, make_rule
from physnet.learning.train import train
from physnet.tasks import TASKS

__all__ = ["ConfigError", "Point", "load", "resolve", "expand", "run_id", "canonical", "get_path", "set_path",
           "SECTIONS"]

SECTIONS = ("task", "rule", "optimizer", "hardware", "train", "output", "sweep")
"""Top-level tables of a config."""

_REQUIRED = ("task", "rule", "optimizer")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_HARDWARE_PARTS = {"quantization": Quantization, "sparsity": Sparsity, "variation": Variation,
                   "read_noise": Noise, "write_noise": Noise}


# ------------------------------------------------------------------ loading
def load(path: str | Path) -> dict[str, Any]:
    """The raw config in the TOML file ``path`` (not yet validated).

    Examples
    --------
    >>> load("missing.toml")
    Traceback (most recent call last):
    ...
    physnet.experiments.schema.ConfigError: config file 'missing.toml' not found
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' not found") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


# --------------------------------------------------------------- validation
def _unknown(key: str, value: Any, allowed: Sequence[str], prefix: str) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
    return ConfigError(f"unknown key {prefix}{key} = {value!r} ({hint}allowed: {', '.join(allowed) or 'none'})")


def _check_table(spec: Mapping[str, Any], table: Any, prefix: str) -> dict[str, Any]:
    """``table`` checked against ``spec`` (fields and sub-tables), with values normalised."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{prefix.rstrip('.')} = {table!r} is invalid: must be a table")
    checked = {}
    for key, value in table.items():
        if key not in spec:
            raise _unknown(key, value, list(spec), prefix)
        rule = spec[key]
        checked[key] = rule.check(prefix + key, value) if isinstance(rule, Field) else _check_table(
            rule, value, f"{prefix}{key}.")
    for key, rule in spec.items():
        if isinstance(rule, Field) and rule.required and key not in checked:
            raise ConfigError(f"{prefix}{key} is missing: it is required ({rule.allowed()})")
    return checked


def _name(config: Mapping[str, Any], section: str, choices: Sequence[str]) -> str:
    table = config.get(section)
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] is missing or not a table: a config needs [task], [rule] and [optimizer]")
    if "name" not in table:
        raise ConfigError(f"{section}.name is missing: it is required (one of {', '.join(map(repr, choices))})")
    return Field("str", choices=tuple(choices)).check(f"{section}.name", table["name"])


def _defaults(factory: Callable, keys: Sequence[str]) -> dict[str, Any]:
    """Keyword defaults of ``factory`` for ``keys`` (``None`` defaults omitted, tuples as lists)."""
    params = inspect.signature(factory).parameters
    out = {}
    for key in keys:
        default = params[key].default
        if default is not None and default is not inspect.Parameter.empty:
            out[key] = list(default) if isinstance(default, tuple) else default
    return out


def _rule_defaults(task: str, name: str) -> dict[str, Any]:
    if TASK_DOMAINS[task] == "elastic":
        return dict(ELASTIC_DEFAULTS[name])
    if name == "chemical":
        return dict(CHEMICAL_DEFAULTS)
    return _defaults(EquilibriumPropagation if name == "ep-centered" else RULES[name], list(RULE_PARAMS[name]))


def _hardware_defaults(hardware: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for part, value in hardware.items():
        kind = _HARDWARE_PARTS.get(part)
        out[part] = value if kind is None else {**_defaults(kind, list(HARDWARE[part])), **value}
    return out


def _check_domain(task: str, rule: str) -> None:
    """The rule must train the task's kind of network (checked first: the rule's parameters depend on it)."""
    domain = TASK_DOMAINS[task]
    allowed = domain_rules(domain)
    if rule not in allowed:
        article = "an" if domain[0] in "aeiou" else "a"
        raise ConfigError(f"rule.name = {rule!r} does not train task {task!r} ({article} {domain} network): allowed "
                          f"rules are {', '.join(map(repr, allowed))}")


_ELECTRIC_TRAIN = ("trainable", "decorrelation", "alignment_every")
_TRAINED = {"flow": "pipe", "elastic": "spring"}


def _cross_check(config: Mapping[str, Any]) -> None:
    """Train settings that fit the task's domain; hardware, rule and optimizer that their own constructors accept."""
    task, rule = config["task"]["name"], config["rule"]["name"]
    domain = TASK_DOMAINS[task]
    for key in _ELECTRIC_TRAIN if domain != "electric" else ():
        value = config["train"].get(key)
        if value is not None and value != 0:
            raise ConfigError(f"train.{key} = {value!r} applies to electric tasks only: task {task!r} trains every "
                              f"{_TRAINED[domain]} of its {domain} network (remove the key)")
    params = {k: v for k, v in config["rule"].items() if k != "name"}
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("hardware", lambda: Hardware.from_dict(config.get("hardware", {}))),
        ("optimizer", lambda: make_optimizer(config["optimizer"]["name"],
                                             **{k: v for k, v in config["optimizer"].items() if k != "name"})),
    ]
    if domain == "electric":
        checks.append(("rule", lambda: make_rule(rule, **params)))
    elif domain == "elastic":
        checks.append(("rule", lambda: elastic_rule(rule, **params)))
    for section, build in checks:
        try:
            build()
        except PhysnetError as exc:
            raise ConfigError(f"[{section}]: {exc}") from None


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one run's config (no ``[sweep]``) and fill every default; returns a new nested dict.

    Raises
    ------
    ConfigError
        Unknown or mistyped key (with the closest allowed one), wrong type,
        out-of-range value, missing section, or a rule that cannot train
        the task; the message names the dotted key, the value and what is
        allowed.

    Examples
    --------
    >>> resolve({"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "adam", "lr": -1}})
    Traceback (most recent call last):
    ...
    physnet.experiments.schema.ConfigError: optimizer.lr = -1 is invalid: must be a number > 0
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config must be a table of sections, got {config!r}")
    for key, value in config.items():
        if key not in SECTIONS:
            raise _unknown(key, value, SECTIONS, "")
    if "sweep" in config:
        raise ConfigError("this config has a [sweep]: run it with sweep() / `physnet sweep` (or expand() it)")
    names = [_name(config, section, tuple(choices)) for section, choices in
             zip(_REQUIRED, (TASK_OPTIONS, RULE_PARAMS, OPTIMIZER_PARAMS))]
    _check_domain(names[0], names[1])
    spec = schema(*names)
    checked = {section: _check_table(spec[section], config.get(section, {}), f"{section}.")
               for section in SECTIONS[:-1]}
    _cross_check(checked)
    task, rule, optimizer = names
    return {
        "task": {"name": task, "seed": 0, **_defaults(TASKS[task], list(TASK_OPTIONS[task])), **checked["task"]},
        "rule": {"name": rule, **_rule_defaults(task, rule), **checked["rule"]},
        "optimizer": {"name": optimizer, **_defaults(OPTIMIZERS[optimizer], list(OPTIMIZER_PARAMS[optimizer])),
                      **checked["optimizer"]},
        "hardware": _hardware_defaults(checked["hardware"]),
        "train": {**_defaults(train, ["epochs", "seed", "shuffle", "alignment_every"]), **checked["train"]},
        "output": {"dir": "runs", "name": f"{task}-{rule}", **checked["output"]},
    }


# ------------------------------------------------------------------ run ids
def canonical(config: Mapping[str, Any]) -> str:
    """Canonical JSON of a config's experiment (every section but ``[output]``): sorted keys, no spaces.

    Examples
    --------
    >>> canonical({"rule": {"name": "fp", "beta": 0.001}, "output": {"dir": "x"}})
    '{"rule":{"beta":0.001,"name":"fp"}}'
    """
    body = {k: v for k, v in config.items() if k != "output"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)


def run_id(config: Mapping[str, Any]) -> str:
    """Deterministic id of a resolved config: ``{output.name}-{12 hex digits of SHA-256 of canonical()}``.

    The output folder does not enter the hash, so a run moved elsewhere
    keeps its id. Characters of the name other than letters, digits,
    ``_``, ``-`` and ``.`` become ``_`` (the id is a folder name).

    Examples
    --------
    >>> run_id({"rule": {"name": "fp"}, "output": {"name": "my run/1"}})
    'my_run_1-bac4d226d836'
    """
    digest = hashlib.sha256(canonical(config).encode()).hexdigest()[:12]
    return f"{_UNSAFE.sub('_', config['output']['name'])}-{digest}"


# ------------------------------------------------------------------- sweeps
def get_path(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key (``"hardware.quantization.levels"``); ``KeyError`` if absent.

    Examples
    --------
    >>> get_path({"rule": {"beta": 0.1}}, "rule.beta")
    0.1
    """
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set the value at a dotted key, creating intermediate tables.

    Examples
    --------
    >>> c = {}
    >>> set_path(c, "hardware.quantization.levels", 8); c
    {'hardware': {'quantization': {'levels': 8}}}
    """
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"sweep key {dotted!r}: {part} = {child!r} is a value, not a table")
        node = child
    node[last] = value


@dataclass(frozen=True)
class Point:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
    config : dict
        The resolved config.
    swept : dict
        Its value of every swept dotted key (the columns of the results table).

    Examples
    --------
    >>> base = {"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}}
    >>> point = expand({**base, "sweep": {"rule.beta": [1e-3, 1e-2]}})[1]
    >>> point.swept, point.config["rule"]["beta"], point.run_id.startswith("xor-fp-")
    ({'rule.beta': 0.01}, 0.01, True)
    """

    run_id: str
    config: dict[str, Any]
    swept: dict[str, Any]


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[sweep]`` entries as dotted keys: ``"rule.beta" = [..]`` and ``[sweep.rule] beta = [..]`` alike."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _tables(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(isinstance(v, Mapping) for v in values)


def _axes(sweep: Any) -> list[list[dict[str, Any]]]:
    """The sweep's axes: each a list of assignments ``{dotted key: value}``; a zip group is one axis."""
    if not isinstance(sweep, Mapping):
        raise ConfigError(f"sweep = {sweep!r} is invalid: must be a table of dotted keys and value lists")
    sweep = dict(sweep)
    groups = sweep.pop("zip", [])
    lists = _flatten(sweep)
    for key, values in lists.items():
        section, _, rest = key.partition(".")
        if section in SECTIONS[:-1] and not rest and _tables(values):  # alternatives for a whole section
            clash = [k for k in lists if k.startswith(f"{section}.")]
            if clash:
                raise ConfigError(f"sweep.{section} (whole [{section}] tables) and sweep.{clash[0]} both set "
                                  f"{section} keys: sweep one or the other")
            continue
        if section not in SECTIONS[:-1] or not rest:
            close = difflib.get_close_matches(section, SECTIONS[:-1], n=1)
            hint = f"did you mean 'sweep.{close[0]}.{rest}'? " if close and rest else ""
            raise ConfigError(f"unknown key sweep.{key} = {values!r} ({hint}swept keys are dotted config keys "
                              f"such as 'rule.beta', in sections {', '.join(SECTIONS[:-1])})")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key} = {values!r} is invalid: must be a non-empty list of values")
    if not isinstance(groups, list) or not all(
            isinstance(g, list) and g and all(isinstance(k, str) for k in g) for g in groups):
        raise ConfigError(f"sweep.zip = {groups!r} is invalid: must be a list of lists of swept keys, "
                          'e.g. [["train.seed", "task.seed"]]')
    zipped: set[str] = set()
    axes = []
    for group in groups:
        for key in group:
            if key not in lists:
                raise ConfigError(f"sweep.zip: {key!r} is not a swept key (swept: {', '.join(lists)})")
            if key in zipped:
                raise ConfigError(f"sweep.zip: {key!r} appears in more than one zip group")
            zipped.add(key)
        lengths = {key: len(lists[key]) for key in group}
        if len(set(lengths.values())) > 1:
            raise ConfigError(f"sweep.zip: zipped lists must have equal lengths, got {lengths}")
        axes.append([dict(zip(group, values)) for values in zip(*(lists[key] for key in group))])
    axes += [[{key: v} for v in values] for key, values in lists.items() if key not in zipped]
    return axes


def expand(config: Mapping[str, Any]) -> list[Point]:
    """Every run of a config: the Cartesian grid of its ``[sweep]`` (one run without one), resolved.

    Each grid point is validated again; an error names the point. Points
    that resolve to the same config (the same run id) appear once.

    Examples
    --------
    >>> base = {"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0}}
    >>> points = expand({**base, "sweep": {"rule.name": ["fp", "ep"], "train.seed": [0, 1, 2]}})
    >>> len(points), points[1].swept
    (6, {'rule.name': 'fp', 'train.seed': 1})
    >>> expand({**base, "sweep": {"rule.bta": [0.1]}})
    Traceback (most recent call last):
    ...
    physnet.experiments.schema.ConfigError: sweep point rule.bta=0.1: unknown key rule.bta = 0.1 (did you mean \
'rule.beta'? allowed: name, beta, solver)
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config must be a table of sections, got {config!r}")
    base = {k: v for k, v in config.items() if k != "sweep"}
    axes = _axes(config.get("sweep", {}))
    points: dict[str, Point] = {}
    for combination in itertools.product(*axes):
        swept = {k: v for assignment in combination for k, v in assignment.items()}
        raw = copy.deepcopy(base)
        for key, value in swept.items():
            set_path(raw, key, value)
        try:
            resolved = resolve(raw)
        except ConfigError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in swept.items())
            raise ConfigError(f"sweep point {where}: {exc}" if swept else str(exc)) from None
        rid = run_id(resolved)
        points.setdefault(rid, Point(rid, resolved, _flatten(swept)))
    return list(points.values())
