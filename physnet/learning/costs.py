"""Cost functions of output node potentials.

A cost maps output potentials ``v_out`` (shape ``(..., n_out)``) and
targets ``y`` to a scalar per sample; ``grad`` is its derivative with
respect to ``v_out``. FP and EP inject ``e = -β grad`` as the error current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from physnet.errors import NetlistError

__all__ = ["Cost", "SquaredError", "SQUARED_ERROR", "SoftmaxCrossEntropy"]


class Cost(Protocol):
    """Anything with ``value(v_out, y)`` (per sample) and ``grad(v_out, y)`` (∂C/∂v_out).

    Examples
    --------
    A cost of one's own, twice the squared error, doubles the gradient of the
    divider ``v_out = g1 / (g1 + g2)`` (compare :func:`physnet.gradient`):

    >>> import numpy as np, physnet as pn
    >>> class Doubled:
    ...     def value(self, v_out, y): return np.sum((v_out - y) ** 2, axis=-1)
    ...     def grad(self, v_out, y): return 2.0 * (v_out - y)
    >>> net = pn.Netlist()
    >>> net.vsource("V1", "in", "0", dc=1.0)
    >>> net.resistors(["R1", "R2"], ["in", "out"], ["out", "0"], g=[1.0, 3.0])
    >>> r = pn.gradient(net, outputs=["out"], targets=[0.0], cost=Doubled())
    >>> np.round(r.grad, 12).tolist(), round(r.cost, 12)
    ([0.09375, -0.03125], 0.0625)
    """

    def value(self, v_out: NDArray, y: NDArray) -> NDArray: ...

    def grad(self, v_out: NDArray, y: NDArray) -> NDArray: ...


@dataclass(frozen=True)
class SquaredError:
    """``C = ½ Σ_k (v_out,k - y_k)²`` per sample.

    Examples
    --------
    >>> import numpy as np
    >>> c = SquaredError()
    >>> float(c.value(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    2.5
    >>> c.grad(np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    array([1., 1.])
    """

    def value(self, v_out: NDArray, y: NDArray) -> NDArray:
        """Cost per sample."""
        return 0.5 * np.sum((np.asarray(v_out) - y) ** 2, axis=-1)

    def grad(self, v_out: NDArray, y: NDArray) -> NDArray:
        """Derivative with respect to the output potentials."""
        return np.asarray(v_out) - y


SQUARED_ERROR = SquaredError()


@dataclass(frozen=True)
class SoftmaxCrossEntropy:
    """Cross-entropy of a softmax over the outputs: ``C = -log softmax(v_out / T)_c``, ``c = argmax(y)``.

    A classification cost: the class is the output with the highest target
    (one-hot targets, whatever their two levels), the prediction the output
    with the highest potential. Unlike the squared error it never asks the
    outputs for particular values, only for the true class's output to
    stand out by a few ``T``; with a linear network this avoids the
    "masking" of a middle class that limits least-squares classifiers.

    Parameters
    ----------
    temperature : float
        ``T`` in volts (pascals for flow networks), > 0: the output
        difference that counts as confident.

    Examples
    --------
    >>> import numpy as np
    >>> c = SoftmaxCrossEntropy(temperature=1.0)
    >>> v, y = np.array([0.0, 0.0]), np.array([1.0, 0.0])
    >>> round(float(c.value(v, y)), 6), c.grad(v, y).tolist()
    (0.693147, [-0.5, 0.5])
    """

    temperature: float = 0.02

    def __post_init__(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise NetlistError(f"temperature = {self.temperature!r} must be a finite number > 0 (the output "
                               "difference, in volts or pascals, that counts as confident)")

    def _softmax(self, v_out: NDArray) -> NDArray:
        z = np.asarray(v_out, dtype=np.float64) / self.temperature
        z = np.exp(z - np.max(z, axis=-1, keepdims=True))
        return z / np.sum(z, axis=-1, keepdims=True)

    def value(self, v_out: NDArray, y: NDArray) -> NDArray:
        """Cost per sample."""
        p = self._softmax(v_out)
        return -np.log(np.take_along_axis(p, np.argmax(y, axis=-1)[..., None], axis=-1)[..., 0])

    def grad(self, v_out: NDArray, y: NDArray) -> NDArray:
        """Derivative with respect to the output potentials: ``(softmax - onehot) / T``."""
        p = self._softmax(v_out)
        onehot = np.zeros_like(p)
        np.put_along_axis(onehot, np.argmax(y, axis=-1)[..., None], 1.0, axis=-1)
        return (p - onehot) / self.temperature
