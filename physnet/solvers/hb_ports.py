r"""Harmonic balance with the diodes as ports of a linear network factored once per harmonic.

With every diode replaced by a fixed reference conductance ``g_ref`` the
network is linear, and at harmonic ``k`` its reduced nodal matrix
``A_k = Y_k + U diag(g_ref) Uᵀ`` (``Y_k = G + j k ω0 C + 1/(j k ω0) Γ``,
``U`` the diodes' reduced incidence) does not depend on the iterate. Each
diode is a two-terminal *port* carrying the rest of its current,
``q(t) = i(d(t)) - g_ref d(t)``, as in :mod:`physnet.solvers.transient`'s
low-rank engine and :mod:`physnet.learning.fp_ports`. With the port
impedances ``Z_k = Uᵀ A_k⁻¹ U`` and the open-circuit port voltages
``o_k = Uᵀ A_k⁻¹ b_k`` (``b_k`` the sources at harmonic ``k``), harmonic
balance reduces to ``n_d (2K+1)`` real unknowns, the port voltage phasors
``d_k``:

    d_k + Z_k q_k(d) - o_k = 0,    k = 0..K,

and the node phasors follow from one back-substitution per harmonic,
``x_k = A_k⁻¹ (b_k - U q_k)``. The linear part is prepared once per solve,
not per Newton step:

* a resistive network has one real matrix for every harmonic: one
  factorization and one multi-right-hand-side solve;
* an RC network (capacitors, no inductors) is *projected*: ``A(s) = G + sC``
  restricted to a rational Krylov basis grown from the ports and the
  sources with a few real shifts (``G + σC`` is symmetric positive definite,
  so each shift is one real factorization), diagonalised once for all
  harmonics. Each harmonic is accepted only when its residual, estimated
  through a Gaussian sketch, gives a normwise backward error of 1e-13; the
  others, and every harmonic of a network with inductors, get their own
  sparse LU.

This module holds that linear part; the Newton iteration on the ports lives
in :mod:`physnet.solvers.harmonic_balance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg
from numpy.typing import NDArray

from physnet.solvers.linear import Factor
from physnet.solvers.nodal import NodalOperator, leaving, short_values
from physnet.solvers.ports import reference_conductance
from physnet.system import System

__all__ = ["HarmonicPorts", "harmonic_ports", "Projection", "project", "conversion_matrices"]


def conversion_matrices(g_t: NDArray, n_harmonics: int) -> NDArray[np.float64]:
    """Real-basis matrices ``T`` of multiplication by sampled waveforms ``g_t`` (m, N), shape (m, 2K+1, 2K+1).

    In the basis ``c = (X_0, Re X_1, Im X_1, …)`` of a signal ``x(t) = Re
    Σ_k X_k e^{jkω0t}``, ``T c`` is the basis vector of ``g(t) x(t)``
    sampled on the same ``N`` points and truncated to ``K`` harmonics: a
    Toeplitz-plus-Hankel matrix of the (aliased) Fourier coefficients
    ``γ_m`` of ``g``, built from one FFT instead of the dense product
    ``Γ diag(g) Γ⁻¹``.

    Examples
    --------
    Multiplying by ``g(t) = 2 cos ω0t`` moves a constant to the first harmonic:

    >>> t = np.arange(8) / 8
    >>> T = conversion_matrices(2 * np.cos(2 * np.pi * t)[None], 2)
    >>> ((T[0] @ [1.0, 0, 0, 0, 0]).round(12) + 0.0).tolist()
    [0.0, 2.0, 0.0, 0.0, 0.0]
    """
    m, N = g_t.shape
    K = n_harmonics
    spectrum = np.fft.fft(g_t, axis=1) / N  # γ_j at index j mod N

    def gamma(j: NDArray) -> NDArray:
        return spectrum[:, np.mod(j, N)]

    k = np.arange(1, K + 1)
    low, high = gamma(k[:, None] - k[None, :]), gamma(k[:, None] + k[None, :])  # (m, K, K): γ_{k-l}, γ_{k+l}
    g_k = gamma(k)
    T = np.empty((m, 2 * K + 1, 2 * K + 1))
    T[:, 0, 0] = spectrum[:, 0].real
    T[:, 0, 1::2], T[:, 0, 2::2] = g_k.real, g_k.imag
    T[:, 1::2, 0], T[:, 2::2, 0] = 2.0 * g_k.real, 2.0 * g_k.imag
    plus, minus = low + high, low - high
    T[:, 1::2, 1::2], T[:, 2::2, 1::2] = plus.real, plus.imag
    T[:, 1::2, 2::2], T[:, 2::2, 2::2] = -minus.imag, minus.real
    return T


@dataclass(frozen=True, eq=False)
class HarmonicPorts:
    """The linear part of a harmonic-balance problem, factored, as seen from the diode ports.

    Attributes
    ----------
    system : System
    g_ref : ndarray, shape (n_d,)
        Conductance of each diode built into the linear part (S).
    Z : ndarray of complex, shape (K+1, n_d, n_d)
        Port impedance matrices ``Uᵀ A_k⁻¹ U`` (Ω); ``Z[0]`` is real.
    open_potentials : ndarray of complex, shape (K+1, n_nodes)
        Node phasors of the full excitation with no port current.
    open_ports : ndarray of complex, shape (K+1, n_d)
        Port (diode) voltage phasors of ``open_potentials``: ``o_k``.
    dc, ac : NodalOperator
        Operators of harmonic 0 and of harmonics 1..K (``ac is dc`` for a
        resistive network).
    dc_ports : ndarray, shape (n_dc, n_d)
        ``A_0⁻¹ U_0``; it serves every harmonic when ``ac is dc``.
    ac_incidence : ndarray, shape (n_ac, n_d)
        ``U`` in the AC reduction.
    projection : Projection or None
        Serves harmonics 1..K of an RC network, except ...
    ac_factors : dict of int to Factor
        ... the harmonics factored on their own (key: harmonic number).

    Examples
    --------
    A diode behind 1 kΩ from a 1 V source: the port sees 500 Ω (1 kΩ in
    parallel with ``1/g_ref``), so a port current of 0.2 mA lowers the
    diode's node from 0.5 V to 0.4 V:

    >>> import numpy as np, physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3); net.diode("D1", "a", "0")
    >>> system = net.compile(); op = nodal_operator(system, "dc")
    >>> ports = harmonic_ports(system, op, edge_weights(system, op), op, None, np.ones((1, 1)), np.zeros((1, 3)))
    >>> ports.n_harmonics, ports.g_ref.tolist(), ports.dc_potentials(np.array([2e-4])).round(12).tolist()
    (0, [0.001], [0.0, 1.0, 0.4])
    """

    system: System
    g_ref: NDArray[np.float64]
    Z: NDArray[np.complex128]
    open_potentials: NDArray[np.complex128]
    open_ports: NDArray[np.complex128]
    dc: NodalOperator
    ac: NodalOperator
    dc_ports: NDArray[np.float64]
    ac_incidence: NDArray[np.float64]
    projection: Projection | None
    ac_factors: dict[int, Factor]

    @property
    def n_harmonics(self) -> int:
        """Harmonics kept, ``K``."""
        return self.Z.shape[0] - 1

    def dc_potentials(self, q0: NDArray) -> NDArray[np.float64]:
        """Node potentials (n_nodes,) of the DC excitation when the ports carry the DC currents ``q0`` (n_d,)."""
        return self.open_potentials[0].real - _scatter(self.dc.reduction, self.dc_ports @ q0)

    def port_potentials(self, Q: NDArray) -> NDArray[np.complex128]:
        """Node phasors (K+1, n_nodes) ``A_k⁻¹ U Q_k`` of port current phasors ``Q`` (K+1, n_d), sources off.

        A port current flows through its diode from anode to cathode, so the
        network's potentials are ``open_potentials - port_potentials(Q)``.
        """
        K = self.n_harmonics
        V = np.empty((K + 1, self.system.n_nodes), dtype=np.complex128)
        V[0] = _scatter(self.dc.reduction, self.dc_ports @ Q[0].real)
        if not K:
            return V
        if self.ac is self.dc:
            V[1:] = _scatter(self.dc.reduction, (self.dc_ports @ Q[1:].T).T)
            return V
        if self.projection is not None:
            model = self.projection
            V[1:] = _scatter(self.ac.reduction, model.solve(model.ports(self.ac_incidence) @ Q[1:].T))
        for k, factor in self.ac_factors.items():
            V[k] = _scatter(self.ac.reduction, factor.solve(self.ac_incidence @ Q[k]))
        return V


def harmonic_ports(system: System, dc: NodalOperator, dc_w: NDArray, ac: NodalOperator, ac_w: NDArray | None,
                   E: NDArray, inj: NDArray, omega: NDArray | None = None,
                   projection_tol: float = 1e-13) -> HarmonicPorts:
    """Prepare the linear part of every harmonic once: port impedances, open-circuit port voltages.

    Parameters
    ----------
    system : System
    dc, ac : NodalOperator
        Nodal operators of harmonic 0 and of harmonics 1..K (the same one
        for a network without capacitors and inductors).
    dc_w : ndarray, shape (n_edges,)
        Linear DC edge weights (S); the diode slots are overwritten.
    ac_w : ndarray of complex, shape (K, n_edges), or None
        Edge admittances of harmonics 1..K, or None when every harmonic
        shares the DC matrix (a resistive network).
    E, inj : ndarray of complex, shape (K+1, n_vsources) and (K+1, n_nodes)
        Source phasors and injected node currents of the full excitation.
    omega : ndarray, shape (K,), optional
        Angular frequencies of harmonics 1..K. When given, a passive RC
        network (capacitors, no inductors) is first projected
        (:func:`project`) for all harmonics at once, and only the harmonics
        the projection does not serve are factored.
    projection_tol : float, optional
        Normwise backward error the projection must reach at a harmonic to
        serve it.

    Returns
    -------
    HarmonicPorts

    Examples
    --------
    A diode behind 1 kΩ from a 1 V source: one port seeing 1 kΩ in
    parallel with its own ``1/g_ref``, open-circuit voltage the divider's.

    >>> import physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistor("R1", "in", "a", r=1e3)
    >>> net.diode("D1", "a", "0")
    >>> system = net.compile()
    >>> op = nodal_operator(system, "dc")
    >>> ports = harmonic_ports(system, op, edge_weights(system, op), op, None, np.ones((1, 1)),
    ...                        np.zeros((1, system.n_nodes)))
    >>> float(ports.Z[0, 0, 0].real), round(float(ports.open_ports[0, 0].real), 12)
    (500.0, 0.5)
    """
    n_d = len(system["diode"])
    K = len(E) - 1
    g_ref = reference_conductance(dc_w, n_d)
    shared = ac_w is None
    excited = [k for k in range(1, K + 1) if np.any(E[k] != 0) or np.any(inj[k] != 0)] if shared else []
    U0 = _port_incidence(system, dc.reduction)
    dc_ports, x0, x = _dc_solutions(system, dc, _with_ports(dc, dc_w, g_ref), U0, E, inj, excited)
    Z = np.empty((K + 1, n_d, n_d), dtype=np.complex128)
    Z[0] = U0.T @ dc_ports
    model, factors, ac_ports = None, {}, U0
    if shared:
        ac = dc
        Z[1:] = Z[0]
    else:
        ac_ports = _port_incidence(system, ac.reduction)
        model, factors, Z[1:], x = _ac_solutions(system, ac, ac_w, g_ref, ac_ports, E, inj, omega, projection_tol)
    V = np.empty((K + 1, system.n_nodes), dtype=np.complex128)
    V[0] = dc.reduction.potentials(x0, short_values(system, dc.reduction, E[0].real))
    V[1:] = ac.reduction.potentials(x, short_values(system, ac.reduction, E[1:]))
    table = system["diode"]
    return HarmonicPorts(system, g_ref, Z, V, V[:, table.a] - V[:, table.b], dc, ac, dc_ports, ac_ports, model,
                         factors)


def _dc_solutions(system: System, dc: NodalOperator, w0: NDArray, U0: NDArray, E: NDArray, inj: NDArray,
                  excited: list[int]) -> tuple[NDArray, NDArray, NDArray]:
    """``A_0⁻¹ U_0`` and the open-circuit reduced unknowns of every harmonic the DC matrix serves.

    One real factorization and one multi-right-hand-side solve: the ports,
    harmonic 0, and the real and imaginary parts of each ``excited``
    harmonic (those of a resistive network). Returns the port responses
    (n_dc, n_d), harmonic 0's unknowns (n_dc,) and those of harmonics 1..K
    (K, n_dc), zero where nothing is excited.
    """
    n_d, K = U0.shape[1], len(E) - 1
    rhs = [_rhs(system, dc, w0, E[k], inj[k]) for k in [0] + excited]
    columns = np.hstack([U0, rhs[0][:, None].real] + [np.column_stack([b.real, b.imag]) for b in rhs[1:]])
    solved = dc.factorizer.factor(dc.matrix_data(w0), spd=bool(np.all(w0[w0 != 0] > 0))).solve(columns)
    x = np.zeros((K, dc.reduction.n_free), dtype=np.complex128)
    for j, k in enumerate(excited):
        x[k - 1] = solved[:, n_d + 1 + 2 * j] + 1j * solved[:, n_d + 2 + 2 * j]
    return solved[:, :n_d], solved[:, n_d], x


def _ac_solutions(system: System, ac: NodalOperator, ac_w: NDArray, g_ref: NDArray, U1: NDArray, E: NDArray,
                  inj: NDArray, omega: NDArray | None,
                  tol: float) -> tuple[Projection | None, dict[int, Factor], NDArray, NDArray]:
    """Harmonics 1..K with their own matrices: projection, then a factorization per harmonic it does not serve.

    Returns the projection (or None), the factors by harmonic, the port
    impedances (K, n_d, n_d) and the open-circuit reduced unknowns (K, n_ac).
    """
    K, n_d = len(ac_w), U1.shape[1]
    w = [_with_ports(ac, ac_w[k], g_ref) for k in range(K)]
    b = np.zeros((K, ac.reduction.n_free), dtype=np.complex128)
    for k in range(K):
        if np.any(E[k + 1] != 0) or np.any(inj[k + 1] != 0):
            b[k] = _rhs(system, ac, w[k], E[k + 1], inj[k + 1])
    Z = np.empty((K, n_d, n_d), dtype=np.complex128)
    x = np.empty((K, ac.reduction.n_free), dtype=np.complex128)
    remaining, model = range(K), None
    if omega is not None and not system.has("inductor") and np.all(w[0].real >= 0):  # passive RC: G + σC is SPD
        model, served = project(system, ac, w[0].real, omega, U1, b, tol=tol)
        pu = model.ports(U1)
        Z[:] = np.einsum("qi,kq,qj->kij", pu, model.transfer, pu)
        x[:] = 0.0
        excited = np.flatnonzero(np.any(b != 0, axis=1))
        x[excited] = model.solve(model.phi.T @ b[excited].T, excited)
        remaining = np.flatnonzero(~served)
    factors = {}
    for k in remaining:
        factor = ac.factorizer.factor(ac.matrix_data(w[k]), spd=False)
        cols = factor.solve(np.column_stack([U1, b[k]]).astype(np.complex128))
        Z[k], x[k] = U1.T @ cols[:, :n_d], cols[:, n_d]
        factors[int(k) + 1] = factor
    return model, factors, Z, x


def _with_ports(op: NodalOperator, w: NDArray, g_ref: NDArray) -> NDArray:
    """Edge weights ``w`` with every diode at its reference conductance."""
    out = np.array(w, dtype=np.result_type(w, np.float64))
    out[op.edge_slice("diode")] = g_ref
    return out


def _port_incidence(system: System, reduction) -> NDArray[np.float64]:
    """Reduced incidence ``U`` (n_free, n_d) of the diodes (+1 at the anode's unknown, -1 at the cathode's)."""
    table = system["diode"]
    units = np.zeros((len(table), system.n_nodes))
    units[np.arange(len(table)), table.a] += 1.0
    units[np.arange(len(table)), table.b] -= 1.0
    return np.asarray(reduction.restrict(units)).T.reshape(reduction.n_free, len(table))


def _rhs(system: System, op: NodalOperator, w: NDArray, E: NDArray, inj: NDArray) -> NDArray:
    """Reduced right-hand side of source values ``E`` and injected currents ``inj``, the free nodes at 0 V."""
    red = op.reduction
    held = red.potentials(np.zeros(red.n_free, dtype=np.result_type(E, inj)), short_values(system, red, E))
    currents = inj - leaving(system.n_nodes, op.a, op.b, op.edge_flows(w, held))
    return red.restrict(currents)


def _scatter(reduction, x: NDArray) -> NDArray:
    """Node potentials of reduced unknowns ``x`` (batch axis first if any) with every source at 0 V."""
    x = np.asarray(x)
    return reduction.potentials(x, np.zeros(x.shape[:-1] + (len(reduction.shorts),), dtype=x.dtype))


# ----------------------------------------------------------- projection
@dataclass(frozen=True, eq=False)
class Projection:
    """Galerkin projection of ``A(s) = G + s C`` onto a rational Krylov basis, diagonalised.

    ``A(jω_k)⁻¹ ≈ Φ diag(h_k) Φᵀ`` with ``h_k = 1 / (1 + (jω_k - σ) θ)``:
    the projected pencil ``(VᵀGV, VᵀCV)`` is symmetric, so one small
    generalised eigendecomposition (``ΦᵀA(σ)Φ = I``, ``ΦᵀCΦ = diag θ``)
    serves every harmonic.

    Attributes
    ----------
    phi : ndarray, shape (n, q)
        ``V W``: the basis times the eigenvectors of the projected pencil.
    theta : ndarray, shape (q,)
    sigma : float
        The real shift ``σ`` the eigenvectors are normalised at.
    transfer : ndarray of complex, shape (K, q)
        ``h_k`` for each harmonic.

    Examples
    --------
    One node with 1 Ω and 1 F to ground: ``A(jω)⁻¹ = 1 / (1 + jω)`` at ω = 1 and 2 rad/s:

    >>> import numpy as np, physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist(); net.resistor("R1", "a", "0", r=1.0); net.capacitor("C1", "a", "0", c=1.0)
    >>> system = net.compile(); op = nodal_operator(system, "ac"); U = np.ones((1, 1))
    >>> model, served = project(system, op, edge_weights(system, op), np.array([1.0, 2.0]), U, np.zeros((2, 1)))
    >>> served.tolist(), model.solve(model.ports(U) * np.ones(2)).round(12).ravel().tolist()
    ([True, True], [(0.5-0.5j), (0.2-0.4j)])
    """

    phi: NDArray[np.float64]
    theta: NDArray[np.float64]
    sigma: float
    transfer: NDArray[np.complex128]

    def ports(self, U: NDArray) -> NDArray[np.float64]:
        """``Φᵀ U`` (q, m)."""
        return self.phi.T @ U

    def solve(self, coefficients: NDArray, harmonics: NDArray | slice = slice(None)) -> NDArray[np.complex128]:
        """Reduced unknowns (K', n) ``Φ (h_k ⊙ c_k)`` for projected right-hand sides ``c`` (q, K') of ``harmonics``."""
        return _real_matmul(self.phi, self.transfer[harmonics].T * coefficients).T


def project(system: System, op: NodalOperator, g_w: NDArray, omega: NDArray, U: NDArray, b: NDArray,
            tol: float = 1e-13, max_rounds: int = 40, max_size: int = 1000,
            n_shifts: int = 2) -> tuple[Projection, NDArray[np.bool_]]:
    """Solve ``(G + jω_k C) X = [U, b_k]`` for every harmonic at once by a rational Krylov projection.

    The basis grows by blocks ``(G + σ_j C)⁻¹ C`` applied to the last
    block, from ``(G + σ_j C)⁻¹ [U, b]``, for a few real shifts ``σ_j``
    spread over ``ω`` (each ``G + σ_j C`` is symmetric positive definite:
    one sparse factorization each, no pivoting). At a check the projected
    pencil is diagonalised and a harmonic is *served* when the normwise
    backward error ``‖r‖ / (‖A_k‖ ‖x‖ + ‖b‖)`` (2-norms, per right-hand side,
    residuals estimated through a 32-row Gaussian sketch) of its projected
    solutions is at most ``tol``. The first check comes after four rounds;
    the error falls geometrically with the basis size, so the next is
    placed where the last two extrapolate to ``tol``. Growth stops when
    every harmonic is served, after ``max_rounds`` rounds, when the basis
    reaches half the network's size, or when the extrapolation says it
    would pass ``max_size`` columns; the caller factors the harmonics left.

    Parameters
    ----------
    system : System
    op : NodalOperator
        The AC operator of an RC network (no inductors).
    g_w : ndarray, shape (n_edges,)
        Real edge conductances (S) with the diodes at their reference.
    omega : ndarray, shape (K,)
        Angular frequencies (rad/s).
    U : ndarray, shape (n, m)
        Right-hand sides common to every harmonic (the ports).
    b : ndarray of complex, shape (K, n)
        One right-hand side per harmonic (the sources).
    tol : float, optional
    max_rounds : int, optional
    max_size : int, optional
        Most basis columns (memory: ``max_size`` vectors of the network's size).
    n_shifts : int, optional
        Real shifts, geometrically spaced over ``[min ω, max ω]``.

    Returns
    -------
    Projection
    served : ndarray of bool, shape (K,)

    Examples
    --------
    A 100-section RC ladder driven at its first node, at three frequencies, against dense solves:

    >>> import physnet as pn
    >>> from physnet.solvers.nodal import edge_weights, nodal_operator
    >>> net = pn.Netlist()
    >>> nodes = [f"m{i}" for i in range(100)]
    >>> net.resistors([f"R{i}" for i in range(100)], nodes, nodes[1:] + ["0"], r=1e3)
    >>> net.add_many("capacitor", [f"C{i}" for i in range(100)], nodes, ["0"] * 100, c=1e-6)
    >>> system = net.compile()
    >>> op = nodal_operator(system, "ac")
    >>> omega = np.array([1e2, 1e3, 1e4])
    >>> U = np.eye(op.reduction.n_free)[:, :1]
    >>> model, served = project(system, op, edge_weights(system, op), omega, U, np.zeros((3, 100)))
    >>> G = op.matrix_data(edge_weights(system, op))
    >>> A = [_matrix(op, G + 1j * w * _capacitances(system, op)).toarray() for w in omega]
    >>> exact = np.array([np.linalg.solve(a, U[:, 0]) for a in A])
    >>> error = np.abs(model.solve(model.ports(U) * np.ones(3)) - exact).max() / np.abs(exact).max()
    >>> bool(served.all()), bool(error < 1e-12)
    (True, True)
    """
    G = _matrix(op, op.matrix_data(g_w))
    C = _matrix(op, _capacitances(system, op))
    excited = np.flatnonzero(np.any(b != 0, axis=1))
    start = _orthogonal(np.zeros((G.shape[0], 0)), np.column_stack([U, b[excited].real.T, b[excited].imag.T]))
    shifts = np.unique(np.geomspace(omega.min(), omega.max(), min(len(omega), n_shifts)))
    solvers = [_real_factor(G + sigma * C) for sigma in shifts]
    space = _Space(G, C, U, b, omega, float(np.sqrt(shifts[0] * shifts[-1])))
    blocks = [start] * len(shifts)
    checks: list[tuple[int, float]] = []  # (basis size, largest backward error) at each check
    next_check = 4
    for round_ in range(1, max_rounds + 1):
        blocks = space.extend([solve(blk if blk is start else C @ blk) for solve, blk in zip(solvers, blocks)])
        exhausted = 2 * space.size >= G.shape[0] or not any(blk.shape[1] for blk in blocks)
        if round_ < next_check and not exhausted and round_ < max_rounds:
            continue
        theta, W = space.eigen()
        errors = space.backward_errors(theta, W)
        if (errors <= tol).all() or exhausted:
            break
        checks.append((space.size, float(errors.max())))
        per_round = space.size / round_
        next_check = round_ + _rounds_to_go(checks, tol, per_round)
        if space.size + (next_check - round_) * per_round > max_size:
            break
    return space.projection(theta, W), errors <= tol


def _rounds_to_go(checks: list[tuple[int, float]], tol: float, per_round: float) -> int:
    """Rounds until the next check: the backward error falls geometrically with the basis size, so extrapolate.

    Examples
    --------
    >>> _rounds_to_go([(20, 1e-4), (40, 1e-8)], 1e-14, 10.0)  # 1e-4 per 20 columns: 30 more, plus 20%
    4
    """
    if len(checks) < 2:
        return 2
    (q0, e0), (q1, e1) = checks[-2:]
    rate = math.log(e1 / e0) / (q1 - q0) if e1 < e0 else 0.0
    if rate >= 0.0:
        return 2
    return max(1, math.ceil(1.2 * math.log(tol / e1) / rate / per_round - 1e-9))


def _matrix(op: NodalOperator, data: NDArray) -> sp.csc_matrix:
    """The reduced nodal matrix with values ``data`` (CSC)."""
    n = op.pattern.n
    return sp.csc_matrix((data, op.pattern.indices, op.pattern.indptr), shape=(n, n))


def _capacitances(system: System, op: NodalOperator) -> NDArray[np.float64]:
    """Matrix data of ``C`` (every capacitor's capacitance in its edge slot)."""
    w = np.zeros(op.pattern.n_edges)
    w[op.edge_slice("capacitor")] = system["capacitor"]["c"]
    return op.matrix_data(w)


def _real_factor(A: sp.csc_matrix) -> Callable[[NDArray], NDArray]:
    """``solve`` of a sparse SPD matrix: SuperLU with a symmetric ordering and no pivoting."""
    return scipy.sparse.linalg.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}).solve


def _orthogonal(basis: NDArray, X: NDArray) -> NDArray[np.float64]:
    """Orthonormal columns spanning what ``X`` adds to ``basis``."""
    return _orthogonal_blocks(basis, [X])[0]


def _orthogonal_blocks(basis: NDArray, blocks: list[NDArray]) -> tuple[NDArray, list[NDArray]]:
    """Orthonormal columns spanning what the ``blocks`` add to ``basis``, all of them and per block.

    Columns are normalised, orthogonalised against ``basis`` twice
    (classical Gram-Schmidt), then against each other by a column-pivoted
    QR; directions below 1e-10 (of a unit column) add nothing and are
    dropped. Block ``j`` continues with the kept directions pivoted from
    its own columns.
    """
    X = np.hstack(blocks)
    if not X.shape[1]:
        return X, [X] * len(blocks)
    norms = np.linalg.norm(X, axis=0)
    X = X[:, norms > 0] / norms[norms > 0]
    owner = np.repeat(np.arange(len(blocks)), [blk.shape[1] for blk in blocks])[norms > 0]
    for _ in range(2):
        X = X - basis @ (basis.T @ X)
    Q, R, pivots = scipy.linalg.qr(X, mode="economic", pivoting=True, check_finite=False)
    rank = int(np.count_nonzero(np.abs(np.diag(R)) > 1e-10))
    Q, owner = Q[:, :rank], owner[pivots[:rank]]
    return Q, [Q[:, owner == j] for j in range(len(blocks))]


class _Space:
    """A growing orthonormal basis ``B`` with what the checks need, kept up to date column block by block.

    The projected pencil ``(BᵀGB, BᵀCB)``, the projected right-hand sides
    ``Bᵀ[U, b]`` and a 32-row Gaussian sketch ``Ω`` of ``GB``, ``CB`` and
    ``B``: residual norms are estimated as ``‖Ω r‖`` (``Ω`` scaled so that
    ``E‖Ω r‖² = ‖r‖²``; with 32 rows, below a tenth of the true norm with
    probability under 1e-20), so a check costs small products only. A fixed
    seed keeps results reproducible.
    """

    rows = 32

    def __init__(self, G, C, U: NDArray, b: NDArray, omega: NDArray, sigma: float) -> None:
        n = G.shape[0]
        self.G, self.C, self.U, self.b, self.omega, self.sigma = G, C, U, b, omega, sigma
        self.sketch = np.random.default_rng(20240).standard_normal((self.rows, n)) / np.sqrt(self.rows)
        self.rhs_sketch = self.sketch @ U, self.sketch @ b.T  # (32, m), (32, K)
        self.norm_a = scipy.sparse.linalg.norm(G, 1) + omega * scipy.sparse.linalg.norm(C, 1)
        self.B = np.zeros((n, 0))
        self.Gr, self.Cr = np.zeros((0, 0)), np.zeros((0, 0))
        self.BtU, self.Btb = np.zeros((0, U.shape[1])), np.zeros((0, len(b)), dtype=np.complex128)
        self.sk_G, self.sk_C, self.sk_B = np.zeros((self.rows, 0)), np.zeros((self.rows, 0)), np.zeros((self.rows, 0))

    @property
    def size(self) -> int:
        return self.B.shape[1]

    def extend(self, blocks: list[NDArray]) -> list[NDArray]:
        """Add what the ``blocks`` bring to the basis; returns each block's new orthonormal columns."""
        new, parts = _orthogonal_blocks(self.B, blocks)
        G_new, C_new = self.G @ new, self.C @ new
        self.B = np.hstack([self.B, new])
        self.Gr, self.Cr = _grow(self.Gr, self.B.T @ G_new), _grow(self.Cr, self.B.T @ C_new)
        self.BtU, self.Btb = np.vstack([self.BtU, new.T @ self.U]), np.vstack([self.Btb, new.T @ self.b.T])
        self.sk_G = np.hstack([self.sk_G, self.sketch @ G_new])
        self.sk_C = np.hstack([self.sk_C, self.sketch @ C_new])
        self.sk_B = np.hstack([self.sk_B, self.sketch @ new])
        return parts

    def eigen(self) -> tuple[NDArray, NDArray]:
        """``θ, W`` with ``Wᵀ(Gr + σCr)W = I`` and ``WᵀCrW = diag θ``."""
        Gr, Cr = (self.Gr + self.Gr.T) / 2, (self.Cr + self.Cr.T) / 2
        return scipy.linalg.eigh(Cr, Gr + self.sigma * Cr, check_finite=False)

    def transfer(self, theta: NDArray) -> NDArray[np.complex128]:
        return 1.0 / (1.0 + (1j * self.omega[:, None] - self.sigma) * theta[None, :])

    def backward_errors(self, theta: NDArray, W: NDArray) -> NDArray[np.float64]:
        """Largest normwise backward error ``‖r‖ / (‖A_k‖‖x‖ + ‖r_k‖)`` over ``[U, b_k]``, per harmonic (sketched)."""
        K, m = len(self.omega), self.U.shape[1]
        h = self.transfer(theta)
        z = np.concatenate([h[:, :, None] * (W.T @ self.BtU)[None], (h * (W.T @ self.Btb).T)[:, :, None]], axis=2)
        flat = z.transpose(1, 0, 2).reshape(len(theta), K * (m + 1))
        g, c, x = (_real_matmul(S @ W, flat).reshape(self.rows, K, m + 1) for S in (self.sk_G, self.sk_C, self.sk_B))
        rhs = np.concatenate([np.broadcast_to(self.rhs_sketch[0][:, None], (self.rows, K, m)),
                              self.rhs_sketch[1][:, :, None]], axis=2)
        residual = np.linalg.norm(g + 1j * self.omega[None, :, None] * c - rhs, axis=0)
        scale = self.norm_a[:, None] * np.linalg.norm(x, axis=0) + np.linalg.norm(rhs, axis=0)
        return np.max(residual / (scale + 1e-300), axis=1)

    def projection(self, theta: NDArray, W: NDArray) -> Projection:
        return Projection(self.B @ W, theta, self.sigma, self.transfer(theta))


def _real_matmul(A: NDArray, Z: NDArray) -> NDArray[np.complex128]:
    """``A @ Z`` for real ``A`` and complex 2-D ``Z`` as one real product (numpy would promote ``A`` to complex).

    Examples
    --------
    >>> _real_matmul(np.array([[1.0, 2.0]]), np.array([[1j], [1.0]])).tolist()
    [[(2+1j)]]
    """
    n = Z.shape[1]
    out = A @ np.hstack([Z.real, Z.imag])
    return out[:, :n] + 1j * out[:, n:]


def _grow(M: NDArray, column: NDArray) -> NDArray:
    """Symmetric ``M`` bordered by the new columns ``column`` (rows: old basis then new, shape (q_new, k))."""
    q_old, k = M.shape[0], column.shape[1]
    out = np.empty((q_old + k, q_old + k))
    out[:q_old, :q_old] = M
    out[:, q_old:] = column
    out[q_old:, :q_old] = column[:q_old].T
    return out
