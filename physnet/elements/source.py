"""Independent sources: transient waveforms and small-signal phasors.

Waveforms follow SPICE (ngspice ``vsrcload.c``) exactly:

``DC``
    the constant ``dc``.
``SIN(VO VA FREQ TD THETA PHASE)``
    ``VO + VA sin(PHASE)`` for ``t <= TD``, else
    ``VO + VA exp(-THETA (t - TD)) sin(2π FREQ (t - TD) + PHASE)``; PHASE in
    degrees; ``FREQ = 0`` means ``1 / TSTOP``.
``PULSE(V1 V2 TD TR TF PW PER)``
    ``V1`` until ``TD``, a linear rise to ``V2`` over ``TR``, ``V2`` for
    ``PW``, a linear fall over ``TF``, ``V1`` until the period ``PER`` ends,
    repeated. A zero ``TR`` or ``TF`` means ``TSTEP``, a zero ``PW`` or
    ``PER`` means ``TSTOP``.

``TSTEP`` and ``TSTOP`` are the ``.tran`` card's print step and stop time,
passed as arguments. The AC value is the phasor ``ac_mag exp(j ac_phase π/180)``
with the convention ``x(t) = Re(X e^{jωt})``; SPICE ignores it in transient
analysis and so does physnet.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.elements.table import WAVE_DC, WAVE_PULSE, WAVE_SIN, ElementTable

__all__ = ["source_values", "ac_phasors"]


def source_values(table: ElementTable, t: ArrayLike, *, tstep: float, tstop: float) -> NDArray[np.float64]:
    """Values of every source of ``table`` at times ``t``.

    Parameters
    ----------
    table : ElementTable
        A ``"vsource"`` or ``"isource"`` table.
    t : array_like, shape (n_t,)
        Times (s).
    tstep, tstop : float
        The transient print step and stop time (s) that SPICE uses for the
        defaults of ``SIN`` and ``PULSE`` (see the module docs).

    Returns
    -------
    ndarray, shape (n_t, n_sources)
        Source values (V or A), time first.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", pulse=(0.0, 1.0))      # rise over TSTEP, stay high until TSTOP
    >>> net.vsource("V2", "b", "0", sin=(0.5, 1.0, 1.0))   # 1 Hz around 0.5 V
    >>> net.resistors(["R1", "R2"], ["a", "b"], ["0", "0"], r=[1.0, 1.0])
    >>> table = net.compile()["vsource"]
    >>> source_values(table, [0.0, 0.05, 0.25], tstep=0.1, tstop=1.0).round(6)
    array([[0.      , 0.5     ],
           [0.5     , 0.809017],
           [1.      , 1.5     ]])
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    wave = np.asarray(table["wave"])
    out = np.broadcast_to(np.asarray(table["dc"], dtype=np.float64), (t.shape[0], len(table))).copy()
    sin = np.flatnonzero(wave == WAVE_SIN)
    if sin.size:
        out[:, sin] = _sin(table, sin, t, tstop)
    pulse = np.flatnonzero(wave == WAVE_PULSE)
    if pulse.size:
        out[:, pulse] = _pulse(table, pulse, t, tstep, tstop)
    unknown = ~np.isin(wave, (WAVE_DC, WAVE_SIN, WAVE_PULSE))
    if unknown.any():
        i = int(np.argmax(unknown))
        raise ValueError(f"{table.spec.kind} {table.names[i]!r}: unknown waveform code {wave[i]!r} "
                         f"(0 DC, 1 SIN, 2 PULSE)")
    return out


def _sin(table: ElementTable, cols: NDArray, t: NDArray, tstop: float) -> NDArray:
    vo, va = table["sin_offset"][cols], table["sin_amplitude"][cols]
    freq = np.where(table["sin_freq"][cols] != 0.0, table["sin_freq"][cols], 1.0 / tstop)
    td, theta = table["sin_delay"][cols], table["sin_damping"][cols]
    phase = np.deg2rad(table["sin_phase"][cols])
    tau = t - td
    running = vo + va * np.exp(-theta * tau) * np.sin(2.0 * np.pi * freq * tau + phase)
    return np.where(tau <= 0.0, vo + va * np.sin(phase), running)


def _pulse(table: ElementTable, cols: NDArray, t: NDArray, tstep: float, tstop: float) -> NDArray:
    v1, v2, td = table["pulse_v1"][cols], table["pulse_v2"][cols], table["pulse_delay"][cols]

    def default(name: str, fallback: float) -> NDArray:
        value = table[name][cols]
        return np.where(value != 0.0, value, fallback)

    tr, tf = default("pulse_rise", tstep), default("pulse_fall", tstep)
    pw, per = default("pulse_width", tstop), default("pulse_period", tstop)
    tau = t - td
    tau = np.where(tau > per, tau - per * np.floor(tau / per), tau)  # position inside the current period
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = v1 + (v2 - v1) * tau / tr
        falling = v2 + (v1 - v2) * (tau - (tr + pw)) / tf
    return np.select(
        [(tau <= 0.0) | (tau >= tr + pw + tf), (tau >= tr) & (tau <= tr + pw), tau < tr],
        [np.broadcast_to(v1, tau.shape), np.broadcast_to(v2, tau.shape), rising],
        falling,
    )


def ac_phasors(table: ElementTable) -> NDArray[np.complex128]:
    """Small-signal phasor ``ac_mag · exp(j · ac_phase · π/180)`` of every source.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "a", "0", ac=2.0, ac_phase=90.0)
    >>> net.resistor("R1", "a", "0", r=1.0)
    >>> ac_phasors(net.compile()["vsource"]).round(12)
    array([0.+2.j])
    """
    return table["ac_mag"] * np.exp(1j * np.deg2rad(table["ac_phase"]))
