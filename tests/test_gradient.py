"""Exact gradients (adjoint) against finite differences, ngspice's `sens`, FP and EP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.spice import parse_spice

SENS = Path(__file__).parent / "data" / "ngspice" / "regression" / "sens"


@dataclass(frozen=True)
class Potential:
    """Cost equal to the output potential itself: dC/dg is the sensitivity dV/dg."""

    def value(self, v_out, y):
        return np.sum(v_out, axis=-1)

    def grad(self, v_out, y):
        return np.ones_like(v_out)


def _netlist_part(path: Path) -> str:
    """The circuit cards of an ngspice regression deck, without its .control block."""
    text = path.read_text()
    return text[: text.lower().index(".control")] + ".end\n"


def _gold(path: Path) -> dict[str, float]:
    lets = re.findall(r"^let\s+(\w+)\s*=\s*(-?)\s*([0-9.eE+-]+)", path.read_text(), flags=re.M)
    return {name: float(sign + value) for name, sign, value in lets}


def test_ngspice_sens_dc_2_bridge_sensitivities():
    path = SENS / "sens-dc-2.cir"
    net = parse_spice(_netlist_part(path), str(path))
    system = net.compile()
    result = pn.gradient(system, outputs=["4"], targets=[0.0], cost=Potential())
    gold = _gold(path)
    g = system["resistor"]["g"]
    for name, dv_dg, g_j in zip(result.edges, result.grad, g):
        dv_dr = -g_j**2 * dv_dg  # chain rule: g = 1/R
        assert dv_dr == pytest.approx(gold[name], rel=1e-9), name


def test_ngspice_sens_dc_1_resistor():
    net = pn.Netlist()
    net.isource("I1", "0", "1", dc=42e-3)
    net.resistor("R1", "1", "0", r=1e3)
    result = pn.gradient(net, outputs=["1"], targets=[0.0], cost=Potential())
    assert -(1e-3) ** 2 * result.grad[0] == pytest.approx(42e-3, rel=1e-12)  # dV/dR = I


def _random_network(seed: int, diodes: int = 0, n: int = 14) -> tuple[pn.Netlist, list[str]]:
    rng = np.random.default_rng(seed)
    graph = nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed)
    net = pn.Netlist()
    edges = list(graph.edges)
    net.resistors([f"R{k}" for k in range(len(edges))], [f"n{u}" for u, _ in edges], [f"n{v}" for _, v in edges],
                  g=10 ** rng.uniform(-4, -2, len(edges)))
    net.vsource("Vin1", "n0", "0", dc=1.0)
    net.vsource("Vin2", "n1", "0", dc=-0.7)
    net.resistor("Rg", f"n{n - 1}", "0", r=1e3)
    for k in range(diodes):
        node = f"n{2 + k}"
        net.diode(f"D{k}a", node, "0", is_=1e-12)
        net.diode(f"D{k}b", "0", node, is_=1e-12)
    return net, [f"n{n - 2}", f"n{n - 3}"]


@pytest.mark.parametrize("diodes", [0, 3])
def test_adjoint_equals_finite_differences(diodes):
    net, outputs = _random_network(1, diodes)
    kwargs = dict(outputs=outputs, targets=[0.1, -0.2], trainable="R")
    exact = pn.gradient(net, method="adjoint", **kwargs)
    fd = pn.gradient(net, method="fd", **kwargs)
    assert np.max(np.abs(exact.grad - fd.grad)) <= 1e-6 * np.max(np.abs(exact.grad))
    assert exact.edges == fd.edges and "Rg" in exact.edges


@pytest.mark.parametrize("diodes", [0, 3])
def test_fp_phasor_equals_adjoint(diodes):
    net, outputs = _random_network(2, diodes)
    kwargs = dict(outputs=outputs, targets=[0.1, -0.2])
    exact = pn.gradient(net, **kwargs).grad
    for beta in (1e-6, 1e-3, 1.0):
        fp = pn.gradient(net, method="fp", beta=beta, **kwargs).grad
        assert np.max(np.abs(fp - exact)) <= 1e-9 * np.max(np.abs(exact))


def test_fp_update_batch_is_mean_of_samples_and_multi_rhs():
    net, outputs = _random_network(3)
    rng = np.random.default_rng(0)
    inputs = {"v_sources": rng.uniform(-1, 1, (5, 2))}
    targets = rng.uniform(-0.3, 0.3, (5, 2))
    step = pn.fp_update(net, inputs=inputs, outputs=outputs, targets=targets, alpha=0.5, beta=1e-3)
    singles = [pn.fp_update(net, inputs={"v_sources": inputs["v_sources"][s]}, outputs=outputs,
                            targets=targets[s], alpha=0.5, beta=1e-3).delta_g for s in range(5)]
    np.testing.assert_allclose(step.delta_g, np.mean(singles, axis=0), rtol=1e-10, atol=1e-20)
    assert step.dv_a.shape == step.dv_b.shape == (5, len(step.delta_g))


def _relative_error(estimate, exact):
    return np.linalg.norm(estimate - exact) / np.linalg.norm(exact)


def test_ep_bias_orders_on_a_diode_network():
    net, outputs = _random_network(4, diodes=3)
    kwargs = dict(outputs=outputs, targets=[0.3, -0.3])
    exact = pn.gradient(net, **kwargs).grad
    betas = np.array([1e-4, 1e-5, 1e-6]) * 3
    two_phase = [_relative_error(pn.gradient(net, method="ep", beta=b, **kwargs).grad, exact) for b in betas]
    centered = [_relative_error(pn.gradient(net, method="ep-centered", beta=b, **kwargs).grad, exact)
                for b in betas[:2] * 30]
    slope = np.polyfit(np.log(betas), np.log(two_phase), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    assert centered[1] < centered[0] / 50  # O(β²): a decade of β gives two of error
    assert two_phase[-1] < 2e-3 and centered[-1] < 1e-3


def test_bad_gradient_requests_name_the_problem():
    net, outputs = _random_network(5)
    with pytest.raises(NetlistError, match="unknown gradient method 'magic'"):
        pn.gradient(net, outputs=outputs, targets=[0, 0], method="magic")
    with pytest.raises(NetlistError, match="expected 2 values per sample"):
        pn.gradient(net, outputs=outputs, targets=[0.0])
    with pytest.raises(NetlistError, match="unknown node 'nowhere'"):
        pn.gradient(net, outputs=["nowhere"], targets=[0.0])
    with pytest.raises(NetlistError, match="no trainable resistors"):
        pn.gradient(net, outputs=outputs, targets=[0, 0], trainable="Q")
    with pytest.raises(NetlistError, match="beta"):
        pn.fp_update(net, outputs=outputs, targets=[0, 0], beta=0.0)


def test_adjoint_uses_the_gmin_of_its_dc_solve():
    """A DC solve with a large diode gmin shunt: the adjoint's Jacobian must carry the same shunt."""
    net, outputs = _random_network(1, diodes=3)
    options = pn.NewtonOptions(gmin=1e-3)  # comparable to the network's conductances: a large effect
    kwargs = dict(outputs=outputs, targets=[0.1, -0.2], trainable="R", options=options)
    exact = pn.gradient(net, method="adjoint", **kwargs)
    fd = pn.gradient(net, method="fd", **kwargs)
    assert np.max(np.abs(exact.grad - fd.grad)) <= 1e-6 * np.max(np.abs(exact.grad))
    default = pn.gradient(net, method="adjoint", outputs=outputs, targets=[0.1, -0.2], trainable="R")
    assert np.max(np.abs(default.grad - exact.grad)) > 1e-3 * np.max(np.abs(exact.grad))  # gmin matters here
    fp = pn.gradient(net, method="fp", beta=1e-6, **kwargs)
    assert np.max(np.abs(fp.grad - exact.grad)) <= 1e-9 * np.max(np.abs(exact.grad))
