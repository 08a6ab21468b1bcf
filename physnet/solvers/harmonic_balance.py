r"""Harmonic balance: periodic steady state of a nonlinear network driven at harmonics of ``f0``.

Every node potential is a truncated Fourier series

    v(t) = Re Σ_{k=0}^{K} V_k e^{j k ω0 t},   ω0 = 2π f0,  V_0 real,

and KCL must hold for each harmonic ``k`` separately. Linear elements act
harmonic by harmonic (admittance ``g``, ``j k ω0 C``, ``1/(j k ω0 L)``;
at ``k = 0`` capacitors are open and inductors shorts, as at DC). Diode
currents are evaluated on a grid of ``N >= 2K + 1`` time samples (inverse
real FFT of the diode voltages, the device law sample by sample in a numba
kernel, a real FFT back), so harmonics of each diode current above ``K`` are
dropped — the truncation error of the method — and those above ``N - K``
alias (hence the 4× oversampling by default).

Newton on all harmonic coefficients
-----------------------------------
The Jacobian couples harmonics only through the diodes: with ``g(t)`` a
diode's conductance waveform, its block in the real basis
``(V_0, Re V_1, Im V_1, …)`` is ``T = Γ diag(g(t_n)) Γ⁻¹`` (a
Toeplitz-plus-Hankel matrix of the Fourier coefficients of ``g``). Write

    J = M + U D Uᵀ,   M = blockdiag_k(A_k + U diag(ḡ) Uᵀ),   D = blockdiag_d(T_d - ḡ_d I),

with ``A_k`` the linear nodal matrix at harmonic ``k``, ``U`` the reduced
incidence of the diodes and ``ḡ`` each diode's time-averaged conductance.
``M`` is block diagonal over harmonics and reuses the nodal pattern and its
factorization cache: for a purely resistive network every ``A_k`` is the
same real SPD matrix, so **one** (CHOLMOD) factorization serves all ``2K+1``
real components as a multi-right-hand-side solve. The diodes enter through a
low-rank correction handled by the *capacitance system*

    (I + Z D) W = Uᵀ M⁻¹ r,   Z = Uᵀ M⁻¹ U,     δ = M⁻¹ (r - U D W),

of size ``n_diodes · (2K+1)``. It is solved densely (``linear="direct"``,
exact Newton, quadratic convergence) when small, and by GMRES otherwise
(``linear="gmres"``, matrix-free, one multi-RHS solve with ``M`` per
iteration; this is GMRES on ``J`` right-preconditioned by the classic
block-diagonal average-conductance preconditioner). ``"auto"`` picks the
dense solve up to ``HBOptions.direct_max`` unknowns (2000: a few dozen
diodes at K ≈ 20), so a 10⁴-node network with a handful of diodes costs a
few sparse factorizations per Newton step, and a network full of diodes
falls back to iterations whose cost is a multi-RHS back-substitution. With
capacitors or inductors every harmonic has its own complex matrix: ``K``
sparse LU factorizations (SuperLU) per Newton step.

Few diodes: Newton on the ports
-------------------------------
Up to ``HBOptions.max_ports`` diodes (64: on a 20×20 grid at K = 16, with
or without a capacitor per node, the ports are 15-35× faster than the full
formulation at 8-32 diodes, as fast or 1.6× faster at 64, 2-3× slower at
128), ``formulation="auto"`` takes the
diodes as ports of the linear part (:mod:`physnet.solvers.hb_ports`): the
linear part is prepared once per solve (one real factorization for a
resistive network, a rational Krylov projection for an RC network, a
sparse LU per harmonic otherwise), and Newton runs on the ``n_d (2K+1)``
port voltage components only,

    (I + Z (T - g_ref)) δ = -F,    F = d + Z q(d) - o,

with ``Z`` block diagonal over harmonics (``n_d × n_d`` port impedances)
and ``T`` the diodes' conversion matrices built by FFT. Small systems are
solved densely; larger ones by GMRES with a matrix-free product (two FFTs
per diode) right-preconditioned by the average-conductance system, with
the dense solve as fallback. The node phasors are recovered at the end and
their KCL residual checked (a final full Newton step polishes them if
needed). The DC start is solved on the ports too, falling back to
:func:`physnet.solve_dc`. ``formulation="ports"`` / ``"full"`` force either
path; both give the same solution to rounding.

Robustness
----------
Newton starts from the DC operating point of the sources' DC parts
(:func:`physnet.solve_dc`, with its own GMIN and source stepping). Each step
is damped twice: SPICE's junction limiting recast as a step length (no
junction sample may rise far beyond its critical voltage in one step), then
a backtracking line search on the KCL residual norm. If Newton still fails,
the AC drive and the extra injections are ramped from 0 to their full value
(amplitude continuation with adaptive steps), each step warm-started.

Frequency propagation
---------------------
The activation is the sources (DC, or a SIN at ``k_A f0``); the error tone
is an injection at harmonic ``k_B``,
``injections={(output, k_B): β}``; :func:`edge_drops` gives every edge's
coefficients at both. Two tones need a common base frequency
(:func:`physnet.solvers.planner.common_base_frequency`) and an ``f_B`` clear
of the mixing products (:func:`physnet.solvers.planner.check_frequencies`).

Examples
--------
A half-wave rectifier, 1 V at 1 kHz through 1 kΩ:

>>> import physnet as pn
>>> from physnet.solvers.harmonic_balance import solve_hb
>>> net = pn.Netlist()
>>> net.vsource("V1", "in", "0", sin=(0.0, 1.0, 1e3))
>>> net.resistor("R1", "in", "out", r=1e3)
>>> net.diode("D1", "out", "0")
>>> hb = solve_hb(net, 1e3, 32)
>>> hb.converged, round(abs(hb.phasor("out", 1)), 4)
(True, 0.8659)
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import LinearOperator, gmres

from physnet.constants import GMIN, thermal_voltage
from physnet.elements.diode import (
    critical_voltage,
    junction_current,
    junction_voltages,
    junction_voltages_numpy,
    limit_junction,
)
from physnet.elements.table import WAVE_DC, WAVE_PULSE, WAVE_SIN, ElementTable
from physnet.errors import ConvergenceError, NetlistError
from physnet.netlist import Netlist
from physnet.reduction import Reduction
from physnet.solvers.dc import NewtonOptions, solve_dc
from physnet.solvers.hb_ports import HarmonicPorts, conversion_matrices, harmonic_ports
from physnet.solvers.nodal import NodalOperator, edge_weights, nodal_operator, short_values
from physnet.solvers.nodal import injections as source_injections
from physnet.solvers.planner import format_frequency
from physnet.system import System

__all__ = [
    "HBOptions",
    "HBResult",
    "solve_hb",
    "source_phasors",
    "edge_drops",
    "diode_waveforms",
    "diode_waveforms_numpy",
]


# ----------------------------------------------------------------- options
@dataclass(frozen=True)
class HBOptions:
    """Convergence settings of harmonic balance.

    Attributes
    ----------
    reltol, vntol : float
        Newton converges when an undamped step changes no harmonic
        coefficient by more than ``vntol + reltol · max|V|`` (V) ...
    abstol : float
        ... and the largest KCL residual over all free nodes and harmonics
        is at most ``abstol + 1e-9 · (largest current)`` (A).
    max_iter : int
        Newton iterations per attempt (the full drive, then each
        continuation step).
    gmin : float
        Conductance across every junction (S), SPICE's GMIN.
    linear : {"auto", "direct", "gmres"}
        How the diode capacitance system of each Newton step is solved (see
        the module notes).
    direct_max : int
        ``"auto"`` solves densely up to this many unknowns
        (``n_diodes · (2K+1)``).
    gmres_rtol : float
        Relative tolerance of each GMRES solve.
    gmres_restart, gmres_maxiter : int
        Krylov vectors kept between restarts (memory: that many vectors of
        ``n_diodes · (2K+1)`` floats) and GMRES iterations allowed per
        Newton step.
    min_continuation_step : float
        Smallest fraction of the AC drive added in one continuation step
        before giving up.
    formulation : {"auto", "ports", "full"}
        ``"ports"``: Newton on the diode port voltages of a linear part
        factored once per harmonic (:mod:`physnet.solvers.hb_ports`);
        ``"full"``: Newton on every node's harmonics, refactoring each
        harmonic's matrix per step. ``"auto"`` takes the ports for 1 to
        ``max_ports`` diodes. Both give the same solution.
    max_ports : int
        Most diodes the ``"auto"`` formulation treats as ports.

    Examples
    --------
    >>> HBOptions(linear="gmres", max_iter=100).linear
    'gmres'
    """

    reltol: float = 1e-10
    vntol: float = 1e-12
    abstol: float = 1e-12
    max_iter: int = 50
    gmin: float = GMIN
    linear: str = "auto"
    direct_max: int = 2000
    gmres_rtol: float = 1e-11
    gmres_restart: int = 50
    gmres_maxiter: int = 300
    min_continuation_step: float = 1.0 / 1024.0
    formulation: str = "auto"
    max_ports: int = 64

    def __post_init__(self) -> None:
        if self.linear not in ("auto", "direct", "gmres"):
            raise ValueError(f"HBOptions.linear = {self.linear!r} is invalid (auto, direct or gmres)")
        if self.formulation not in ("auto", "ports", "full"):
            raise ValueError(f"HBOptions.formulation = {self.formulation!r} is invalid (auto, ports or full)")


# ------------------------------------------------------------------ result
@dataclass(frozen=True, eq=False)
class HBResult:
    """Periodic steady state as harmonic phasors.

    Attributes
    ----------
    node_names : tuple of str
        Node names by index (ground first).
    f0 : float
        Base frequency (Hz); harmonic ``k`` is at ``k f0``.
    V : ndarray of complex, shape (K+1, n_nodes)
        Node potential phasors (peak amplitude, V):
        ``v(t) = Re Σ_k V[k] e^{j k ω0 t}``; ``V[0]`` is the (real) mean.
    n_time : int
        Time samples per period used for the devices.
    source_names : tuple of str
        Voltage sources, in table order.
    source_currents : ndarray of complex, shape (K+1, n_vsources)
        Phasor of the current into each source's ``+`` terminal, through it
        and out of ``-`` (SPICE's sign).
    converged : bool
    iterations : int
        Newton iterations in all (continuation steps included).
    residual : float
        Largest KCL residual over the free nodes and harmonics (A).
    message : str
        How the solution was reached.

    Examples
    --------
    A 1 V sine at 1 kHz across a divider of two equal resistors:

    >>> import physnet as pn
    >>> net = pn.Netlist(); net.vsource("V1", "in", "0", sin=(0.0, 1.0, 1e3))
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1e3, 1e3])
    >>> hb = solve_hb(net, 1e3, 2)
    >>> hb.converged, hb.V.shape, hb.frequencies.tolist(), round(abs(hb.phasor("out", 1)), 12)
    (True, (3, 3), [0.0, 1000.0, 2000.0], 0.5)
    """

    node_names: tuple[str, ...]
    f0: float
    V: NDArray[np.complex128]
    n_time: int
    source_names: tuple[str, ...]
    source_currents: NDArray[np.complex128]
    converged: bool = True
    iterations: int = 0
    residual: float = 0.0
    message: str = ""
    _index: dict = field(default_factory=dict, repr=False)

    @property
    def harmonics(self) -> NDArray[np.int64]:
        """Harmonic numbers ``0..K``."""
        return np.arange(self.V.shape[0])

    @property
    def frequencies(self) -> NDArray[np.float64]:
        """Frequencies of the harmonics (Hz)."""
        return self.harmonics * self.f0

    def node_index(self, node: str) -> int:
        """Index of ``node``; raises a :class:`NetlistError` naming it if unknown."""
        if not self._index:
            self._index.update((n, i) for i, n in enumerate(self.node_names))
        key = "0" if str(node).lower() in ("0", "gnd") else str(node)
        if key not in self._index:
            raise NetlistError(f"unknown node {node!r}: the network has no node of that name")
        return self._index[key]

    def __getitem__(self, node: str) -> NDArray[np.complex128]:
        """Phasors of ``node`` at every harmonic, shape (K+1,)."""
        return self.V[:, self.node_index(node)]

    def phasor(self, node: str, k: int) -> complex:
        """Phasor of ``node`` at harmonic ``k`` (peak amplitude, V)."""
        if not 0 <= k < self.V.shape[0]:
            raise ValueError(f"harmonic {k} is out of range 0..{self.V.shape[0] - 1}")
        return complex(self.V[k, self.node_index(node)])

    def current(self, source: str) -> NDArray[np.complex128]:
        """Current phasors through voltage source ``source``, shape (K+1,)."""
        try:
            return self.source_currents[:, self.source_names.index(source)]
        except ValueError:
            raise NetlistError(f"no voltage source named {source!r}") from None

    def waveform(self, t: ArrayLike, node: str | None = None) -> NDArray[np.float64]:
        """Potentials at times ``t`` (s): shape ``t.shape + (n_nodes,)``, or ``t.shape`` for one ``node``.

        Examples
        --------
        >>> import numpy as np
        >>> r = HBResult(("0", "a"), 1.0, np.array([[0, 1.0], [0, 2j]]), 4, (), np.zeros((2, 0)))
        >>> r.waveform([0.0, 0.25], "a").round(12).tolist()
        [1.0, -1.0]
        """
        t = np.asarray(t, dtype=np.float64)
        V = self.V if node is None else self.V[:, self.node_index(node)][:, None]
        phase = np.exp(2j * np.pi * self.f0 * t[..., None] * self.harmonics)  # t.shape + (K+1,)
        out = (phase @ V).real
        return out if node is None else out[..., 0]


def edge_drops(system: System, result: HBResult, kind: str = "resistor") -> NDArray[np.complex128]:
    """Phasors of the drops ``v(a) - v(b)`` across every element of ``kind``, shape (K+1, n_elements).

    In frequency propagation, row ``k_B`` divided by the error amplitude is
    each edge's error signal and row ``k_A`` (or 0 for a DC activation) its
    activation.

    Examples
    --------
    FP with a DC activation and a 1 µA error tone at f0 injected at the output:

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], r=[1e3, 1e3])
    >>> system = net.compile()
    >>> hb = solve_hb(system, 1e3, 2, injections={("out", 1): 1e-6})
    >>> (edge_drops(system, hb)[[0, 1]].real * [[1], [1e6]]).round(9).tolist()  # DC drops; error drops per ampere
    [[0.5, 0.5], [-500.0, 500.0]]
    """
    table = system[kind]
    return result.V[:, table.a] - result.V[:, table.b]


# ------------------------------------------------------------- excitations
def _table_phasors(table: ElementTable, f0: float, n_harmonics: int) -> NDArray[np.complex128]:
    out = np.zeros((n_harmonics + 1, len(table)), dtype=np.complex128)
    if not len(table):
        return out
    kind = table.spec.kind
    wave = table["wave"]
    pulse = np.flatnonzero(wave == WAVE_PULSE)
    if pulse.size:
        raise NetlistError(f"{kind} {table.names[pulse[0]]!r}: PULSE sources are not supported by harmonic balance "
                           "(use a SIN source, or transient analysis)")
    dc = wave == WAVE_DC
    out[0, dc] = table["dc"][dc]
    for i in np.flatnonzero(wave == WAVE_SIN):
        name = table.names[i]
        freq, damping = table["sin_freq"][i], table["sin_damping"][i]
        if damping != 0.0:
            raise NetlistError(f"{kind} {name!r}: a damped SIN (damping {damping:g} 1/s) is not periodic; "
                               "harmonic balance needs damping = 0")
        ratio = freq / f0
        k = int(round(ratio))
        if freq <= 0.0 or abs(ratio - k) > 1e-9 * max(ratio, 1.0) or k == 0:
            raise NetlistError(
                f"{kind} {name!r}: SIN frequency {format_frequency(freq)} is not a harmonic of f0 = "
                f"{format_frequency(f0)} (ratio {ratio:.6g}): choose f0 so that every tone is a whole multiple "
                "(physnet.solvers.planner.common_base_frequency finds one)"
            )
        if k > n_harmonics:
            raise NetlistError(f"{kind} {name!r}: SIN at {format_frequency(freq)} is harmonic {k} of f0 but only "
                               f"{n_harmonics} harmonics are kept: use n_harmonics >= {k}")
        out[0, i] += table["sin_offset"][i]
        # A sin(2π f (t - td) + φ) = Re(-j A e^{j(φ - 2π f td)} e^{j 2π f t}): the delay is a phase shift.
        phase = np.deg2rad(table["sin_phase"][i]) - 2.0 * np.pi * freq * table["sin_delay"][i]
        out[k, i] += -1j * table["sin_amplitude"][i] * np.exp(1j * phase)
    return out


def source_phasors(system: System, f0: float, n_harmonics: int) -> tuple[NDArray, NDArray]:
    """Phasors of the voltage and current sources at harmonics ``0..K`` of ``f0``.

    A constant source contributes its ``dc`` value at harmonic 0. A SIN
    source, ``offset + A sin(2π f (t - td) + φ)``, contributes its offset at
    harmonic 0 and ``-j A e^{j(φ - 2π f td)}`` at harmonic ``f / f0`` (its
    ``dc`` value is ignored, as in SPICE's transient analysis; the periodic
    steady state treats the delay as a phase shift). The small-signal ``ac``
    values are ignored.

    Returns
    -------
    E : ndarray of complex, shape (K+1, n_vsources)
    I : ndarray of complex, shape (K+1, n_isources)

    Raises
    ------
    NetlistError
        A SIN frequency is not a harmonic ``1..K`` of ``f0``, a SIN is
        damped, or a source is a PULSE.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", sin=(0.5, 2.0, 3e3))
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> E, I = source_phasors(net.compile(), 1e3, 4)
    >>> E[:, 0].round(12).tolist(), I.shape
    ([(0.5+0j), 0j, 0j, -2j, 0j], (5, 0))
    """
    return (_table_phasors(system["vsource"], f0, n_harmonics),
            _table_phasors(system["isource"], f0, n_harmonics))


def _harmonic_array(name: str, values: ArrayLike, shape: tuple[int, int]) -> NDArray[np.complex128]:
    arr = np.array(values, dtype=np.complex128)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape (K+1, {shape[1]}) = {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if np.any(arr[0].imag != 0):
        raise ValueError(f"{name}[0] is the DC part and must be real")
    return arr


def _extra_injections(system: System, values: ArrayLike | Mapping | None, n_harmonics: int) -> NDArray[np.complex128]:
    shape = (n_harmonics + 1, system.n_nodes)
    if values is None:
        return np.zeros(shape, dtype=np.complex128)
    if isinstance(values, Mapping):
        out = np.zeros(shape, dtype=np.complex128)
        for key, phasor in values.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"injections key {key!r} must be (node, harmonic)")
            node, k = key
            if not 0 <= int(k) <= n_harmonics:
                raise ValueError(f"injections key {key!r}: harmonic {k} is out of range 0..{n_harmonics}")
            out[int(k), system.node_index(node)] += phasor
        values = out
    return _harmonic_array("injections", values, shape)


# -------------------------------------------------------------- devices
def diode_waveforms_numpy(v: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float,
                          gmin: float = GMIN) -> tuple[NDArray, NDArray]:
    """Numpy twin of :func:`diode_waveforms`.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[-1.0, 0.0, 0.6], [0.1, 0.2, 0.3]])
    >>> params = (np.array([1e-14, 1e-12]), np.array([1.0, 2.0]), np.array([0.0, 10.0]), 0.025864917)
    >>> twin, kernel = diode_waveforms_numpy(v, *params), diode_waveforms(v, *params)
    >>> [bool(np.allclose(a, b, rtol=1e-12, atol=0.0)) for a, b in zip(twin, kernel)]
    [True, True]
    """
    cols = [np.asarray(p, dtype=np.float64)[:, None] for p in (is_, n, rs)]
    with np.errstate(over="ignore", invalid="ignore"):
        vd = junction_voltages_numpy(v, *cols, vt, gmin)
        return junction_current(vd, *cols, vt, gmin)


def diode_waveforms(v: NDArray, is_: NDArray, n: NDArray, rs: NDArray, vt: float,
                    gmin: float = GMIN) -> tuple[NDArray, NDArray]:
    """Current (A) and terminal conductance (S) of each diode at each time sample (numba kernel).

    Parameters
    ----------
    v : ndarray, shape (n_diodes, n_time)
        Anode-to-cathode voltage waveforms (V).
    is_, n, rs : ndarray, shape (n_diodes,)
        Saturation current (A), emission coefficient, series resistance (ohm).
    vt : float
        Thermal voltage (V).
    gmin : float, optional
        Conductance across each junction (S).

    Returns
    -------
    i, g : ndarray, shape (n_diodes, n_time)

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[-1.0, 0.0, 0.6]])
    >>> i, g = diode_waveforms(v, np.array([1e-14]), np.array([1.0]), np.array([0.0]), 0.025864917)
    >>> bool(np.allclose(i, 1e-14 * np.expm1(v / 0.025864917) + 1e-12 * v, rtol=1e-12))
    True
    """
    from physnet._numba_hb import diode_waveforms as kernel

    v = np.ascontiguousarray(v, dtype=np.float64)
    params = [np.ascontiguousarray(np.broadcast_to(p, v.shape[:1]), dtype=np.float64) for p in (is_, n, rs)]
    i, g = np.empty_like(v), np.empty_like(v)
    kernel(v, *params, float(vt), float(gmin), i, g)
    return i, g


# ------------------------------------------------- time grid and basis
def _to_time(H: NDArray, n_time: int) -> NDArray[np.float64]:
    """Samples ``(m, N)`` of ``Re Σ_k H[k] e^{j k ω0 t}`` for phasors ``H`` of shape (K+1, m)."""
    spec = np.zeros((H.shape[1], n_time // 2 + 1), dtype=np.complex128)
    spec[:, 0] = n_time * H[0].real
    spec[:, 1:H.shape[0]] = 0.5 * n_time * H[1:].T
    return np.fft.irfft(spec, n=n_time, axis=1)


def _to_harmonics(x: NDArray, n_harmonics: int) -> NDArray[np.complex128]:
    """Phasors (K+1, m) of sampled periodic signals ``x`` (m, N), truncated to K harmonics."""
    c = np.fft.rfft(x, axis=1)[:, :n_harmonics + 1].T / x.shape[1]
    c[1:] *= 2.0
    c[0] = c[0].real
    return c


def _basis(n_harmonics: int, n_time: int) -> tuple[NDArray, NDArray]:
    """Real basis maps: samples = ``inv @ c`` and ``c = fwd @ samples``, ``c = (V_0, Re V_1, Im V_1, …)``."""
    k = np.arange(1, n_harmonics + 1)
    angle = 2.0 * np.pi * np.outer(np.arange(n_time), k) / n_time
    inv = np.empty((n_time, 2 * n_harmonics + 1))
    inv[:, 0] = 1.0
    inv[:, 1::2], inv[:, 2::2] = np.cos(angle), -np.sin(angle)
    fwd = inv.T * (2.0 / n_time)
    fwd[0] = 1.0 / n_time
    return fwd, inv


def _components(H: NDArray) -> NDArray[np.float64]:
    """Phasors (K+1, m) -> real components (m, 2K+1)."""
    out = np.empty((H.shape[1], 2 * H.shape[0] - 1))
    out[:, 0] = H[0].real
    out[:, 1::2], out[:, 2::2] = H[1:].real.T, H[1:].imag.T
    return out


def _phasors(W: NDArray) -> NDArray[np.complex128]:
    """Real components (m, 2K+1) -> phasors (K+1, m)."""
    H = np.empty(((W.shape[1] + 1) // 2, W.shape[0]), dtype=np.complex128)
    H[0] = W[:, 0]
    H[1:] = (W[:, 1::2] + 1j * W[:, 2::2]).T
    return H


# --------------------------------------------------------------- problem
def _restriction(reduction: Reduction) -> sp.csr_matrix:
    """``Pᵀ`` (n_free × n_nodes): sums node quantities into their supernodes."""
    mask = reduction.free >= 0
    return sp.csr_matrix((np.ones(mask.sum()), (reduction.free[mask], np.flatnonzero(mask))),
                         shape=(reduction.n_free, len(reduction.free)))


def _incidence(n_nodes: int, a: NDArray, b: NDArray) -> sp.csr_matrix:
    m = len(a)
    return sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[a, b], np.r_[np.arange(m), np.arange(m)])),
                         shape=(n_nodes, m))


def _each(A: sp.spmatrix, X: NDArray) -> NDArray:
    """``A @ X[k]`` for every ``k`` of ``X`` (K, n, ...), in one sparse product."""
    flat = np.moveaxis(X, 1, 0).reshape(X.shape[1], X.shape[0] * math.prod(X.shape[2:]))
    return np.moveaxis((A @ flat).reshape((A.shape[0], X.shape[0]) + X.shape[2:]), 0, 1)


@dataclass(frozen=True, eq=False)
class _Side:
    """One reduction of the nodal equations: DC (harmonic 0) or AC (harmonics 1..K)."""

    op: NodalOperator
    w: NDArray  # linear edge admittances, (n_edges,) at DC or (K, n_edges) for the harmonics
    B: sp.csr_matrix  # node incidence of the stamped edges
    Pt: sp.csr_matrix  # Pᵀ
    diodes: slice
    U: sp.csc_matrix  # reduced diode incidence, (Pᵀ B)[:, diodes]
    Ut: sp.csr_matrix  # its transpose


def _side(system: System, op: NodalOperator, w: NDArray) -> _Side:
    B = _incidence(system.n_nodes, op.a, op.b)
    Pt = _restriction(op.reduction)
    diodes = op.edge_slice("diode")
    U = (Pt @ B[:, diodes]).tocsc()
    U.eliminate_zeros()  # a diode inside one supernode has no reduced incidence at all
    return _Side(op, w, B, Pt, diodes, U, U.T.tocsr())


@dataclass(frozen=True, eq=False)
class _Problem:
    system: System
    K: int
    N: int
    dc: _Side
    ac: _Side
    reactive: bool  # harmonics 1..K use their own (complex) matrices
    da: NDArray
    db: NDArray
    is_: NDArray
    n: NDArray
    rs: NDArray
    vt: float
    fwd: NDArray
    inv: NDArray

    @property
    def n_diodes(self) -> int:
        return len(self.da)


def _problem(system: System, f0: float, K: int, N: int, g, pipe_k, backend: str) -> _Problem:
    op0 = nodal_operator(system, "dc", backend)
    w0 = edge_weights(system, op0, g, pipe_k)
    reactive = K > 0 and (system.has("capacitor") or system.has("inductor"))
    dc = _side(system, op0, w0)
    if reactive:
        op1 = nodal_operator(system, "ac", backend)
        omega = 2.0 * np.pi * f0 * np.arange(1, K + 1)[:, None]
        w1 = np.broadcast_to(edge_weights(system, op1, g, pipe_k), (K, op1.pattern.n_edges)).astype(np.complex128)
        w1[:, op1.edge_slice("capacitor")] = 1j * omega * system["capacitor"]["c"]
        w1[:, op1.edge_slice("inductor")] = 1.0 / (1j * omega * system["inductor"]["l"])
        ac = _side(system, op1, w1)
    else:
        ac = replace(dc, w=np.broadcast_to(w0, (K, len(w0))))
    d = system["diode"]
    fwd, inv = _basis(K, N)
    return _Problem(system, K, N, dc, ac, reactive, d.a, d.b, d["is_"], d["n"], d["rs"],
                    thermal_voltage(system.temperature), fwd, inv)


@dataclass(frozen=True)
class _Drive:
    """Excitation: source values (K+1, n_vsources) and node injections (K+1, n_nodes)."""

    E: NDArray[np.complex128]
    inj: NDArray[np.complex128]

    def toward(self, full: "_Drive", lam: float) -> "_Drive":
        return _Drive(self.E + lam * (full.E - self.E), self.inj + lam * (full.inj - self.inj))


@dataclass(frozen=True, eq=False)
class _State:
    """An iterate and everything evaluated at it."""

    x0: NDArray[np.float64]  # reduced unknowns, harmonic 0
    x: NDArray[np.complex128]  # reduced unknowns, harmonics 1..K, shape (K, n_ac)
    V: NDArray[np.complex128]  # node phasors (K+1, n_nodes)
    v_t: NDArray[np.float64]  # diode voltage waveforms (n_diodes, N)
    g_t: NDArray[np.float64]  # diode conductance waveforms (n_diodes, N)
    F0: NDArray[np.float64]  # KCL residual, harmonic 0
    F: NDArray[np.complex128]  # KCL residual, harmonics 1..K
    leaving: NDArray[np.complex128]  # current leaving each node through the stamped elements, (K+1, n_nodes)
    scale: float  # largest current in the network (A)

    @property
    def residual(self) -> float:
        return float(max(np.max(np.abs(self.F0), initial=0.0), np.max(np.abs(self.F), initial=0.0)))

    @property
    def norm(self) -> float:
        return float(np.sqrt(np.sum(self.F0 ** 2) + np.sum(np.abs(self.F) ** 2)))


def _potentials(pb: _Problem, drive: _Drive, x0: NDArray, x: NDArray) -> NDArray[np.complex128]:
    system = pb.system
    V = np.empty((pb.K + 1, system.n_nodes), dtype=np.complex128)
    red0, red1 = pb.dc.op.reduction, pb.ac.op.reduction
    V[0] = red0.potentials(x0, short_values(system, red0, drive.E[0].real))
    if pb.K:
        V[1:] = red1.potentials(x, short_values(system, red1, drive.E[1:]))
    return V


def _evaluate(pb: _Problem, drive: _Drive, x0: NDArray, x: NDArray, gmin: float) -> _State:
    """Residual and device waveforms at ``(x0, x)``; a wild iterate gives an infinite norm, not a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _evaluate_at(pb, drive, x0, x, gmin)


def _evaluate_at(pb: _Problem, drive: _Drive, x0: NDArray, x: NDArray, gmin: float) -> _State:
    V = _potentials(pb, drive, x0, x)
    vd = V[:, pb.da] - V[:, pb.db]
    v_t = _to_time(vd, pb.N)
    i_t, g_t = diode_waveforms(v_t, pb.is_, pb.n, pb.rs, pb.vt, gmin)
    Id = _to_harmonics(i_t, pb.K)
    dc, ac = pb.dc, pb.ac
    flows0 = dc.w * (V[0, dc.op.a] - V[0, dc.op.b]).real
    flows0[dc.diodes] = Id[0].real
    flows = ac.w * (V[1:, ac.op.a] - V[1:, ac.op.b])
    flows[:, ac.diodes] = Id[1:]
    leaving = np.empty_like(V)
    leaving[0] = dc.B @ flows0 - drive.inj[0].real
    if pb.K:
        leaving[1:] = (ac.B @ flows.T).T - drive.inj[1:]
    scale = max(np.max(np.abs(flows0), initial=0.0), np.max(np.abs(flows), initial=0.0),
                np.max(np.abs(drive.inj), initial=0.0))
    return _State(x0, x, V, v_t, g_t, (dc.Pt @ leaving[0]).real, (ac.Pt @ leaving[1:].T).T, leaving, float(scale))


# ------------------------------------------------------------ Newton step
class _Blocks:
    """Factorizations of ``M_k = A_k + U diag(ḡ) Uᵀ`` for every harmonic."""

    def __init__(self, pb: _Problem, gbar: NDArray) -> None:
        self.pb = pb
        self.shared: NDArray | None = None  # M⁻¹ U when every harmonic shares one real M
        w = pb.dc.w.copy()
        w[pb.dc.diodes] = gbar
        self.f0 = pb.dc.op.factorizer.factor(pb.dc.op.matrix_data(w), spd=bool(np.all(w[w != 0] > 0)))
        self.fk = []
        if pb.reactive:
            for wk in pb.ac.w:
                wk = wk.copy()
                wk[pb.ac.diodes] = gbar
                self.fk.append(pb.ac.op.factorizer.factor(pb.ac.op.matrix_data(wk), spd=False))

    def solve(self, R0: NDArray, R: NDArray) -> tuple[NDArray, NDArray]:
        """``M⁻¹`` on right-hand sides ``R0`` (n_dc, m) real and ``R`` (K, n_ac, m) complex."""
        if self.pb.reactive:
            return self.f0.solve(R0), np.stack([f.solve(r) for f, r in zip(self.fk, R)])
        K, n, m = R.shape
        stacked = np.concatenate([R0[None], R.real, R.imag]).transpose(1, 0, 2).reshape(n, (2 * K + 1) * m)
        Y = self.f0.solve(stacked).reshape(n, 2 * K + 1, m).transpose(1, 0, 2)
        return Y[0], Y[1:K + 1] + 1j * Y[K + 1:]

    def impedance(self) -> tuple[NDArray, NDArray]:
        """``Z_k = Uᵀ M_k⁻¹ U`` between the diodes: real (n_d, n_d) at DC and (K, n_d, n_d) complex."""
        pb = self.pb
        U0, U1 = pb.dc.U, pb.ac.U
        if not pb.reactive:
            self.shared = self.f0.solve(U0.toarray())
            Z0 = pb.dc.Ut @ self.shared
            return Z0, np.broadcast_to(Z0, (pb.K,) + Z0.shape)
        Z0 = pb.dc.Ut @ self.f0.solve(U0.toarray())
        U1d = U1.toarray().astype(np.complex128)
        return Z0, np.stack([pb.ac.Ut @ f.solve(U1d) for f in self.fk])

    def correction(self, Y: NDArray) -> tuple[NDArray, NDArray]:
        """``M⁻¹ U Y`` for diode current phasors ``Y`` (K+1, n_d): (n_dc,) real and (K, n_ac) complex."""
        if self.shared is not None:  # after impedance(): a small dense product instead of a solve
            return self.shared @ Y[0].real, (self.shared @ Y[1:].T).T
        c0, c = self.solve(*_diode_injection(self.pb, Y[:, :, None]))
        return c0[:, 0], c[:, :, 0]

    def diode_response(self, Y: NDArray) -> NDArray:
        """Diode voltage phasors ``Uᵀ M⁻¹ U Y`` for diode current phasors ``Y`` (K+1, n_d, m)."""
        return _diode_phasors(self.pb, *self.solve(*_diode_injection(self.pb, Y)))


def _diode_phasors(pb: _Problem, h0: NDArray, h: NDArray) -> NDArray[np.complex128]:
    """Diode voltage phasors (K+1, n_d, ...) of reduced vectors ``h0`` (n_dc, ...) and ``h`` (K, n_ac, ...)."""
    out = np.empty((pb.K + 1, pb.n_diodes) + h0.shape[1:], dtype=np.complex128)
    out[0] = pb.dc.Ut @ h0
    out[1:] = _each(pb.ac.Ut, h)
    return out


def _diode_injection(pb: _Problem, Y: NDArray) -> tuple[NDArray, NDArray]:
    """Reduced right-hand sides ``(U Y_0, U Y_k)`` of diode current phasors ``Y`` (K+1, n_d, ...)."""
    return pb.dc.U @ Y[0].real, _each(pb.ac.U, Y[1:])


def _real_impedance(Z0: NDArray, Z: NDArray) -> NDArray[np.float64]:
    """``Z`` in the real component basis, shape (n_d, C, n_d, C), C = 2K+1."""
    nd, K = Z0.shape[0], Z.shape[0]
    C = 2 * K + 1
    out = np.zeros((nd, C, nd, C))
    out[:, 0, :, 0] = Z0
    for k in range(K):
        A, B = Z[k].real, Z[k].imag
        re, im = 2 * k + 1, 2 * k + 2
        out[:, re, :, re], out[:, re, :, im] = A, -B
        out[:, im, :, re], out[:, im, :, im] = B, A
    return out


def _newton_step(pb: _Problem, state: _State, options: HBOptions) -> tuple[NDArray, NDArray]:
    """Solve ``J δ = -F`` (see module notes); returns ``(δx0, δx)``.

    GMRES stopping short of its tolerance still gives a descent direction
    (inexact Newton); the line search and the residual test judge it.
    """
    gbar = state.g_t.mean(axis=1)
    blocks = _Blocks(pb, gbar)
    y0, y = blocks.solve(-state.F0[:, None], -state.F[:, :, None])
    y0, y = y0[:, 0], y[:, :, 0]
    nd, C = pb.n_diodes, 2 * pb.K + 1
    if nd == 0:
        return y0, y
    T = pb.fwd @ (state.g_t[:, :, None] * pb.inv)  # (n_d, C, C) conversion matrices
    D = T - gbar[:, None, None] * np.eye(C)
    rhs = _components(_diode_phasors(pb, y0, y)).ravel()
    size = nd * C
    if options.linear == "direct" or (options.linear == "auto" and size <= options.direct_max):
        ZD = np.einsum("icjd,jde->icje", _real_impedance(*blocks.impedance()), D).reshape(size, size)
        ZD[np.diag_indices(size)] += 1.0
        with warnings.catch_warnings():  # near-singular at wild iterates; the line search judges the step
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            W = scipy.linalg.solve(ZD, rhs, check_finite=False).reshape(nd, C)
    else:
        def capacitance(w: NDArray) -> NDArray:
            w = w.reshape(nd, C)
            currents = _phasors(np.einsum("icd,id->ic", D, w))[:, :, None]
            return w.ravel() + _components(blocks.diode_response(currents)[:, :, 0]).ravel()

        op = LinearOperator((size, size), matvec=capacitance, dtype=np.float64)
        restart = min(options.gmres_restart, size)
        W = gmres(op, rhs, rtol=options.gmres_rtol, atol=0.0, restart=restart,
                  maxiter=-(-options.gmres_maxiter // restart))[0]
        W = W.reshape(nd, C)
    Y = _phasors(np.einsum("icd,id->ic", D, W))  # diode current phasors (K+1, n_d)
    c0, c = blocks.correction(Y)
    return y0 - c0, y - c


def _junction_step_limit(pb: _Problem, v_t: NDArray, dv: NDArray, gmin: float) -> float:
    """Largest step length keeping every junction sample close to where SPICE's pnjlim would allow.

    ``v_t`` are the diode voltage waveforms (n_d, N) and ``dv`` the diode
    voltage phasors (K+1, n_d) of the Newton direction. Below the critical
    voltage a junction may move freely; above it, by ``nVt ln(1 + Δ/nVt)``
    at most, as in ``pnjlim``.
    """
    if pb.n_diodes == 0:
        return 1.0
    v_new = v_t + _to_time(dv, pb.N)
    old = junction_voltages(v_t, pb.is_[:, None], pb.n[:, None], pb.rs[:, None], pb.vt, gmin)
    new = junction_voltages(v_new, pb.is_[:, None], pb.n[:, None], pb.rs[:, None], pb.vt, gmin)
    nvt = (pb.n * pb.vt)[:, None]
    vcrit = critical_voltage(pb.is_, pb.n, pb.vt)[:, None]
    rise = new - old
    headroom = np.maximum(vcrit - old, 0.0)  # the rise allowed below the critical voltage
    big = (new > vcrit) & (rise > headroom + 2.0 * nvt)
    if not big.any():
        return 1.0
    nvt = np.broadcast_to(nvt, big.shape)[big]
    allowed = headroom[big] + nvt * np.log1p((rise[big] - headroom[big]) / nvt)
    return float(min(1.0, np.min(allowed / rise[big])))


# ------------------------------------------------------------- formulations
_Point = tuple[NDArray, ...]


class _Full:
    """Newton on the reduced node unknowns of every harmonic (any number of diodes)."""

    def __init__(self, pb: _Problem, base: _Drive, full: _Drive, options: HBOptions) -> None:
        self.pb, self.base, self.full, self.options = pb, base, full, options

    def evaluate(self, lam: float, point: _Point) -> _State:
        drive = self.full if lam == 1.0 else self.base.toward(self.full, lam)
        return _evaluate(self.pb, drive, *point, self.options.gmin)

    def point(self, state: _State) -> _Point:
        return state.x0, state.x

    def start(self, V: NDArray, lam: float) -> _Point:
        return _start(self.pb, self.full if lam == 1.0 else self.base, V)

    def direction(self, state: _State) -> _Point:
        return _newton_step(self.pb, state, self.options)

    def port_change(self, direction: _Point) -> NDArray:
        return _diode_phasors(self.pb, *direction)

    def within_tolerance(self, state: _State) -> bool:
        return state.residual <= self.options.abstol + 1e-9 * state.scale

    def size(self, state: _State) -> float:
        return float(np.max(np.abs(state.V), initial=0.0))

    def failure(self, state: _State) -> str:
        worst = np.r_[np.max(np.abs(state.F0), initial=0.0), np.max(np.abs(state.F), axis=1, initial=0.0)]
        return f"largest KCL residual {state.residual:.3g} A, at harmonic {int(np.argmax(worst))}"


@dataclass(frozen=True, eq=False)
class _PortState:
    """A port iterate: diode voltage phasors and everything evaluated at them."""

    d: NDArray[np.complex128]  # port (diode) voltage phasors (K+1, n_d)
    v_t: NDArray[np.float64]  # diode voltage waveforms (n_d, N)
    g_t: NDArray[np.float64]  # diode conductance waveforms (n_d, N)
    Q: NDArray[np.complex128]  # port current phasors i - g_ref d (K+1, n_d)
    F: NDArray[np.complex128]  # port residual d + Z Q - o (K+1, n_d), volts

    @property
    def residual(self) -> float:
        return float(np.max(np.abs(self.F), initial=0.0))

    @property
    def norm(self) -> float:
        return float(np.sqrt(np.sum(np.abs(self.F) ** 2)))


class _Ports:
    """Newton on the diode port voltages only (see :mod:`physnet.solvers.hb_ports`)."""

    def __init__(self, pb: _Problem, ports: HarmonicPorts, base: _Drive, full: _Drive, options: HBOptions) -> None:
        self.pb, self.ports, self.options = pb, ports, options
        self.base, self.full = base, full
        self.full_engine = _Full(pb, base, full, options)

    def drive_scale(self, lam: float) -> NDArray[np.float64]:
        """Scale of each harmonic's excitation at ``lam`` (harmonic 0 is the same for the base and full drives)."""
        scale = np.full(self.pb.K + 1, lam)
        scale[0] = 1.0
        return scale

    def evaluate(self, lam: float, point: _Point) -> _PortState:
        with np.errstate(over="ignore", invalid="ignore"):
            return self._evaluate(lam, point[0])

    def _evaluate(self, lam: float, d: NDArray) -> _PortState:
        pb, ports = self.pb, self.ports
        v_t = _to_time(d, pb.N)
        i_t, g_t = diode_waveforms(v_t, pb.is_, pb.n, pb.rs, pb.vt, self.options.gmin)
        Q = _to_harmonics(i_t, pb.K) - ports.g_ref * d
        o = ports.open_ports if lam == 1.0 else ports.open_ports * self.drive_scale(lam)[:, None]
        F = d + np.einsum("kij,kj->ki", ports.Z, Q) - o
        return _PortState(d, v_t, g_t, Q, F)

    def point(self, state: _PortState) -> _Point:
        return (state.d,)

    def start(self, V: NDArray, lam: float) -> _Point:
        """Port voltages of the free nodes at ``V`` and the held nodes at their sources (as the full start)."""
        drive = self.full if lam == 1.0 else self.base
        V = _potentials(self.pb, drive, *_start(self.pb, drive, V))
        return (V[:, self.pb.da] - V[:, self.pb.db],)

    def direction(self, state: _PortState) -> _Point:
        return (_port_step(self.pb, self.ports, state, self.options),)

    def port_change(self, direction: _Point) -> NDArray:
        return direction[0]

    def within_tolerance(self, state: _PortState) -> bool:
        return state.residual <= self.options.vntol + self.options.reltol * self.size(state)

    def size(self, state: _PortState) -> float:
        return float(np.max(np.abs(state.d), initial=0.0))

    def failure(self, state: _PortState) -> str:
        worst = np.max(np.abs(state.F), axis=1)
        return f"largest port residual {state.residual:.3g} V, at harmonic {int(np.argmax(worst))}"

    def dc_point(self, fallback: Callable[[], NDArray]) -> NDArray:
        """Node phasors of the DC operating point (harmonic 0 only), by :func:`_dc_port_voltages` or ``fallback()``."""
        d0 = _dc_port_voltages(self.pb, self.ports, self.options)
        if d0 is None:
            return fallback()
        i0, _ = diode_waveforms(d0[:, None], self.pb.is_, self.pb.n, self.pb.rs, self.pb.vt, self.options.gmin)
        V = np.zeros((self.pb.K + 1, self.pb.system.n_nodes), dtype=np.complex128)
        V[0] = self.ports.dc_potentials(i0[:, 0] - self.ports.g_ref * d0)
        return V

    def network_state(self, state: _PortState) -> _State:
        """The full state (node phasors, KCL residual) of converged port voltages."""
        ports = self.ports
        V = ports.open_potentials - ports.port_potentials(state.Q)
        return self.full_engine.evaluate(1.0, _start(self.pb, self.full, V))


_PORT_DIRECT_SMALL = 256
"""``linear="auto"`` solves port systems up to this size densely at once; larger ones try GMRES first."""


def _dc_port_voltages(pb: _Problem, ports: HarmonicPorts, options: HBOptions) -> NDArray | None:
    """Diode voltages of the DC operating point by Newton on the ``n_d`` ports, or None if it does not converge.

    Solves ``d + Z_0 q(d) = o_0`` iterating on the junction voltages, which
    start at their critical voltages and are limited as in SPICE's
    ``pnjlim`` (as :mod:`physnet.learning.fp_ports` does for a batch).
    """
    is_, n, rs, vt, gmin = pb.is_, pb.n, pb.rs, pb.vt, options.gmin
    Z0, o0, g_ref = ports.Z[0].real, ports.open_ports[0].real, ports.g_ref
    vj = critical_voltage(is_, n, vt)
    d = np.zeros(pb.n_diodes)
    for it in range(options.max_iter):
        limited = it == 0
        if it:
            raw = junction_voltages(d, is_, n, rs, vt, gmin)
            vj = limit_junction(raw, vj, is_, n, vt)
            limited = bool(np.any(vj != raw))
        current, slope = junction_current(vj, is_, n, rs, vt, gmin)
        offset = current - slope * (vj + rs * current)  # i(d) ≈ slope d + offset about the present terminal voltage
        try:
            new = np.linalg.solve(np.eye(pb.n_diodes) + Z0 * (slope - g_ref), o0 - Z0 @ offset)
        except np.linalg.LinAlgError:
            return None
        step = float(np.max(np.abs(new - d)))
        d = new
        if not np.all(np.isfinite(d)):
            return None
        if not limited and step <= options.vntol + options.reltol * float(np.max(np.abs(d))):
            return d
    return None


def _port_step(pb: _Problem, ports: HarmonicPorts, state: _PortState, options: HBOptions) -> NDArray:
    """Newton direction of the port equations, ``(I + Z (T - g_ref)) δ = -F``, as phasors (K+1, n_d).

    ``"direct"`` solves the dense real system; ``"gmres"`` iterates with a
    matrix-free product (two FFTs per diode) right-preconditioned by the
    average-conductance system, block diagonal over harmonics. ``"auto"``
    takes the dense solve for small systems, else GMRES, falling back to the
    dense solve (up to ``direct_max`` unknowns) when GMRES misses its
    tolerance.
    """
    size = pb.n_diodes * (2 * pb.K + 1)
    if options.linear == "direct" or (options.linear == "auto" and size <= _PORT_DIRECT_SMALL):
        return _port_step_direct(pb, ports, state)
    step, ok = _port_step_gmres(pb, ports, state, options)
    if ok or options.linear == "gmres" or size > options.direct_max:
        return step
    return _port_step_direct(pb, ports, state)


def _port_jacobian_product(pb: _Problem, ports: HarmonicPorts, g_t: NDArray) -> Callable[[NDArray], NDArray]:
    """``δ ↦ δ + Z_k [(g - g_ref) δ]_k`` on port phasors (K+1, n_d): the port Jacobian, matrix-free."""
    excess = g_t - ports.g_ref[:, None]

    def product(delta: NDArray) -> NDArray:
        return delta + np.einsum("kij,kj->ki", ports.Z, _to_harmonics(excess * _to_time(delta, pb.N), pb.K))

    return product


def _port_step_gmres(pb: _Problem, ports: HarmonicPorts, state: _PortState,
                     options: HBOptions) -> tuple[NDArray, bool]:
    """GMRES on the port Newton system; returns the direction and whether it met ``gmres_rtol``."""
    nd, C = pb.n_diodes, 2 * pb.K + 1
    shift = state.g_t.mean(axis=1) - ports.g_ref
    precondition = np.linalg.inv(np.eye(nd) + ports.Z * shift)  # (I + Z_k diag(ḡ - g_ref))⁻¹ per harmonic
    jacobian = _port_jacobian_product(pb, ports, state.g_t)

    def unprecondition(y: NDArray) -> NDArray:
        return np.einsum("kij,kj->ki", precondition, _phasors(y.reshape(nd, C)))

    op = LinearOperator((nd * C, nd * C), dtype=np.float64,
                        matvec=lambda y: _components(jacobian(unprecondition(y))).ravel())
    rhs = -_components(state.F).ravel()
    restart = min(options.gmres_restart, nd * C)
    y, _ = gmres(op, rhs, rtol=options.gmres_rtol, atol=0.0, restart=restart,
                 maxiter=-(-options.gmres_maxiter // restart))
    met = np.linalg.norm(op.matvec(y) - rhs) <= 10.0 * options.gmres_rtol * np.linalg.norm(rhs)
    return unprecondition(y), bool(met)


def _port_step_direct(pb: _Problem, ports: HarmonicPorts, state: _PortState) -> NDArray:
    """The port Newton system solved densely.

    ``Z`` is block diagonal over harmonics and ``T - g_ref`` over diodes, so
    the real Jacobian is assembled block by block from the ``K+1`` port
    impedances and the diodes' conversion matrices.
    """
    nd, K = pb.n_diodes, pb.K
    C = 2 * K + 1
    D = conversion_matrices(state.g_t, K)
    D[:, np.arange(C), np.arange(C)] -= ports.g_ref[:, None]
    J = np.empty((nd, C, nd, C))
    J[:, 0] = np.einsum("ij,je->ije", ports.Z[0].real, D[:, 0])
    A, B = ports.Z[1:].real, ports.Z[1:].imag
    D_re, D_im = D[:, 1::2], D[:, 2::2]  # (n_d, K, C)
    J[:, 1::2] = np.einsum("kij,jke->ikje", A, D_re) - np.einsum("kij,jke->ikje", B, D_im)
    J[:, 2::2] = np.einsum("kij,jke->ikje", B, D_re) + np.einsum("kij,jke->ikje", A, D_im)
    J = J.reshape(nd * C, nd * C)
    J[np.diag_indices(nd * C)] += 1.0
    with warnings.catch_warnings():  # near-singular at wild iterates; the line search judges the step
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        W = scipy.linalg.solve(J, -_components(state.F).ravel(), check_finite=False, overwrite_a=True)
    return _phasors(W.reshape(nd, C))


def _newton(engine: _Full | _Ports, lam: float, state: _State | _PortState,
            options: HBOptions) -> tuple[_State | _PortState, int, bool]:
    """Damped Newton from ``state`` (evaluated at drive fraction ``lam``); returns (last state, iterations, converged)."""
    if not np.isfinite(state.norm):
        return state, 0, False
    pb = engine.pb
    for it in range(1, options.max_iter + 1):
        try:
            direction = engine.direction(state)
        except np.linalg.LinAlgError:  # an exactly singular Jacobian: let the caller try another path
            return state, it, False
        alpha = _junction_step_limit(pb, state.v_t, engine.port_change(direction), options.gmin)
        point = engine.point(state)
        while True:
            trial = engine.evaluate(lam, tuple(p + alpha * d for p, d in zip(point, direction)))
            if np.isfinite(trial.norm) and (trial.norm <= (1.0 - 1e-4 * alpha) * state.norm
                                            or engine.within_tolerance(trial)):
                break
            alpha *= 0.5
            if alpha < 1e-10:
                return state, it, False
        step = alpha * max(np.max(np.abs(d), initial=0.0) for d in direction)
        state = trial
        small = step <= options.vntol + options.reltol * engine.size(state)
        if alpha == 1.0 and (small or pb.n_diodes == 0) and engine.within_tolerance(state):
            return state, it, True
    return state, options.max_iter, False


# ------------------------------------------------------------------ solver
def _reduced(reduction: Reduction, v: NDArray, offset_values: NDArray) -> NDArray:
    """Reduced unknowns of node potentials ``v`` (inverse of ``Reduction.potentials``)."""
    shifted = np.asarray(v) - reduction.S @ np.asarray(offset_values)
    x = np.zeros(reduction.n_free, dtype=shifted.dtype)
    mask = reduction.free >= 0
    x[reduction.free[mask]] = shifted[mask]
    return x


def _start(pb: _Problem, drive: _Drive, V: NDArray) -> tuple[NDArray, NDArray]:
    system = pb.system
    red0, red1 = pb.dc.op.reduction, pb.ac.op.reduction
    x0 = _reduced(red0, V[0].real, short_values(system, red0, drive.E[0].real))
    x = np.array([_reduced(red1, V[k], short_values(system, red1, drive.E[k])) for k in range(1, pb.K + 1)],
                 dtype=np.complex128).reshape(pb.K, red1.n_free)
    return x0, x


def _initial_phasors(initial: HBResult | ArrayLike, K: int, n_nodes: int) -> NDArray[np.complex128]:
    V0 = np.asarray(initial.V if isinstance(initial, HBResult) else initial, dtype=np.complex128)
    if V0.ndim != 2 or V0.shape[1] != n_nodes:
        raise ValueError(f"initial must be an HBResult or phasors of shape (K+1, {n_nodes}), got {V0.shape}")
    V = np.zeros((K + 1, n_nodes), dtype=np.complex128)
    V[:min(K + 1, len(V0))] = V0[:K + 1]
    V[0] = V[0].real
    return V


_START_OVERSHOOT = 10.0
"""Newton is not started where a junction sample sits more than this many ``nVt`` above its critical
voltage: from far up the exponential, Newton descends by about ``nVt`` per iteration."""


def _overshoot(pb: _Problem, v_t: NDArray, gmin: float) -> float:
    """Largest excess of a junction sample of the waveforms ``v_t`` over its critical voltage, in units of ``nVt``.

    Diodes held between fixed potentials (across a voltage source) are left
    out: no iteration can change their voltage.
    """
    free = np.flatnonzero((np.diff(pb.dc.U.indptr) > 0) | (np.diff(pb.ac.U.indptr) > 0))
    if not free.size:
        return -math.inf
    is_, n, rs = pb.is_[free, None], pb.n[free, None], pb.rs[free, None]
    vd = junction_voltages(v_t[free], is_, n, rs, pb.vt, gmin)
    return float(np.max((vd - critical_voltage(is_, n, pb.vt)) / (n * pb.vt)))


def _continuation(engine: _Full | _Ports, start: _Point,
                  options: HBOptions) -> tuple[_State | _PortState | None, int, int, float]:
    """Ramp the drive from its DC part (solved at ``start``) to the full drive; returns (state, iterations, steps, λ).

    Each step starts from the secant extrapolation of the last two solutions
    and is halved, before any Newton iteration, while that start would put a
    junction far up its exponential.
    """
    lam, step, total, steps = 0.0, 0.25, 0, 0
    points = [(0.0, start)]
    state = None
    while lam < 1.0:
        trial = min(1.0, lam + step)
        guess = engine.evaluate(trial, _predict(points, trial))
        ok = False
        if _overshoot(engine.pb, guess.v_t, options.gmin) <= _START_OVERSHOOT:
            attempt, its, ok = _newton(engine, trial, guess, options)
            total += its
        if ok:
            lam, state = trial, attempt
            points = [points[-1], (lam, engine.point(attempt))]
            steps += 1
            step = min(2.0 * step, 1.0)
        else:
            step *= 0.5
            if step < options.min_continuation_step:
                return state, total, steps, lam
    return state, total, steps, lam


def _predict(points: list[tuple[float, _Point]], lam: float) -> _Point:
    """Unknowns at ``lam``: linear extrapolation through the last two solutions (or the last one)."""
    if len(points) == 1:
        return points[0][1]
    (l0, p0), (l1, p1) = points
    t = (lam - l1) / (l1 - l0)
    return tuple(b + t * (b - a) for a, b in zip(p0, p1))


def solve_hb(
    network: System | Netlist,
    f0: float,
    n_harmonics: int,
    *,
    g: NDArray | None = None,
    k: NDArray | None = None,
    v_sources: ArrayLike | None = None,
    i_sources: ArrayLike | None = None,
    injections: ArrayLike | Mapping[tuple[str, int], complex] | None = None,
    n_time: int | None = None,
    initial: HBResult | ArrayLike | None = None,
    options: HBOptions = HBOptions(),
    backend: str = "auto",
) -> HBResult:
    """Periodic steady state of a resistor / diode / pipe (and C, L) network by harmonic balance.

    Parameters
    ----------
    network : System or Netlist
        The network (a Netlist is compiled first).
    f0 : float
        Base frequency (Hz); every tone must be a whole multiple of it.
    n_harmonics : int
        Harmonics kept, ``K`` (0 gives the DC operating point).
    g, k : ndarray, optional
        Resistor conductances (S) and pipe conductances overriding the system's.
    v_sources, i_sources : array_like of complex, shape (K+1, n_sources), optional
        Source phasors per harmonic (peak, ``v(t) = Re Σ E_k e^{jkω0t}``;
        row 0 real), replacing what :func:`source_phasors` reads from the
        system's DC values and SIN waveforms.
    injections : array_like of complex, shape (K+1, n_nodes), or mapping, optional
        Extra current phasors (A) injected *into* nodes, e.g. FP's error
        tone; or a mapping ``{(node, k): phasor}``, e.g.
        ``{("out", 1): 1e-6}``. Current injected into a node held by a
        voltage source flows into that source.
    n_time : int, optional
        Time samples per period for the devices, ``>= 2K + 1``
        (default ``4K``: harmonics of the device currents above ``3K``
        alias onto the kept ones).
    initial : HBResult or array_like, optional
        Phasors (K'+1, n_nodes) to start Newton from (e.g. the previous
        training step); padded or truncated to ``K``. By default Newton
        starts from the DC operating point.
    options : HBOptions, optional
        Tolerances, linear solver, continuation.
    backend : str, optional
        Sparse linear backend (see :mod:`physnet.solvers.linear`).

    Returns
    -------
    HBResult

    Raises
    ------
    NetlistError
        A source tone is not a harmonic ``1..K`` of ``f0``, a PULSE or damped
        SIN source, an elastic network, or a node has no DC path to ground.
    ConvergenceError
        Newton failed from the DC point and along the amplitude continuation.

    Examples
    --------
    A diode biased at 0.65 V and driven by a 1 mV tone: the fundamental of
    its current is close to the small-signal value.

    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", sin=(0.65, 1e-3, 50.0))
    >>> net.diode("D1", "a", "0")
    >>> hb = solve_hb(net, 50.0, 8)
    >>> i1 = -hb.current("V1")[1]  # current out of the source's + terminal into the diode
    >>> gd = 1e-14 / 0.025864917 * np.exp(0.65 / 0.025864917)
    >>> bool(abs(i1 / (-1e-3j * gd) - 1) < 1e-3)
    True
    """
    system = network.compile() if isinstance(network, Netlist) else network
    if "elastic" in system.domains:
        raise NetlistError("harmonic balance solves electric and flow networks; the network has springs")
    f0, K, N = _check_grid(f0, n_harmonics, n_time)
    base, full, i_dc = _drives(system, f0, K, v_sources, i_sources, injections)
    pb = _problem(system, f0, K, N, g, k, backend)
    start = None if initial is None else _initial_phasors(initial, K, system.n_nodes)

    def dc_start() -> NDArray:
        op = solve_dc(system, g, k=k, v_sources=base.E[0].real, i_sources=i_dc,
                      options=NewtonOptions(gmin=options.gmin), backend=backend)
        V = np.zeros((K + 1, system.n_nodes), dtype=np.complex128)
        V[0] = op.v
        return V

    if _use_ports(pb, options):
        with _single_threaded_blas():  # small dense kernels: extra BLAS threads only contend (10x on a busy machine)
            ports = harmonic_ports(system, pb.dc.op, pb.dc.w, pb.ac.op, pb.ac.w if pb.reactive else None, full.E,
                                   full.inj, omega=2.0 * np.pi * f0 * np.arange(1, K + 1))
            engine = _Ports(pb, ports, base, full, options)
            state, iterations, message = _solve_ports(engine, lambda: engine.dc_point(dc_start), start, options)
    else:
        state, iterations, message = _solve(_Full(pb, base, full, options), dc_start, start, options)
    return _result(pb, f0, state, iterations, message)


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while active, when threadpoolctl (a scikit-learn dependency) is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn requires it
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _use_ports(pb: _Problem, options: HBOptions) -> bool:
    """Whether the port formulation solves ``pb`` (see :class:`HBOptions`)."""
    if options.formulation == "auto":
        return 0 < pb.n_diodes <= options.max_ports
    return options.formulation == "ports" and pb.n_diodes > 0


def _check_grid(f0: float, n_harmonics: int, n_time: int | None) -> tuple[float, int, int]:
    f0 = float(f0)
    if not (math.isfinite(f0) and f0 > 0):
        raise ValueError(f"f0 = {f0!r} Hz is invalid (the base frequency, a number > 0)")
    if isinstance(n_harmonics, bool) or int(n_harmonics) != n_harmonics or n_harmonics < 0:
        raise ValueError(f"n_harmonics = {n_harmonics!r} is invalid (an integer >= 0)")
    K = int(n_harmonics)
    N = max(4 * K, 1) if n_time is None else int(n_time)
    if N < 2 * K + 1:
        raise ValueError(f"n_time = {n_time} is too small: K = {K} harmonics need at least 2K+1 = {2 * K + 1} "
                         "samples per period")
    return f0, K, N


def _drives(system: System, f0: float, K: int, v_sources: ArrayLike | None, i_sources: ArrayLike | None,
            injections: ArrayLike | Mapping | None) -> tuple[_Drive, _Drive, NDArray[np.float64]]:
    """The full excitation, its DC part from the sources, and the current sources' DC values.

    The DC part is what :func:`solve_dc` solves for the starting point.
    """
    E = (_table_phasors(system["vsource"], f0, K) if v_sources is None
         else _harmonic_array("v_sources", v_sources, (K + 1, len(system["vsource"]))))
    Isrc = (_table_phasors(system["isource"], f0, K) if i_sources is None
            else _harmonic_array("i_sources", i_sources, (K + 1, len(system["isource"]))))
    source_inj = source_injections(system, Isrc)
    full = _Drive(E, source_inj + _extra_injections(system, injections, K))
    dc_only = np.arange(K + 1)[:, None] == 0
    base = _Drive(np.where(dc_only, E, 0), np.where(dc_only, source_inj, 0))
    return base, full, Isrc[0].real


def _solve(engine: _Full | _Ports, dc_start: Callable[[], NDArray], initial: NDArray | None,
           options: HBOptions) -> tuple[_State | _PortState, int, str]:
    """Newton from ``initial``, then from the DC point, then amplitude continuation; raises if all fail.

    ``initial`` and ``dc_start()`` (only computed when needed) are node phasors (K+1, n_nodes).
    """
    attempts, total = [], 0
    if initial is not None:
        state, its, ok = _newton(engine, 1.0, engine.evaluate(1.0, engine.start(initial, 1.0)), options)
        total += its
        if ok:
            return state, total, f"newton from the initial guess converged in {its} iterations"
        attempts.append(f"newton from the initial guess ({its} iterations)")
    V = dc_start()
    state = engine.evaluate(1.0, engine.start(V, 1.0))
    overshoot = _overshoot(engine.pb, state.v_t, options.gmin)
    if overshoot <= _START_OVERSHOOT:
        state, its, ok = _newton(engine, 1.0, state, options)
        total += its
        if ok:
            return state, total, f"newton from the DC point converged in {its} iterations"
        attempts.append(f"newton from the DC point ({its} iterations)")
    else:
        attempts.append(f"newton from the DC point (skipped: the full drive puts a junction {overshoot:.3g} nVt "
                        "above its critical voltage)")
    ramped, its, steps, lam = _continuation(engine, engine.start(V, 0.0), options)
    total += its
    if lam >= 1.0:
        return ramped, total, f"converged by amplitude continuation ({steps} steps, {total} iterations in all)"
    attempts.append(f"amplitude continuation (stalled at {lam:.3g} of the drive)")
    raise ConvergenceError(
        f"harmonic balance did not converge after {total} Newton iterations: {'; '.join(attempts)} all failed "
        f"({engine.failure(state)}). Try more harmonics (n_harmonics={engine.pb.K} now), a smaller drive, or "
        "HBOptions(max_iter=...)",
        total,
        state.residual,
    )


def _solve_ports(engine: _Ports, dc_start: Callable[[], NDArray], initial: NDArray | None,
                 options: HBOptions) -> tuple[_State, int, str]:
    """The port formulation, then the node phasors; a final full Newton if their KCL residual is not met."""
    ports_state, total, message = _solve(engine, dc_start, initial, options)
    state = engine.network_state(ports_state)
    message += f" on {engine.pb.n_diodes} diode ports"
    full = engine.full_engine
    if not full.within_tolerance(state):
        state, its, ok = _newton(full, 1.0, state, options)
        total += its
        if not ok:
            raise ConvergenceError(f"harmonic balance: the port solution's KCL residual {state.residual:.3g} A "
                                   f"could not be polished by {its} full Newton iterations", total, state.residual)
        message += f", polished by {its} full Newton iterations"
    return state, total, message


def _result(pb: _Problem, f0: float, state: _State, iterations: int, message: str) -> HBResult:
    system = pb.system
    n_vs = len(system["vsource"])
    currents = np.empty((pb.K + 1, n_vs), dtype=np.complex128)
    currents[0] = pb.dc.op.reduction.short_currents(state.leaving[0].real)[:n_vs]
    if pb.K:
        currents[1:] = pb.ac.op.reduction.short_currents(state.leaving[1:])[:, :n_vs]
    return HBResult(
        node_names=system.node_names,
        f0=f0,
        V=state.V,
        n_time=pb.N,
        source_names=tuple(system["vsource"].names),
        source_currents=currents,
        converged=True,
        iterations=iterations,
        residual=state.residual,
        message=message,
    )
