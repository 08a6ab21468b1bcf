"""The element table: kinds, SPICE letters, parameters and validity rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

__all__ = ["Param", "ElementSpec", "ElementTable", "ELEMENTS", "SOURCE_PARAMS", "WAVE_DC", "WAVE_SIN", "WAVE_PULSE"]


@dataclass(frozen=True)
class Param:
    """One parameter of an element kind.

    Parameters
    ----------
    name : str
        Key of the parameter array in :class:`ElementTable`.
    unit : str
        SI unit, for messages and docs.
    default : float or None
        Value when the user gives none; ``None`` means required, NaN means
        "computed at compile time" (a spring's rest length).
    rule : {"positive", "nonnegative", "finite"}
        What values are valid (NaN and infinities never are).

    Examples
    --------
    >>> Param("g", "S")
    Param(name='g', unit='S', default=None, rule='positive')
    >>> ELEMENTS["diode"].param("rs")
    Param(name='rs', unit='ohm', default=0.0, rule='nonnegative')
    """

    name: str
    unit: str
    default: float | None = None
    rule: str = "positive"


@dataclass(frozen=True)
class ElementSpec:
    """Static description of an element kind.

    Parameters
    ----------
    kind : str
        Family name, e.g. ``"resistor"``.
    letter : str or None
        SPICE first letter (``None`` when SPICE has no such element).
    params : tuple of Param
        Parameters in storage order.
    domain : {"electric", "elastic", "flow"}
        Physical domain the element lives in.
    conductive : bool
        Whether the element conducts at DC (joins its nodes for the
        floating-node check and the sparsity pattern).

    Examples
    --------
    >>> spec = ELEMENTS["capacitor"]
    >>> spec.letter, spec.domain, spec.conductive, [p.name for p in spec.params]
    ('C', 'electric', False, ['c'])
    """

    kind: str
    letter: str | None
    params: tuple[Param, ...]
    domain: str
    conductive: bool

    def param(self, name: str) -> Param:
        """Return the parameter called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


SOURCE_PARAMS = (
    Param("dc", "V or A", 0.0, "finite"),
    Param("wave", "", 0.0, "nonnegative"),
    Param("ac_mag", "V or A", 0.0, "finite"),
    Param("ac_phase", "deg", 0.0, "finite"),
    Param("sin_offset", "V or A", 0.0, "finite"),
    Param("sin_amplitude", "V or A", 0.0, "finite"),
    Param("sin_freq", "Hz", 0.0, "nonnegative"),
    Param("sin_delay", "s", 0.0, "nonnegative"),
    Param("sin_damping", "1/s", 0.0, "finite"),
    Param("sin_phase", "deg", 0.0, "finite"),
    Param("pulse_v1", "V or A", 0.0, "finite"),
    Param("pulse_v2", "V or A", 0.0, "finite"),
    Param("pulse_delay", "s", 0.0, "nonnegative"),
    Param("pulse_rise", "s", 0.0, "nonnegative"),
    Param("pulse_fall", "s", 0.0, "nonnegative"),
    Param("pulse_width", "s", 0.0, "nonnegative"),
    Param("pulse_period", "s", 0.0, "nonnegative"),
)
"""Independent-source parameters: DC value, AC phasor and a transient waveform.

``wave`` selects the waveform: 0 constant (the DC value), 1 SPICE
``SIN(offset amplitude freq delay damping phase)``, 2 SPICE
``PULSE(v1 v2 delay rise fall width period)``. As in SPICE, a zero rise, fall,
width or period means "use the default" (the print step, or the stop time).
"""

WAVE_DC, WAVE_SIN, WAVE_PULSE = 0, 1, 2

ELEMENTS: Mapping[str, ElementSpec] = MappingProxyType(
    {
        "resistor": ElementSpec("resistor", "R", (Param("g", "S"),), "electric", True),
        "diode": ElementSpec(
            "diode",
            "D",
            (
                Param("is_", "A", 1e-14),
                Param("n", "", 1.0),
                Param("rs", "ohm", 0.0, "nonnegative"),
            ),
            "electric",
            True,
        ),
        "vsource": ElementSpec("vsource", "V", SOURCE_PARAMS, "electric", False),
        "isource": ElementSpec("isource", "I", SOURCE_PARAMS, "electric", False),
        "capacitor": ElementSpec("capacitor", "C", (Param("c", "F"),), "electric", False),
        "inductor": ElementSpec("inductor", "L", (Param("l", "H"),), "electric", False),
        "spring": ElementSpec(
            "spring", None, (Param("k", "N/m"), Param("rest", "m", math.nan, "nonnegative")), "elastic", False
        ),
        "pipe": ElementSpec("pipe", None, (Param("k", "m^3/(Pa s)"),), "flow", True),
    }
)
"""Every element kind physnet knows, keyed by kind."""


def _frozen(array: NDArray) -> NDArray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ElementTable:
    """All elements of one kind in a compiled system, as arrays.

    Parameters
    ----------
    spec : ElementSpec
        The kind.
    names : tuple of str
        Element names, in table order.
    a, b : ndarray of int64
        Node indices of the two terminals (``a`` is SPICE's ``+`` node).
    values : mapping of str to ndarray of float64
        One array per parameter of ``spec``.

    Examples
    --------
    >>> import numpy as np
    >>> t = ElementTable.build(ELEMENTS["resistor"], ("R1",), [1], [0], {"g": [1e-3]})
    >>> len(t), t["g"].tolist()
    (1, [0.001])
    """

    spec: ElementSpec
    names: tuple[str, ...]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    values: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    @classmethod
    def build(cls, spec: ElementSpec, names, a, b, values) -> "ElementTable":
        """Make a read-only table from sequences."""
        vals = {p.name: _frozen(np.asarray(values[p.name], dtype=np.float64)) for p in spec.params}
        return cls(
            spec,
            tuple(names),
            _frozen(np.asarray(a, dtype=np.int64)),
            _frozen(np.asarray(b, dtype=np.int64)),
            MappingProxyType(vals),
        )

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        return self.values[name]

    def index(self, name: str) -> int:
        """Position of the element called ``name`` in this table."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no {self.spec.kind} named {name!r}") from None
