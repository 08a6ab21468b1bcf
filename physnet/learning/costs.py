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

__all__ = ["Cost", "SquaredError", "SQUARED_ERROR"]


class Cost(Protocol):
    """Anything with ``value(v_out, y)`` (per sample) and ``grad(v_out, y)`` (∂C/∂v_out)."""

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
