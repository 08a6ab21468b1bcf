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


def test_derived_systems_share_the_topology_caches_not_the_values(system):
    from physnet.solvers.nodal import nodal_operator

    first = pn.solve_dc(system)
    op = nodal_operator(system)
    factorizations = op.factorizer.factorizations
    trained = system.with_values("resistor", g=[3.0, 1.0])
    assert trained.topology is system.topology
    assert nodal_operator(trained) is op  # reduction, pattern and symbolic analysis reused
    reference = pn.solve_dc(pn.Netlist.compile(_rebuilt(trained)))  # a fresh topology, solved from scratch
    np.testing.assert_allclose(pn.solve_dc(trained).v, reference.v, rtol=0, atol=1e-15)
    assert op.factorizer.factorizations > factorizations  # the new values were factored, not the old factor reused
    np.testing.assert_array_equal(pn.solve_dc(system).v, first.v)  # the original still solves to its own answer


def test_compiling_again_gives_a_new_topology(system):
    net = pn.Netlist()
    net.resistor("R1", "a", "0", r=1.0)
    assert net.compile().topology is not net.compile().topology


def _rebuilt(system: pn.System) -> pn.Netlist:
    """The system written out element by element into a new Netlist."""
    net = pn.Netlist()
    names = system.node_names
    res, vs, d = system["resistor"], system["vsource"], system["diode"]
    net.resistors(list(res.names), [names[i] for i in res.a], [names[i] for i in res.b], g=res["g"])
    net.vsource(vs.names[0], names[vs.a[0]], names[vs.b[0]], dc=float(vs["dc"][0]))
    net.diode(d.names[0], names[d.a[0]], names[d.b[0]], is_=float(d["is_"][0]))
    return net
