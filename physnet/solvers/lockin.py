"""Lock-in demodulation of uniformly sampled signals.

The complex amplitude of a tone at frequency ``f`` (``ω = 2πf``) in a record
``x(t)`` is

    X = (2/T) ∫_{t_end - T}^{t_end} x(t) e^{-jωt} dt        (f > 0)
    X = (1/T) ∫_{t_end - T}^{t_end} x(t) dt                 (f = 0, the mean)

so that ``x(t) ≈ Re(X e^{jωt})`` with the absolute time ``t`` as phase
reference, the same convention as :func:`physnet.solvers.phasor.solve_ac`.
``T`` is a whole number of periods of ``f`` ending at the last sample (the
default is as many as fit), or a window the caller chooses, e.g. a common
multiple of two tones' periods.

The integral is the trapezoidal rule on the sample grid (with a linearly
interpolated partial first interval when ``T`` does not start on a sample).
Over whole periods of a sampled periodic signal that is a discrete Fourier
transform, hence *exact* for every tone at a multiple of ``1/T`` below the
Nyquist frequency; tones not commensurate with ``T`` leak by ``O(1/(ωT))``.
The work is one pass over the record along axis 0, for every column at
once (all nodes or edges of a network), in a numba kernel with the numpy
twin :func:`demodulate_numpy`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["lockin", "lockin_weights", "demodulate", "demodulate_numpy"]

_GRID_RTOL = 1e-6  # relative deviation of a time step from the mean step tolerated as "uniform"
_SNAP = 1e-9  # window edges closer than this many steps to a sample sit on it


def lockin(
    x: ArrayLike,
    t: ArrayLike,
    freq: float | ArrayLike,
    *,
    periods: int | None = None,
    window: float | None = None,
) -> NDArray[np.complex128]:
    """Complex amplitude of the tone(s) at ``freq`` in ``x``, along axis 0.

    Parameters
    ----------
    x : array_like of float, shape (n_t, ...)
        Samples, time first (e.g. node voltages ``(n_t, n_nodes)``).
    t : array_like, shape (n_t,)
        Uniformly spaced sample times (s).
    freq : float or array_like of float
        Tone frequency (Hz, >= 0; 0 gives the mean). Several frequencies
        give a leading frequency axis and share one pass over ``x``.
    periods : int, optional
        Integrate over the last ``periods`` whole periods (``T = periods /
        freq``), discarding the start of the record (settling).
    window : float, optional
        Integrate over the last ``window`` seconds instead. Choose a common
        multiple of the periods of all tones present to separate them exactly.
        Default (neither given): the most whole periods of ``freq`` that fit
        (the whole record for ``freq = 0``).

    Returns
    -------
    ndarray of complex, shape x.shape[1:] or (n_freq,) + x.shape[1:]
        ``X`` with ``x(t) ≈ Re(X e^{j 2π freq t})``; real (zero imaginary
        part) for ``freq = 0``.

    Raises
    ------
    ValueError
        Non-uniform or too short a time grid, a window longer than the
        record or shorter than one period, both ``periods`` and ``window``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1001) * 1e-5                      # 10 ms at 100 kHz
    >>> x = 0.5 + 2.0 * np.cos(2 * np.pi * 1e3 * t - 0.3) + 0.1 * np.sin(2 * np.pi * 3e3 * t)
    >>> X = lockin(x, t, [0.0, 1e3, 3e3])                # 10 ms is a whole number of periods of each
    >>> np.round(X, 12)
    array([0.5       +0.j        , 1.91067298-0.59104041j,
           0.        -0.1j       ])
    >>> round(float(abs(X[1])), 12), round(float(np.angle(X[1])), 12)
    (2.0, -0.3)
    """
    x = np.asarray(x)
    if np.iscomplexobj(x) or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"lockin needs real samples, got dtype {x.dtype}")
    t = np.asarray(t, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] != t.shape[-1]:
        raise ValueError(f"x has {x.shape[0] if x.ndim else 0} samples along axis 0 but t has {t.size}")
    freqs = np.asarray(freq, dtype=np.float64)
    single = freqs.ndim == 0
    freqs = np.atleast_1d(freqs)
    if freqs.ndim != 1:
        raise ValueError(f"freq must be a number or a 1-D list of them, got shape {freqs.shape}")
    weights = np.stack([lockin_weights(t, f, periods=periods, window=window) for f in freqs])
    first = int(np.min(np.argmax(weights != 0.0, axis=1)))  # earliest sample any window needs
    flat = np.ascontiguousarray(x[first:].reshape(x.shape[0] - first, -1), dtype=np.float64)
    out = demodulate(flat, t[first:], np.ascontiguousarray(weights[:, first:]), 2.0 * np.pi * freqs)
    out = out.reshape((len(freqs),) + x.shape[1:])
    return out[0] if single else out


def lockin_weights(t: ArrayLike, freq: float, *, periods: int | None = None,
                   window: float | None = None) -> NDArray[np.float64]:
    """Quadrature weights ``w`` with ``X = Σ w_k x_k e^{-jωt_k}`` (see :func:`lockin` for the arguments).

    The weights include the ``2/T`` (or ``1/T``) normalisation and vanish
    before the window.

    Examples
    --------
    >>> lockin_weights([0.0, 1.0, 2.0, 3.0], 0.0)
    array([0.16666667, 0.33333333, 0.33333333, 0.16666667])
    >>> lockin_weights([0.0, 1.0, 2.0, 3.0], 0.0, window=1.5)
    array([0.        , 0.08333333, 0.58333333, 0.33333333])
    """
    t = np.asarray(t, dtype=np.float64)
    step = _uniform_step(t)
    if not (math.isfinite(freq) and freq >= 0.0):
        raise ValueError(f"lock-in frequency {freq!r} Hz must be finite and >= 0")
    span = float(t[-1] - t[0])
    T = _window_length(span, float(freq), periods, window, step)
    position = (t[-1] - T - t[0]) / step  # window start, in steps from t[0]
    j0 = int(math.floor(position + _SNAP))
    frac = max(position - j0, 0.0)
    if frac < _SNAP:
        frac = 0.0
    w = np.zeros(t.size)
    w[j0 + 1:] = step
    w[-1] = 0.5 * step
    # partial first interval [start, t[j0+1]] with linear interpolation, plus the first full half-weight
    w[j0] = 0.5 * step * (1.0 - frac) ** 2
    w[j0 + 1] = 0.5 * step * (1.0 - frac * frac) + (0.5 * step if j0 + 1 < t.size - 1 else 0.0)
    return w * ((2.0 if freq > 0.0 else 1.0) / T)


def _uniform_step(t: NDArray) -> float:
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"t must be a 1-D grid of at least 2 sample times, got shape {t.shape}")
    step = (t[-1] - t[0]) / (t.size - 1)
    if not (np.isfinite(step) and step > 0.0):
        raise ValueError("t must be finite and increasing")
    deviation = float(np.max(np.abs(np.diff(t) - step)))
    if deviation > _GRID_RTOL * step:
        k = int(np.argmax(np.abs(np.diff(t) - step)))
        raise ValueError(f"t is not a uniform grid: step {k} is {t[k + 1] - t[k]:.6g} s but the mean step is "
                         f"{step:.6g} s (resample onto a uniform grid first)")
    return float(step)


def _window_length(span: float, freq: float, periods: int | None, window: float | None, step: float) -> float:
    if periods is not None and window is not None:
        raise ValueError("give periods or window, not both")
    if window is not None:
        if not (math.isfinite(window) and window > 0.0):
            raise ValueError(f"window = {window!r} s must be a finite number > 0")
        T = float(window)
    elif freq == 0.0:
        if periods is not None:
            raise ValueError("periods needs freq > 0 (for the mean, give window in seconds)")
        T = span
    elif periods is not None:
        if isinstance(periods, bool) or int(periods) != periods or periods < 1:
            raise ValueError(f"periods = {periods!r} must be a whole number >= 1")
        T = periods / freq
    else:
        whole = math.floor(span * freq + _SNAP * step * freq)
        if whole < 1:
            raise ValueError(f"the record ({span:.6g} s) is shorter than one period of {freq:g} Hz "
                             f"({1.0 / freq:.6g} s): record longer")
        T = whole / freq
    if T > span * (1.0 + _SNAP) + _SNAP * step:
        raise ValueError(f"the lock-in window ({T:.6g} s) is longer than the record ({span:.6g} s)")
    if freq > 0.0 and T * freq < 1.0 - 1e-9:
        raise ValueError(f"the lock-in window ({T:.6g} s) is shorter than one period of {freq:g} Hz")
    if T < step * (1.0 - _SNAP):
        raise ValueError(f"the lock-in window ({T:.6g} s) is shorter than one time step ({step:.6g} s)")
    return min(T, span)


def demodulate_numpy(x: NDArray, t: NDArray, weights: NDArray, omega: NDArray) -> NDArray[np.complex128]:
    """Numpy twin of :func:`demodulate`: ``out[f] = Σ_k weights[f, k] e^{-j omega[f] t_k} x[k]``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(17) / 8                                 # two periods of 1 Hz, 8 samples each
    >>> x = np.column_stack([np.cos(2 * np.pi * t), 0.5 + np.sin(4 * np.pi * t)])
    >>> w, omega = np.stack([lockin_weights(t, 1.0), lockin_weights(t, 2.0)]), 2 * np.pi * np.array([1.0, 2.0])
    >>> bool(np.allclose(demodulate_numpy(x, t, w, omega), demodulate(x, t, w, omega), rtol=1e-12, atol=1e-15))
    True
    """
    phase = np.outer(omega, t)
    re = (weights * np.cos(phase)) @ x
    im = -(weights * np.sin(phase)) @ x
    return re + 1j * im


def demodulate(x: NDArray, t: NDArray, weights: NDArray, omega: NDArray) -> NDArray[np.complex128]:
    """Weighted demodulation of every column of ``x`` at every frequency in one pass (numba kernel).

    Parameters
    ----------
    x : ndarray of float64, shape (n_t, m), C-contiguous
        Samples, time first.
    t : ndarray, shape (n_t,)
        Sample times (s).
    weights : ndarray, shape (n_freq, n_t)
        Quadrature weights (see :func:`lockin_weights`).
    omega : ndarray, shape (n_freq,)
        Angular frequencies (rad/s).

    Returns
    -------
    ndarray of complex, shape (n_freq, m)

    Examples
    --------
    One period of 1 Hz sampled 8 times: ``cos`` has the phasor 1, ``sin`` the phasor ``-j``:

    >>> import numpy as np
    >>> t = np.arange(9) / 8
    >>> x = np.column_stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)])
    >>> X = demodulate(x, t, lockin_weights(t, 1.0)[None], np.array([2 * np.pi]))
    >>> (X.round(12) + 0.0).tolist()
    [[(1+0j), -1j]]
    """
    from physnet._numba_signal import demodulate as kernel

    out = np.zeros((len(omega), x.shape[1]), dtype=np.complex128)
    kernel(x, np.ascontiguousarray(t, dtype=np.float64), weights, np.ascontiguousarray(omega, dtype=np.float64),
           out)
    return out
