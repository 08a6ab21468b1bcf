"""IBM power grid benchmark ibmpg1 (Nassif, ASP-DAC 2008) against its official solution.

30 635 nodes, 30 027 resistors, 14 308 voltage sources (14 208 of them 0 V
shorts that merge nodes) and 10 774 current loads. The official solution is
printed with 6 significant digits (rounding up to ~5e-6 V); the documented
tolerance is 1e-5 V on every node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import physnet as pn
from physnet.solvers.linear import available_backends

DATA = Path(__file__).parent / "data" / "ibmpg"


@pytest.fixture(scope="module")
def ibmpg1() -> pn.System:
    return pn.read_spice(DATA / "ibmpg1.spice").compile()


@pytest.fixture(scope="module")
def official() -> dict[str, float]:
    rows = (line.split() for line in (DATA / "ibmpg1.solution").read_text().splitlines() if line.strip())
    return {name.lower(): float(value) for name, value in rows}


@pytest.mark.parametrize("backend", available_backends())
def test_every_node_within_1e5_volt_of_the_official_solution(ibmpg1, official, backend):
    result = pn.solve_dc(ibmpg1, backend=backend)
    names = [n for n in ibmpg1.node_names if n != "0"]
    assert len(names) == 30635 and set(names) <= set(official)
    ours = np.array([result[n] for n in names])
    ref = np.array([official[n] for n in names])
    assert np.max(np.abs(ours - ref)) <= 1e-5
    # The documented worst nodes of each grid.
    assert result["n1_11583_14936"] == pytest.approx(0.988205, abs=1e-5)
    assert result["n2_13929_13842"] == pytest.approx(0.694646, abs=1e-5)


def test_kcl_and_source_currents_balance(ibmpg1):
    result = pn.solve_dc(ibmpg1)
    assert result.residual <= 1e-12 * np.abs(ibmpg1["isource"]["dc"]).sum()
    # Everything the loads draw is delivered by the 1.8 V supplies; the 0 V
    # shorts to the package only route it.
    supplies = ibmpg1["vsource"]["dc"] != 0
    delivered = -result.source_currents[: len(ibmpg1["vsource"])][supplies].sum()
    vdd_loads = ibmpg1["isource"]["dc"][ibmpg1["isource"].b == 0].sum()
    assert delivered == pytest.approx(vdd_loads, rel=1e-9)
