"""A small TOML writer for configs: nested tables of strings, booleans, numbers and lists of them.

:mod:`tomllib` reads TOML but does not write it; resolved configs are plain
nested dicts of scalars and lists, which is all this writer handles.
``tomllib.loads(dumps(d)) == d`` for every such dict (tested).

Examples
--------
>>> print(dumps({"task": {"name": "xor", "seed": 0}, "hardware": {"bounds": [1e-06, 0.01],
...                                                              "quantization": {"levels": 8}}}))
[task]
name = "xor"
seed = 0
<BLANKLINE>
[hardware]
bounds = [1e-06, 0.01]
<BLANKLINE>
[hardware.quantization]
levels = 8
<BLANKLINE>
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "value"]

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key)


def value(v: Any) -> str:
    """One TOML value: string, boolean, integer, float (``inf``/``nan`` included) or list of them.

    Examples
    --------
    >>> value(["a", True, 3, 0.5, float("inf")])
    '["a", true, 3, 0.5, inf]'
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("-inf" if v < 0 else "inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} ({type(v).__name__}) as a TOML value")


def _table(path: tuple[str, ...], table: Mapping[str, Any]) -> list[str]:
    scalars = [f"{_key(k)} = {value(v)}" for k, v in table.items() if not isinstance(v, Mapping)]
    lines = ([f"[{'.'.join(_key(p) for p in path)}]"] if path else []) + scalars
    blocks = [lines + [""]] if (scalars or path) else []
    for k, v in table.items():
        if isinstance(v, Mapping):
            blocks.append(_table((*path, k), v))
    return [line for block in blocks for line in block]


def dumps(config: Mapping[str, Any]) -> str:
    """``config`` (nested mappings of scalars and lists) as TOML text; tables in insertion order.

    Examples
    --------
    >>> import tomllib
    >>> config = {"rule": {"name": "fp", "beta": 1e-3}, "sweep": {"rule.beta": [1e-3, 1e-2]}}
    >>> print(dumps(config))
    [rule]
    name = "fp"
    beta = 0.001
    <BLANKLINE>
    [sweep]
    "rule.beta" = [0.001, 0.01]
    <BLANKLINE>
    >>> tomllib.loads(dumps(config)) == config
    True
    """
    return "\n".join(_table((), config))
