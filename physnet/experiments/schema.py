"""The experiment config schema: every allowed key with its type, range or choices.

A config is a nested table (TOML). Sections whose keys depend on a chosen
name — the task's options, the rule's and the optimizer's parameters — have
one table of fields per name; :func:`schema` assembles the full schema for
the names a config picks. Values are checked by :meth:`Field.check`, whose
errors name the dotted key, the value and what is allowed.

Examples
--------
>>> Field("int", low=1).check("train.epochs", 3)
3
>>> Field("float", low=0.0, low_open=True).check("rule.beta", -1.0)
Traceback (most recent call last):
...
physnet.experiments.schema.ConfigError: rule.beta = -1.0 is invalid: must be a number > 0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from physnet.errors import PhysnetError
from physnet.hardware import PENALTIES
from physnet.learning.elastic import ELASTIC_SOLVERS
from physnet.learning.rules import CODES

__all__ = ["ConfigError", "Field", "TASK_OPTIONS", "TASK_DOMAINS", "RULE_PARAMS", "ELASTIC_RULE_PARAMS",
           "OPTIMIZER_PARAMS", "HARDWARE", "TRAIN", "OUTPUT", "FLOW_RULES", "ELASTIC_RULES", "domain_rules",
           "rule_params", "schema"]

Kind = Literal["int", "float", "bool", "str", "list"]


class ConfigError(PhysnetError, ValueError):
    """An experiment config is invalid; the message names the dotted key, the value and what is allowed.

    Examples
    --------
    >>> from physnet.experiments.config import resolve
    >>> resolve({"task": {"name": "xor"}, "rule": {"name": "fp"}, "optimizer": {"name": "sgd", "lr": 1.0},
    ...          "train": {"epoch": 3}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    physnet.experiments.schema.ConfigError: unknown key train.epoch = 3 (did you mean 'train.epochs'? allowed: epochs, ...)
    >>> issubclass(ConfigError, ValueError)
    True
    """


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Field:
    """One config value: its kind and what it may be.

    Parameters
    ----------
    kind : {"int", "float", "bool", "str", "list"}
        TOML type. An integer is accepted where a float is expected.
    item : {"int", "float"}, optional
        Kind of the entries of a list.
    low, high : float, optional
        Bounds of a number, or of every entry of a list.
    lows : tuple of float, optional
        Lower bound of each entry of a list of fixed ``length``, entry by
        entry (instead of ``low``).
    low_open, high_open : bool, optional
        Whether the bounds themselves are excluded.
    choices : tuple of str, optional
        The allowed strings.
    length : int, optional
        Exact length of a list.
    min_length : int, optional
        Least length of a list.
    increasing : bool, optional
        The entries of a list must strictly increase (ranges ``[low, high]``).
    required : bool, optional
        The key must be present (no default).

    Examples
    --------
    >>> Field("list", item="float", length=2, low=0.0, low_open=True, increasing=True).allowed()
    'a list of 2 numbers > 0, increasing'
    """

    kind: Kind
    item: Literal["int", "float"] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    lows: tuple[float, ...] = ()
    choices: tuple[str, ...] = ()
    length: int | None = None
    min_length: int = 0
    increasing: bool = False
    required: bool = False

    def _range(self) -> str:
        parts = []
        if self.lows:
            parts.append(f">= ({', '.join(f'{low:g}' for low in self.lows)}) entry by entry")
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)

    def allowed(self) -> str:
        """What the value may be, in words."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}
        if self.kind != "list":
            bounds = self._range()
            return noun[self.kind] + (f" {bounds}" if bounds else "")
        count = f"{self.length} " if self.length is not None else (
            f"at least {self.min_length} " if self.min_length else "")
        entries = {"int": "integers", "float": "numbers"}[self.item or "float"]
        bounds = self._range()
        text = f"a list of {count}{entries}" + (f" {bounds}" if bounds else "")
        return text + (", increasing" if self.increasing else "")

    def _scalar_ok(self, kind: str, value: Any) -> bool:
        if kind == "bool":
            return isinstance(value, bool)
        if kind == "str":
            return isinstance(value, str) and (not self.choices or value in self.choices)
        if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return False
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def _list_ok(self, value: Any) -> bool:
        if not isinstance(value, list) or len(value) < self.min_length:
            return False
        if self.length is not None and len(value) != self.length:
            return False
        if not all(self._scalar_ok(self.item or "float", v) for v in value):
            return False
        if any(v < low for v, low in zip(value, self.lows)):
            return False
        return not self.increasing or all(a < b for a, b in zip(value, value[1:]))

    def check(self, key: str, value: Any) -> Any:
        """``value`` if allowed (integers become floats for float fields), else a :class:`ConfigError`.

        Examples
        --------
        >>> Field("float").check("optimizer.lr", 1)
        1.0
        >>> Field("str", choices=("sgd", "adam")).check("optimizer.name", "adm")
        Traceback (most recent call last):
        ...
        physnet.experiments.schema.ConfigError: optimizer.name = 'adm' is invalid: must be one of 'sgd', 'adam'
        """
        ok = self._list_ok(value) if self.kind == "list" else self._scalar_ok(self.kind, value)
        if not ok:
            raise ConfigError(f"{key} = {value!r} is invalid: must be {self.allowed()}")
        if self.kind == "float":
            return float(value)
        if self.kind == "list" and self.item == "float":
            return [float(v) for v in value]
        return value


def _positive() -> Field:
    return Field("float", low=0.0, low_open=True)


def _count(least: int = 1) -> Field:
    return Field("int", low=least)


def _unit() -> Field:
    return Field("float", low=0.0, high=1.0, high_open=True)


def _range(positive: bool) -> Field:
    return Field("list", item="float", length=2, low=0.0 if positive else None, low_open=positive, increasing=True)


_SIZES = Field("list", item="int", min_length=2, low=1)
_HIDDEN = Field("list", item="int", low=1)
_TEACHER = {"sizes": _SIZES, "n_train": _count(), "n_test": _count()}
_CLASSES = {"hidden": _HIDDEN, "test_size": Field("float", low=0.0, high=1.0, low_open=True, high_open=True),
            "target_low": Field("float"), "target_high": Field("float")}

TASK_OPTIONS: Mapping[str, Mapping[str, Field]] = {
    "linear_regression": {**_TEACHER, "g_range": _range(True), "v_range": _range(False)},
    "diode_regression": {**_TEACHER, "sizes": Field("list", item="int", min_length=3, low=1),
                         "g_range": _range(True), "v_range": _range(False)},
    "xor": {"hidden": _count(), "g_range": _range(True), "v_range": _range(False),
            "target_low": Field("float"), "target_high": Field("float")},
    "iris": {**_CLASSES, "g_range": _range(True), "v_range": _range(False)},
    "digits": {**_CLASSES, "g_range": _range(True), "v_range": _range(False)},
    "flow_regression": {**_TEACHER, "k_range": _range(True), "p_range": _range(False)},
    "flow_iris": {**_CLASSES, "k_range": _range(True), "p_range": _range(False)},
    "allostery": {"size": Field("list", item="int", length=2, lows=(3, 4)), "k_range": _range(True),
                  "ratio": Field("float"), "force": _positive()},
}
"""Builder options of the tasks experiments run (keyword arguments of :func:`physnet.tasks.make_task`)."""

TASK_DOMAINS: Mapping[str, str] = {
    "linear_regression": "electric", "diode_regression": "electric", "xor": "electric", "iris": "electric",
    "digits": "electric", "flow_regression": "flow", "flow_iris": "flow", "allostery": "elastic",
}
"""The physical domain of each task's network (its :attr:`physnet.tasks.Task.domain`), which picks its rules."""

FLOW_RULES = ("chemical",)
"""Rules of flow tasks (:mod:`physnet.experiments.flow`)."""

ELASTIC_RULES = ("adjoint", "fp", "coupled")
"""Rules of elastic tasks (:mod:`physnet.experiments.elastic`); their parameters are :data:`ELASTIC_RULE_PARAMS`."""

_PERTURBATION = {"sigma": _positive(), "samples": _count(), "centered": Field("bool")}
RULE_PARAMS: Mapping[str, Mapping[str, Field]] = {
    "adjoint": {},
    "fp": {"beta": _positive(), "solver": Field("str", choices=("phasor", "hb", "transient"))},
    "ep": {"beta": _positive(), "centered": Field("bool")},
    "ep-centered": {"beta": _positive()},
    "coupled": {"eta": _positive(), "tol": _positive(), "max_iter": _count()},
    "node_perturbation": _PERTURBATION,
    "weight_perturbation": _PERTURBATION,
    "mgd": {"amplitude": _positive(), "code": Field("str", choices=CODES), "tau_p": _count(),
            "tau_theta": _count(), "cost_noise": Field("float", low=0.0)},
    "chemical": {"beta": _positive(), "kappa": _positive(), "advection": Field("bool")},
}
"""Parameters of each learning rule of electric and flow tasks (fields of the rule classes in
:mod:`physnet.learning.rules`; the chemical rule's keywords)."""

ELASTIC_RULE_PARAMS: Mapping[str, Mapping[str, Field]] = {
    "adjoint": {},
    "fp": {"beta": _positive(), "omega_a": Field("float", low=0.0), "omega_b": Field("float", low=0.0),
           "solver": Field("str", choices=ELASTIC_SOLVERS)},
    "coupled": {"eta": Field("float", low=0.0, low_open=True, high=1.0)},
}
"""Parameters of each rule of elastic tasks (keywords of :func:`physnet.experiments.elastic.elastic_rule`)."""


def domain_rules(domain: str) -> tuple[str, ...]:
    """The rules that train networks of ``domain`` ("electric", "flow" or "elastic").

    Examples
    --------
    >>> domain_rules("elastic"), domain_rules("flow")
    (('adjoint', 'fp', 'coupled'), ('chemical',))
    >>> "chemical" in domain_rules("electric")
    False
    """
    if domain == "flow":
        return FLOW_RULES
    if domain == "elastic":
        return ELASTIC_RULES
    return tuple(r for r in RULE_PARAMS if r not in FLOW_RULES)


def rule_params(task: str, rule: str) -> Mapping[str, Field]:
    """The parameters of ``rule`` when it trains ``task`` (a rule the task's domain allows).

    Examples
    --------
    >>> sorted(rule_params("allostery", "fp")), sorted(rule_params("xor", "fp"))
    (['beta', 'omega_a', 'omega_b', 'solver'], ['beta', 'solver'])
    """
    return ELASTIC_RULE_PARAMS[rule] if TASK_DOMAINS[task] == "elastic" else RULE_PARAMS[rule]

_LR = Field("float", low=0.0, low_open=True, required=True)
OPTIMIZER_PARAMS: Mapping[str, Mapping[str, Field]] = {
    "sgd": {"lr": _LR},
    "momentum": {"lr": _LR, "momentum": _unit(), "nesterov": Field("bool")},
    "adam": {"lr": _LR, "beta1": _unit(), "beta2": _unit(), "eps": _positive()},
}
"""Parameters of each optimizer (:mod:`physnet.learning.optimizers`)."""

_NOISE = {"relative": Field("float", low=0.0), "absolute": Field("float", low=0.0)}
HARDWARE: Mapping[str, Any] = {
    "bounds": Field("list", item="float", length=2, low=0.0, increasing=True),
    "quantization": {"levels": Field("int", low=2, required=True), "blend": _unit()},
    "sparsity": {"penalty": Field("str", choices=PENALTIES), "lam": Field("float", low=0.0), "beta": _positive(),
                 "lr": Field("float", low=0.0), "a": _positive()},
    "variation": {"sigma": Field("float", low=0.0, required=True), "seed": _count(0)},
    "read_noise": _NOISE,
    "write_noise": _NOISE,
}
"""The ``[hardware]`` tables (:meth:`physnet.hardware.Hardware.from_dict`)."""

TRAIN: Mapping[str, Field] = {
    "epochs": _count(0), "batch_size": _count(), "seed": _count(0), "shuffle": Field("bool"),
    "alignment_every": _count(0), "trainable": Field("str"), "decorrelation": _positive(),
}
"""The ``[train]`` table (keywords of :func:`physnet.learning.train.train`; ``decorrelation`` is the rate)."""

OUTPUT: Mapping[str, Field] = {"dir": Field("str"), "name": Field("str")}
"""The ``[output]`` table: default output folder and the readable prefix of run ids."""


def schema(task: str, rule: str, optimizer: str) -> dict[str, Any]:
    """The full schema of a config that picks these task, rule and optimizer names (a rule of the task's domain).

    Examples
    --------
    >>> sorted(schema("xor", "fp", "adam")["rule"])
    ['beta', 'name', 'solver']
    """
    return {
        "task": {"name": Field("str", choices=tuple(TASK_OPTIONS), required=True), "seed": _count(0),
                 **TASK_OPTIONS[task]},
        "rule": {"name": Field("str", choices=domain_rules(TASK_DOMAINS[task]), required=True),
                 **rule_params(task, rule)},
        "optimizer": {"name": Field("str", choices=tuple(OPTIMIZER_PARAMS), required=True),
                      **OPTIMIZER_PARAMS[optimizer]},
        "hardware": dict(HARDWARE),
        "train": dict(TRAIN),
        "output": dict(OUTPUT),
    }
