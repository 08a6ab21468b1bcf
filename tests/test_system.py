"""System.with_values: new parameter values on a frozen topology."""

from __future__ import annotations

import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError


@pytest.fixture
def system():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", dc=2.0)
    net.resistors(["R1", "R2"], ["a", "b"], ["b", "0"], r=[1.0, 1.0])
    net.diode("D1", "b", "0", is_=1e-14)
    return net.compile()


def test_new_values_change_the_solution_and_nothing_else(system):
    trained = system.with_values("resistor", g=[3.0, 1.0]).with_values("vsource", dc=1.0)
    assert trained["resistor"]["g"].tolist() == [3.0, 1.0]
    assert system["resistor"]["g"].tolist() == [1.0, 1.0]  # the original is untouched
    assert trained["diode"] is system["diode"]  # other tables are shared
    assert trained.node_names == system.node_names
    op, reference = pn.solve_dc(trained), pn.solve_dc(system, g=[3.0, 1.0], v_sources=[1.0])
    np.testing.assert_array_equal(op.v, reference.v)
    assert not trained["resistor"]["g"].flags.writeable


@pytest.mark.parametrize("kind, values, message", [
    ("transistor", {"g": 1.0}, "unknown element kind 'transistor'"),
    ("capacitor", {"c": 1.0}, "no capacitor elements"),
    ("resistor", {"r": [1.0, 1.0]}, "unknown parameter 'r' (allowed: g)"),
    ("resistor", {"g": [1.0, np.nan]}, "resistor 'R2': g = nan S is invalid"),
    ("resistor", {"g": [1.0, 2.0, 3.0]}, "is not a number (or one per element)"),
    ("diode", {"is_": 0.0}, "diode 'D1': is_ = 0.0"),
])
def test_bad_values_name_the_culprit(system, kind, values, message):
    with pytest.raises(NetlistError) as info:
        system.with_values(kind, **values)
    assert message in str(info.value)
