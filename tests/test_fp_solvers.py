"""Frequency propagation by its three solvers (phasor, harmonic balance, transient + lock-in).

What is pinned: on linear networks all three equal the exact adjoint
gradient (superposition: any β, DC or oscillating activation); on diode
networks the finite-amplitude experiment (hb, transient) has bias O(β²)
against the adjoint and the two agree with each other; lock-in noise falls
with integration time; the phasor path factors a linear network once for a
whole batch; bad tones and settings are errors that name the fix.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest

import physnet as pn
from physnet.errors import NetlistError
from physnet.learning.fp_tones import FPTones, fp_tones
from physnet.solvers.linear import Factorizer
from physnet.solvers.planner import FrequencyCollisionWarning


def _network(seed: int, diodes: int = 0, n: int = 14) -> tuple[pn.Netlist, list[str]]:
    """A small-world resistor network, two voltage inputs, optional antiparallel diode pairs to ground."""
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


def _relative(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


@pytest.fixture(scope="module")
def linear_batch():
    """A linear network with a batch of three samples (inputs and targets) and its adjoint gradient."""
    net, outputs = _network(2)
    rng = np.random.default_rng(0)
    kwargs = dict(outputs=outputs, targets=rng.uniform(-0.3, 0.3, (3, 2)),
                  inputs={"v_sources": rng.uniform(-1, 1, (3, 2))})
    return net.compile(), kwargs, pn.gradient(net, **kwargs).grad


@pytest.fixture(scope="module")
def diode_network():
    net, outputs = _network(4, diodes=3)
    kwargs = dict(outputs=outputs, targets=[0.3, -0.3])
    return net.compile(), kwargs, pn.gradient(net, **kwargs).grad


# ------------------------------------------------------------- linear networks
@pytest.mark.parametrize("solver, tones", [("phasor", {}), ("hb", {}), ("transient", {}),
                                           ("hb", {"f_a": 600.0}), ("transient", {"f_a": 600.0, "f_b": 1e3})])
def test_linear_network_every_solver_equals_the_adjoint(linear_batch, solver, tones):
    system, kwargs, exact = linear_batch
    for beta in (1e-4, 1.0):  # superposition: exact at any error amplitude
        step = pn.fp_update(system, **kwargs, alpha=0.5, beta=beta, solver=solver, **tones)
        assert _relative(-step.delta_g / 0.5, exact) <= 1e-9
        assert step.dv_a.shape == step.dv_b.shape == (3, len(exact))
        assert step.solver == solver and step.gradient.method == "fp"


def test_hb_coefficients_are_the_phasor_coefficients(linear_batch):
    system, kwargs, _ = linear_batch
    phasor = pn.fp_update(system, **kwargs, beta=1e-2)
    hb = pn.fp_update(system, **kwargs, beta=1e-2, solver="hb", f_b=37.0)
    np.testing.assert_allclose(hb.dv_a, phasor.dv_a, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hb.dv_b, phasor.dv_b, rtol=1e-10, atol=1e-15)
    assert hb.gradient.info["f_b"] == 37.0 and hb.gradient.info["f0"] == 37.0


@pytest.fixture
def factorizations(monkeypatch):
    """Record every numeric factorization (the cost the phasor path must keep to one per step)."""
    calls = []
    original = Factorizer.factor

    def counting(self, data, *, spd=True):
        calls.append(len(data))
        return original(self, data, spd=spd)

    monkeypatch.setattr(Factorizer, "factor", counting)
    return calls


def test_phasor_path_factors_a_linear_network_once_per_batch(linear_batch, factorizations):
    system, kwargs, _ = linear_batch
    step = pn.fp_update(system, **kwargs)
    assert len(factorizations) == 1  # DC states of all samples and their error tones share one factorization
    assert step.gradient.info["back_substitutions"] == 2 + 2  # superposition: two sources, two outputs
    factorizations.clear()
    pn.gradient(system, **kwargs)
    assert len(factorizations) == 1  # so does the adjoint


def test_phasor_path_factors_a_diode_network_once_per_batch(diode_network, factorizations):
    system, kwargs, _ = diode_network
    rng = np.random.default_rng(3)
    batch = dict(kwargs, inputs={"v_sources": rng.uniform(-1, 1, (6, 2))}, targets=rng.uniform(-0.3, 0.3, (6, 2)))
    step = pn.fp_update(system, **batch, alpha=1.0)
    assert len(factorizations) == 1  # diodes enter as ports of one factored matrix, Newton on the ports only
    factorizations.clear()
    exact = pn.gradient(system, **batch)  # the reference: Newton with a factorization per iteration per sample
    assert len(factorizations) > 6
    assert _relative(-step.delta_g, exact.grad) <= 1e-9
    np.testing.assert_allclose(step.gradient.states, exact.states, rtol=1e-10, atol=1e-12)


def test_phasor_path_with_many_diodes_linearises_each_sample(diode_network, monkeypatch):
    system, kwargs, exact = diode_network
    import physnet.learning.fp as fp

    monkeypatch.setattr(fp, "MAX_PORTS", 0)  # as if the network had more diodes than ports are worth
    result = pn.gradient(system, method="fp", **kwargs)
    assert result.info["solves"] == "newton + 1 factorization per sample"
    assert _relative(result.grad, exact) <= 1e-12


def test_phasor_port_newton_failures_fall_back_to_the_robust_dc_solver(diode_network, monkeypatch):
    system, kwargs, exact = diode_network
    from physnet.learning import fp_ports

    monkeypatch.setattr(fp_ports, "port_newton",
                        lambda ports, system, o, options: (0.0 * o, np.zeros(len(o), bool), np.zeros(len(o), int)))
    assert _relative(pn.gradient(system, method="fp", **kwargs).grad, exact) <= 1e-9


def test_transient_lockin_error_falls_with_integration_time():
    """White current noise at every node: the lock-in error falls like T^(-1/2) and reaches 1e-4."""
    net, outputs = _network(2)
    kwargs = dict(outputs=outputs, targets=[0.1, -0.2])
    exact = pn.gradient(net, **kwargs).grad
    system = net.compile()
    periods = np.array([4, 64, 1024])
    rms = []
    for p in periods:
        errors = [_relative(pn.gradient(system, method="fp", solver="transient", beta=1e-3, periods=int(p),
                                        noise=pn.NoiseSpec(white=1e-16), seed=seed, **kwargs).grad, exact)
                  for seed in range(4)]
        rms.append(np.sqrt(np.mean(np.square(errors))))
    slope = np.polyfit(np.log(periods), np.log(rms), 1)[0]
    assert rms[0] > rms[1] > rms[2]
    assert slope == pytest.approx(-0.5, abs=0.15)
    assert rms[2] <= 1e-4
    noiseless = pn.gradient(system, method="fp", solver="transient", beta=1e-3, periods=1, **kwargs).grad
    assert _relative(noiseless, exact) <= 1e-9  # whole common periods of a quasi-static network: exact


def test_transient_batch_on_threads_gives_what_it_gives_in_turn(monkeypatch):
    """A noisy batch with an oscillating activation, its runs on two threads or one after another: the same
    update bit for bit (each run draws from a generator of its own), and the same again on a second call."""
    import numba

    from physnet.learning import fp_transient

    net, outputs = _network(4, diodes=3)
    rng = np.random.default_rng(5)
    kwargs = dict(outputs=outputs, targets=rng.uniform(-0.3, 0.3, (4, 2)),
                  inputs={"v_sources": rng.uniform(-1, 1, (4, 2))}, solver="transient", f_a=600.0, f_b=1e3,
                  periods=2, noise=pn.NoiseSpec(white=1e-16), seed=7)
    system = net.compile()
    used = []
    workers = fp_transient._workers
    monkeypatch.setattr(fp_transient, "_workers", lambda system, batch, values: used.append(2) or 2)
    threaded = [pn.fp_update(system, **kwargs).delta_g for _ in range(2)]
    monkeypatch.setattr(fp_transient, "_workers", lambda system, batch, values: used.append(1) or 1)
    in_turn = pn.fp_update(system, **kwargs).delta_g
    np.testing.assert_array_equal(threaded[0], threaded[1])
    np.testing.assert_array_equal(threaded[0], in_turn)
    assert used == [2, 2, 1]
    assert workers(system, 4, 10**3) == min(numba.config.NUMBA_NUM_THREADS, 4)
    assert workers(system, 4, fp_transient._RECORD_BUDGET) == 1  # big records: one run at a time
    quiet = pn.fp_update(system, **{**kwargs, "noise": None}).delta_g
    assert not np.array_equal(quiet, in_turn)  # the noise is there


# -------------------------------------------------------------- diode networks
def test_diode_network_hb_bias_is_second_order_in_beta(diode_network):
    system, kwargs, exact = diode_network
    betas = np.logspace(-6, -4, 5)
    errors = np.array([_relative(pn.gradient(system, method="fp", solver="hb", beta=b, **kwargs).grad, exact)
                       for b in betas])
    slope = np.polyfit(np.log(betas), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.1)
    assert errors[0] < 1e-8 and errors[-1] > 1e-7  # converging, and not trivially exact (finite-β physics)
    phasor = pn.gradient(system, method="fp", beta=betas[-1], **kwargs).grad
    assert _relative(phasor, exact) <= 1e-9  # the small-signal path has no β bias


@pytest.mark.parametrize("beta", [1e-4, 1e-3])
def test_diode_network_hb_and_transient_agree_with_dc_activation(diode_network, beta):
    system, kwargs, _ = diode_network
    hb = pn.gradient(system, method="fp", solver="hb", beta=beta, **kwargs)
    tr = pn.gradient(system, method="fp", solver="transient", beta=beta, **kwargs)
    assert _relative(tr.grad, hb.grad) <= 1e-8
    np.testing.assert_allclose(tr.info["dv_a"], hb.info["dv_a"], rtol=1e-9)


def test_diode_network_hb_and_transient_agree_with_oscillating_activation(diode_network):
    system, kwargs, _ = diode_network
    tones = dict(f_a=600.0, f_b=1e3)
    hb = pn.gradient(system, method="fp", solver="hb", beta=1e-3, n_harmonics=40, **tones, **kwargs)
    tr = pn.gradient(system, method="fp", solver="transient", beta=1e-3, **tones, **kwargs)
    assert hb.info["f0"] == tr.info["f0"] == 200.0
    np.testing.assert_allclose(tr.states, hb.states, rtol=1e-9, atol=1e-12)  # the f_A coefficients of the outputs
    assert _relative(tr.grad, hb.grad) <= 1e-9


# ------------------------------------------------------------------ tones
def test_colliding_error_frequency_warns_and_blames_the_caller(linear_batch):
    system, kwargs, _ = linear_batch
    with pytest.warns(FrequencyCollisionWarning, match=r"2·f_A.*choose f_B") as caught:
        pn.fp_update(system, **kwargs, solver="hb", f_a=1e3, f_b=2e3)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pn.fp_update(system, **kwargs, solver="hb", f_a=1e3)  # the default f_B = 5/3 f_A is clear


def test_fp_tones_defaults_and_common_base():
    assert fp_tones() == FPTones(0.0, 1e3, pn.solvers.planner.CommonBase(1e3, 0, 1))
    tones = fp_tones(600.0)
    assert (tones.f_b, tones.base.p, tones.base.q, tones.fastest) == (1000.0, 3, 5, 5)


@pytest.mark.parametrize("settings, message", [
    (dict(solver="magic"), "unknown FP solver 'magic'"),
    (dict(solver="hb", f_b=0.0), "f_b = 0"),
    (dict(solver="hb", f_b=-5.0), "f_b = -5.0 Hz is invalid"),
    (dict(solver="hb", f_b=float("nan")), "f_b = nan Hz is invalid"),
    (dict(solver="transient", f_a=1e3, f_b=1e3), "the two tones must differ"),
    (dict(solver="hb", f_a=1e3, f_b=1e3 * 2 ** 0.5), "not commensurate"),
    (dict(solver="phasor", f_a=1e3), "f_a must be 0"),
    (dict(solver="hb", f_a=600.0, n_harmonics=4), "use n_harmonics >= 5"),
    (dict(solver="transient", periods=0), "periods = 0"),
    (dict(solver="transient", settle=-1), "settle = -1"),
    (dict(solver="transient", steps_per_period=2), "steps_per_period = 2"),
    (dict(beta=-1.0), "beta"),
])
def test_bad_solver_settings_name_the_problem(linear_batch, settings, message):
    system, kwargs, _ = linear_batch
    with pytest.raises(NetlistError, match=message):
        pn.fp_update(system, **kwargs, **settings)
