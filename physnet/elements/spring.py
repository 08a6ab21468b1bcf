"""Springs of an elastic network: extensions, forces and stiffness matrices.

Node ``i`` has position ``x_i`` (d = 2 or 3) and displacement ``u_i``. A
spring between ``a`` and ``b`` with stiffness ``k`` and rest length ``ℓ0``
stores ``½ k (ℓ - ℓ0)²`` with ``ℓ = |x_a + u_a - x_b - u_b|``. Linearised at
``u = 0`` its extension is ``b̂·(u_a - u_b)`` (``b̂`` the unit bond vector),
which is the elastic network's "voltage drop", and the stiffness matrix is
``K = Σ k b̂ b̂ᵀ`` stamped like a conductance into d×d blocks. With geometric
nonlinearity the tangent stiffness adds ``k (1 - ℓ0/ℓ)(I - b̂ b̂ᵀ)`` per bond.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from physnet.errors import NetlistError
from physnet.system import System

__all__ = ["bond_vectors", "extensions", "spring_forces", "stiffness_blocks", "stiffness_matrix"]


def _positions(system: System) -> NDArray[np.float64]:
    if system.positions is None:
        raise NetlistError("this system has no node positions; elastic networks need Netlist.node(name, position)")
    return system.positions


def bond_vectors(system: System, u: NDArray | None = None) -> tuple[NDArray, NDArray]:
    """Current bond vectors ``x_a + u_a - x_b - u_b`` and their lengths, one per spring.

    Parameters
    ----------
    system : System
        Elastic network.
    u : ndarray, shape (n_nodes, d), optional
        Node displacements (default zero).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q"], [(0.0, 0.0), (3.0, 4.0)]).tolist()
    [1, 2]
    >>> net.spring("S1", "p", "q", k=1.0)
    >>> bond, length = bond_vectors(net.compile())
    >>> bond.tolist(), length.tolist()
    ([[-3.0, -4.0]], [5.0])
    """
    springs = system["spring"]
    x = _positions(system) if u is None else _positions(system) + u
    bond = x[springs.a] - x[springs.b]
    return bond, np.linalg.norm(bond, axis=1)


def extensions(system: System, u: NDArray, *, linear: bool = True) -> NDArray:
    """Spring extensions: ``b̂·(u_a - u_b)`` (linear) or ``ℓ(u) - ℓ0`` (exact).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.node("p", (0.0, 0.0)); net.node("q", (1.0, 0.0))
    1
    2
    >>> net.spring("S1", "p", "q", k=2.0)
    >>> system = net.compile()
    >>> u = np.zeros((3, 2)); u[2, 0] = 0.1  # pull q (node 2) away from p
    >>> extensions(system, u)
    array([0.1])
    """
    springs = system["spring"]
    if linear:
        bond, length = bond_vectors(system)
        unit = bond / length[:, None]
        return np.einsum("ed,ed->e", unit, u[springs.a] - u[springs.b])
    return bond_vectors(system, u)[1] - springs["rest"]


def spring_forces(system: System, u: NDArray, k: NDArray | None = None) -> NDArray:
    """Internal elastic force on every node, shape (n_nodes, d) (exact, nonlinear).

    Examples
    --------
    >>> import numpy as np, physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q"], [(0.0, 0.0), (1.0, 0.0)]).tolist()
    [1, 2]
    >>> net.spring("S1", "p", "q", k=2.0)  # rest length: the compiled length, 1
    >>> u = np.zeros((3, 2)); u[2, 0] = 0.1  # stretch by 0.1: tension 2 * 0.1 pulls p and q together
    >>> np.round(spring_forces(net.compile(), u), 12).tolist()
    [[0.0, 0.0], [0.2, 0.0], [-0.2, 0.0]]
    """
    springs = system["spring"]
    k = springs["k"] if k is None else k
    bond, length = bond_vectors(system, u)
    tension = k * (length - springs["rest"])
    f = (tension / length)[:, None] * bond  # force pulling a towards b when stretched
    out = np.zeros_like(_positions(system))
    np.add.at(out, springs.a, -f)
    np.add.at(out, springs.b, f)
    return out


def stiffness_blocks(system: System, k: NDArray | None = None, u: NDArray | None = None,
                     *, geometric: bool = False) -> NDArray[np.float64]:
    """The d×d stiffness block of every spring, shape (n_springs, d, d).

    Spring ``j`` between ``a`` and ``b`` adds its block ``B_j`` to the
    ``(a, a)`` and ``(b, b)`` blocks of the stiffness matrix and ``-B_j`` to
    ``(a, b)`` and ``(b, a)``: ``B_j = k_j b̂ b̂ᵀ``, plus
    ``k_j (1 - ℓ0/ℓ)(I - b̂ b̂ᵀ)`` with ``geometric``. Arguments as in
    :func:`stiffness_matrix`.

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q"], [(0.0, 0.0), (0.0, 2.0)]).tolist()
    [1, 2]
    >>> net.spring("S1", "p", "q", k=3.0)
    >>> stiffness_blocks(net.compile()).tolist()  # a vertical spring is stiff along y only
    [[[0.0, 0.0], [0.0, 3.0]]]
    """
    springs = system["spring"]
    k = springs["k"] if k is None else np.asarray(k, dtype=np.float64)
    d = _positions(system).shape[1]
    bond, length = bond_vectors(system, u)
    unit = bond / length[:, None]
    projector = np.einsum("ei,ej->eij", unit, unit)
    block = k[:, None, None] * projector
    if geometric:
        factor = k * (1.0 - springs["rest"] / length)
        block = block + factor[:, None, None] * (np.eye(d)[None] - projector)
    return block


def stiffness_matrix(system: System, k: NDArray | None = None, u: NDArray | None = None,
                     *, geometric: bool = False) -> sp.csr_matrix:
    """Stiffness matrix (n_nodes·d square, node-major: row ``i*d + c``).

    Parameters
    ----------
    system : System
        Elastic network.
    k : ndarray, optional
        Spring stiffnesses (N/m), overriding the system's.
    u : ndarray, shape (n_nodes, d), optional
        Displacements to linearise at (default: the reference positions).
    geometric : bool, optional
        Include the geometric (tension) term ``k (1 - ℓ0/ℓ)(I - b̂ b̂ᵀ)``;
        zero at a stress-free reference state.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric positive semi-definite (rigid motions are its null space).

    Examples
    --------
    >>> import physnet as pn
    >>> net = pn.Netlist()
    >>> net.nodes(["p", "q"], [(0.0, 0.0), (1.0, 0.0)]).tolist()
    [1, 2]
    >>> net.spring("S1", "p", "q", k=2.0)
    >>> K = stiffness_matrix(net.compile())
    >>> K.shape, K[2:, 2:].toarray().tolist()  # rows px, py, qx, qy: a horizontal spring resists x only
    ((6, 6), [[2.0, 0.0, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    """
    springs = system["spring"]
    block = stiffness_blocks(system, k, u, geometric=geometric)
    d = block.shape[1]
    n = system.n_nodes * d
    comp = np.arange(d)
    ra = springs.a[:, None] * d + comp[None, :]
    rb = springs.b[:, None] * d + comp[None, :]
    rows, cols, vals = [], [], []
    for r, c, sign in ((ra, ra, 1.0), (rb, rb, 1.0), (ra, rb, -1.0), (rb, ra, -1.0)):
        rows.append(np.broadcast_to(r[:, :, None], block.shape).reshape(-1))
        cols.append(np.broadcast_to(c[:, None, :], block.shape).reshape(-1))
        vals.append(sign * block.reshape(-1))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
