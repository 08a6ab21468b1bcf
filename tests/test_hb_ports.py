"""Harmonic balance on diode ports: the same solution as Newton on every node, by a cheaper road.

The full formulation (Newton on all nodes' harmonics, refactoring per step)
is the reference: it is tested against independent solutions in
tests/test_harmonic_balance.py. Here the port formulation must reproduce it
to ~1e-10 on networks that exercise every branch of the linear part: one
real matrix (resistive), an RC projection, per-harmonic factorizations
(inductors), voltage sources, series resistance, injections.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import physnet as pn
from physnet.errors import ConvergenceError
from physnet.generators import square_lattice
from physnet.solvers.harmonic_balance import HBOptions, _basis, solve_hb
from physnet.solvers.hb_ports import conversion_matrices, harmonic_ports, project
from physnet.solvers.nodal import edge_weights, nodal_operator

F0 = 1e3
FULL, PORTS = HBOptions(formulation="full"), HBOptions(formulation="ports")


def resistive_two_tone():
    """Grid with four diodes (one with rs, one between two inner nodes), DC + tones at 2 f0 and 5 f0."""
    net = square_lattice(4, 4, g=(5e-4, 2e-3), seed=1, ground="n0_0")
    net.vsource("V1", "n3_3", "0", sin=(0.8, 0.4, 2 * F0))
    net.isource("I1", "0", "n1_2", sin=(1e-4, 2e-4, 5 * F0, 0.0, 0.0, 30.0))
    net.diode("D1", "n1_1", "0", is_=1e-12)
    net.diode("D2", "n2_2", "n1_3", is_=1e-13, rs=20.0)
    net.diode("D3", "n1_2", "0", is_=1e-11, n=1.3)
    net.diode("D4", "n3_0", "n2_1", is_=1e-12)
    return net.compile()


def rc_two_tone(n=6):
    """RC grid (a capacitor at every node, the projection's case) with two current tones and a DC bias."""
    net = square_lattice(n, n, g=1e-3, ground="n0_0")
    nodes = [f"n{i}_{j}" for i in range(n) for j in range(n) if (i, j) != (0, 0)]
    net.add_many("capacitor", [f"C{i}" for i in range(len(nodes))], nodes, ["0"] * len(nodes), c=2e-8)
    net.resistors([f"RL{i}" for i in range(len(nodes))], nodes, ["0"] * len(nodes), r=1e4)
    for i, node in enumerate(["n2_2", "n4_3"]):
        net.diode(f"D{i}", node, "0", is_=1e-10)
        net.isource(f"IB{i}", "0", node, dc=2e-3)
    net.isource("IA", "0", "n2_2", sin=(0.0, 5e-4, 3 * F0))
    net.isource("IB", "0", "n4_3", sin=(0.0, 5e-5, 7 * F0))
    return net.compile()


def reactive_with_inductor():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", sin=(0.2, 3.0, F0))
    net.resistor("R1", "in", "a", r=500.0)
    net.inductor("L1", "a", "b", l=0.05)
    net.diode("D1", "b", "out")
    net.capacitor("C1", "out", "0", c=1e-6)
    net.resistor("R2", "out", "0", r=2e3)
    net.diode("D2", "a", "0", is_=1e-12, rs=5.0)
    return net.compile()


def diode_across_a_source():
    net = pn.Netlist()
    net.vsource("V1", "a", "0", sin=(0.7, 0.05, F0))
    net.diode("D1", "a", "0")
    net.resistor("R1", "a", "b", r=1e3)
    net.diode("D2", "b", "0", is_=1e-12)
    net.capacitor("C1", "b", "0", c=1e-7)
    return net.compile()


def assert_same(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.V, b.V, rtol=0, atol=rtol * np.max(np.abs(b.V)))
    if b.source_currents.size:
        np.testing.assert_allclose(a.source_currents, b.source_currents, rtol=0,
                                   atol=rtol * np.max(np.abs(b.source_currents)))


# ------------------------------------------------------------- equivalence
@pytest.mark.parametrize("build, K", [
    (resistive_two_tone, 12),
    (rc_two_tone, 16),
    (reactive_with_inductor, 24),
    (diode_across_a_source, 16),
])
def test_ports_equal_the_full_formulation(build, K):
    system = build()
    full = solve_hb(system, F0, K, options=FULL)
    ports = solve_hb(system, F0, K, options=PORTS)
    assert "diode ports" in ports.message and "diode ports" not in full.message
    assert_same(ports, full)
    # The recovered node phasors meet KCL as well, up to rounding (about 1e-16 A here, 1e-13 of the currents).
    assert ports.residual <= 10.0 * full.residual + 1e-15


def test_ports_equal_full_with_an_error_tone_trained_conductances_and_a_warm_start():
    system = resistive_two_tone()
    inj = {("n2_1", 3): 1e-6 * np.exp(0.3j), ("n1_3", 0): 2e-6}
    g = system["resistor"]["g"] * np.random.default_rng(3).uniform(0.5, 2.0, len(system["resistor"]))
    full = solve_hb(system, F0, 8, g=g, injections=inj, options=FULL)
    ports = solve_hb(system, F0, 8, g=g, injections=inj, options=PORTS)
    assert_same(ports, full)
    warm = solve_hb(system, F0, 8, g=g, injections=inj, initial=ports, options=PORTS)
    assert warm.message.startswith("newton from the initial guess") and warm.iterations <= 2
    assert_same(warm, full)


def test_auto_takes_the_ports_up_to_max_ports():
    system = resistive_two_tone()
    assert "4 diode ports" in solve_hb(system, F0, 6).message
    assert "diode ports" not in solve_hb(system, F0, 6, options=HBOptions(max_ports=3)).message
    net = pn.Netlist()
    net.vsource("V1", "a", "0", sin=(0.0, 1.0, F0))
    net.resistor("R1", "a", "0", r=1.0)
    assert solve_hb(net, F0, 3, options=PORTS).iterations == 1  # no diode: nothing to take as a port


@pytest.mark.parametrize("build", [resistive_two_tone, rc_two_tone])
def test_port_gmres_and_direct_agree(build):
    system = build()
    direct = solve_hb(system, F0, 12, options=HBOptions(formulation="ports", linear="direct"))
    iterative = solve_hb(system, F0, 12, options=HBOptions(formulation="ports", linear="gmres"))
    assert_same(iterative, direct)


def test_port_continuation_matches_full():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", sin=(-2.0, 12.0, F0))
    net.diode("D1", "in", "out", is_=1e-9, n=1.4)
    net.resistor("R1", "out", "0", r=1e3)
    system = net.compile()
    ports = solve_hb(system, F0, 48, options=PORTS)
    assert "continuation" in ports.message
    assert_same(ports, solve_hb(system, F0, 48, options=FULL), rtol=1e-9)


def test_port_non_convergence_raises_with_the_port_residual():
    net = pn.Netlist()
    net.vsource("V1", "in", "0", sin=(0.0, 30.0, F0))
    net.resistor("R1", "in", "out", r=10.0)
    net.diode("D1", "out", "0")
    with pytest.raises(ConvergenceError, match=r"largest port residual .* V, at harmonic"):
        solve_hb(net, F0, 32, options=HBOptions(formulation="ports", max_iter=1, min_continuation_step=0.5))


def test_bad_formulation_is_named():
    with pytest.raises(ValueError, match="HBOptions.formulation"):
        HBOptions(formulation="woodbury")


# ---------------------------------------------------------- building blocks
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(0, 9), extra=st.integers(1, 30))
def test_conversion_matrices_equal_the_dense_product(seed, K, extra):
    N = 2 * K + extra
    g = np.random.default_rng(seed).uniform(-1.0, 2.0, (3, N))
    fwd, inv = _basis(K, N)
    np.testing.assert_allclose(conversion_matrices(g, K), fwd @ (g[:, :, None] * inv), rtol=0, atol=1e-13)


def _ports(system, K, **kwargs):
    dc, ac = nodal_operator(system, "dc"), nodal_operator(system, "ac")
    omega = 2 * np.pi * F0 * np.arange(1, K + 1)
    w_ac = np.broadcast_to(edge_weights(system, ac), (K, ac.pattern.n_edges)).astype(complex)
    w_ac[:, ac.edge_slice("capacitor")] = 1j * omega[:, None] * system["capacitor"]["c"]
    E, Is = pn.solvers.harmonic_balance.source_phasors(system, F0, K)
    from physnet.solvers.nodal import injections
    return harmonic_ports(system, dc, edge_weights(system, dc), ac, w_ac, E, injections(system, Is), **kwargs)


def test_projection_serves_every_harmonic_of_an_rc_grid_exactly():
    system = rc_two_tone(16)
    K = 40
    projected = _ports(system, K, omega=2 * np.pi * F0 * np.arange(1, K + 1))
    factored = _ports(system, K)
    assert projected.projection is not None and not projected.ac_factors
    assert len(factored.ac_factors) == K
    np.testing.assert_allclose(projected.Z, factored.Z, rtol=0, atol=1e-11 * np.abs(factored.Z).max())
    np.testing.assert_allclose(projected.open_potentials, factored.open_potentials, rtol=0,
                               atol=1e-11 * np.abs(factored.open_potentials).max())
    Q = np.random.default_rng(0).standard_normal((K + 1, 2)) * 1e-3 + 0j
    Q[0] = Q[0].real
    np.testing.assert_allclose(projected.port_potentials(Q), factored.port_potentials(Q), rtol=0,
                               atol=1e-11 * np.abs(factored.port_potentials(Q)).max())


def test_harmonics_the_projection_does_not_serve_are_factored():
    system = rc_two_tone(6)
    K = 10
    strict = _ports(system, K, omega=2 * np.pi * F0 * np.arange(1, K + 1), projection_tol=0.0)
    factored = _ports(system, K)
    assert sorted(strict.ac_factors) == list(range(1, K + 1))
    np.testing.assert_allclose(strict.Z, factored.Z, rtol=1e-13)


def test_projection_reaches_its_backward_error_on_a_ladder():
    net = pn.Netlist()
    n = 200  # long enough for the basis to converge before it reaches half the unknowns
    names = [f"m{i}" for i in range(n)]
    net.resistors([f"R{i}" for i in range(n)], names, names[1:] + ["0"], r=1e3)
    net.add_many("capacitor", [f"C{i}" for i in range(n)], names, ["0"] * n, c=1e-7)
    system = net.compile()
    op = nodal_operator(system, "ac")
    omega = 2 * np.pi * np.geomspace(10.0, 1e5, 25)
    U = np.eye(op.reduction.n_free)[:, [0, 7]]
    model, served = project(system, op, edge_weights(system, op), omega, U, np.zeros((25, op.reduction.n_free)))
    G = op.matrix_data(edge_weights(system, op))
    from physnet.solvers.hb_ports import _capacitances, _matrix
    for k, w in enumerate(omega):
        A = _matrix(op, G + 1j * w * _capacitances(system, op)).toarray()
        exact = np.linalg.solve(A, U)
        got = model.phi @ (model.transfer[k][:, None] * model.ports(U))
        if served[k]:
            np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    assert served.all() and model.phi.shape[1] < n / 2


def test_projection_stops_early_when_it_would_outgrow_max_size():
    system = rc_two_tone(16)
    op = nodal_operator(system, "ac")
    omega = 2 * np.pi * F0 * np.arange(1, 41)
    U = np.eye(op.reduction.n_free)[:, [3, 40]]
    model, served = project(system, op, edge_weights(system, op), omega, U, np.zeros((40, op.reduction.n_free)),
                            max_size=20)
    assert not served.all() and model.phi.shape[1] <= 40  # gave up after the first check: the caller factors
