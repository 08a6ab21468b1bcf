"""Network generators: lattices, random graphs, layered/crossbar networks, networkx import.

Every generator returns a :class:`physnet.Netlist` (not a compiled System), so
sources, probes and extra elements can be added before :meth:`~Netlist.compile`.
They share one vocabulary:

``kind``
    ``"resistor"`` (edges are resistors of conductance ``g`` in siemens),
    ``"flow"`` (pipes of hydraulic conductance ``k = g``) or ``"elastic"``
    (springs of stiffness ``k = g`` whose rest length is the distance between
    their nodes, i.e. the network starts unstressed).
``g``
    The per-edge conductance (stiffness): one positive number for every edge,
    a list/array with one value per edge (in the generator's documented edge
    order), or a *tuple* ``(low, high)`` meaning independent uniform draws in
    ``[low, high)`` from ``seed``. A tuple of two numbers is always a range;
    pass a list or array for per-edge values.
``seed``
    ``None``, an int or a :class:`numpy.random.Generator`. Everything random
    (graph sampling, layouts, ``g`` draws) comes from it, so one seed gives
    one network, bit for bit.
``ground``
    ``None`` (default: nothing touches ground, add your own sources and
    references) or the name of one generated node, which is replaced by the
    ground node ``"0"``. The grounded node has no position (ground never has
    one), so elastic networks, which have no ground, refuse the option.
``prefix``
    Element-name prefix; the default follows the kind: ``"R"`` (resistor,
    SPICE's letter), ``"P"`` (pipe) or ``"S"`` (spring).

Node names are deterministic and readable: ``n{i}_{j}`` for lattices,
``n{i}`` for random graphs, ``l{layer}_{k}`` for layered networks. Every node
gets a position (lattice coordinates, a seeded layout for graphs — spring
layout up to :data:`SPRING_LAYOUT_MAX_NODES` nodes —, layer/column for
layered networks), so networks can be drawn, and elastic
networks have their geometry.

Examples
--------
>>> from physnet.generators import square_lattice
>>> net = square_lattice(3, 2, g=(1e-3, 2e-3), seed=0)
>>> net.vsource("V1", "n0_0", "0", dc=1.0)
>>> system = net.compile()
>>> len(system["resistor"]), system.positions.shape
(7, (7, 2))
"""

from __future__ import annotations

import math
import operator
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray

from physnet.errors import NetlistError
from physnet.netlist import GROUND, Netlist

__all__ = [
    "square_lattice",
    "triangular_lattice",
    "erdos_renyi",
    "random_regular",
    "layered",
    "crossbar",
    "from_networkx",
    "SPRING_LAYOUT_MAX_NODES",
]

Kind = Literal["resistor", "flow", "elastic"]
GSpec = float | ArrayLike | tuple[float, float]
Seed = int | np.random.Generator | None

_ELEMENT = {"resistor": "resistor", "flow": "pipe", "elastic": "spring"}
_PREFIX = {"resistor": "R", "flow": "P", "elastic": "S"}
_GROUND_ALIASES = frozenset({"0", "gnd"})
_NO_ELASTIC_GROUND = (
    "ground is not available for kind='elastic': an elastic network has no ground node (pin or load nodes instead)"
)


# ------------------------------------------------------------------ checks
def _check_kind(kind: Any) -> str:
    if not isinstance(kind, str) or kind not in _ELEMENT:
        raise NetlistError(f"kind = {kind!r} is not supported (allowed: 'resistor', 'flow', 'elastic')")
    return kind


def _int(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool):
        raise NetlistError(f"{name} = {value!r} must be an integer >= {least}")
    try:
        number = operator.index(value)
    except TypeError:
        raise NetlistError(f"{name} = {value!r} must be an integer >= {least}") from None
    if number < least:
        raise NetlistError(f"{name} = {number} is too small (must be an integer >= {least})")
    return number


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, bool):
        raise NetlistError(f"seed = {seed!r} must be None, an integer or a numpy.random.Generator")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise NetlistError(
            f"seed = {seed!r} must be None, an integer >= 0 or a numpy.random.Generator ({exc})"
        ) from None


def _prefix(prefix: str | None, kind: str) -> str:
    if prefix is None:
        return _PREFIX[kind]
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        raise NetlistError(f"prefix = {prefix!r} must be a non-empty string without whitespace")
    return prefix


def _edge_values(g: Any, count: int, rng: np.random.Generator, *, name: str = "g") -> NDArray[np.float64]:
    """One positive conductance/stiffness per edge from the ``g`` spec."""
    allowed = "a number > 0, one number > 0 per edge, or a tuple (low, high) with 0 < low <= high"
    if isinstance(g, tuple) and len(g) == 2:
        try:
            low, high = float(g[0]), float(g[1])
        except (TypeError, ValueError):
            raise NetlistError(f"{name} = {g!r} is not a range of two numbers (allowed: {allowed})") from None
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
            raise NetlistError(f"{name} = {g!r} is an invalid range (need finite 0 < low <= high)")
        return rng.uniform(low, high, size=count)
    try:
        values = np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):
        raise NetlistError(f"{name} = {g!r} is not numeric (allowed: {allowed})") from None
    if values.ndim == 0:
        values = np.full(count, float(values))
    elif values.ndim != 1 or len(values) != count:
        raise NetlistError(
            f"{name} has shape {values.shape} but the network has {count} edges "
            f"(allowed: {allowed}; a tuple of two numbers is a range, pass a list or array for per-edge values)"
        )
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.argmax(bad))
        where = "" if np.ndim(g) == 0 else f" at edge {i}"
        raise NetlistError(f"{name} = {float(values[i])!r}{where} is invalid (must be a finite number > 0)")
    return values.copy()


def _ground_index(ground: Any, kind: str, names: Sequence[str], index: Mapping[str, int] | None = None) -> int | None:
    if ground is None:
        return None
    if kind == "elastic":
        raise NetlistError(_NO_ELASTIC_GROUND)
    if index is None:
        index = {n: i for i, n in enumerate(names)}
    if not isinstance(ground, str) or ground not in index:
        example = ", ".join(repr(n) for n in list(names[:3]))
        raise NetlistError(f"ground = {ground!r} is not a node of this network (node names look like {example}, ...)")
    return index[ground]


def _check_ground_elastic(kind: str, ground: Any) -> None:
    if ground is not None and kind == "elastic":
        raise NetlistError(_NO_ELASTIC_GROUND)


# ----------------------------------------------------------------- builder
def _build(
    title: str,
    kind: str,
    node_names: list[str],
    positions: NDArray[np.float64],
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    values: NDArray[np.float64],
    edge_names: list[str],
    ground: int | None,
) -> Netlist:
    """Assemble a netlist from node arrays and an edge list (the one code path of every generator)."""
    net = Netlist(title)
    keep = np.ones(len(node_names), dtype=bool)
    if ground is not None:
        keep[ground] = False
    index = np.zeros(len(node_names), dtype=np.int64)  # the grounded node keeps index 0
    index[keep] = net.nodes(_take(node_names, np.flatnonzero(keep)), positions[keep])
    an, bn = index[a], index[b]
    if kind == "resistor":
        net.resistors(edge_names, an, bn, g=values)
    elif kind == "flow":
        net.add_many("pipe", edge_names, an, bn, k=values)
    else:
        rest = np.linalg.norm(positions[a] - positions[b], axis=1)
        if (rest == 0).any():
            i = int(np.argmax(rest == 0))
            raise NetlistError(
                f"spring {edge_names[i]!r}: nodes {node_names[a[i]]!r} and {node_names[b[i]]!r} sit at the same "
                "position, so the spring has no direction (give distinct positions)"
            )
        net.add_many("spring", edge_names, an, bn, k=values, rest=rest)
    return net


def _take(names: list[str], index: NDArray[np.int64]) -> list[str]:
    if len(index) == 0:
        return []
    if len(index) == 1:
        return [names[int(index[0])]]
    return list(operator.itemgetter(*index.tolist())(names))


def _edge_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{e}" for e in range(count)]


# ---------------------------------------------------------------- lattices
def _lattice_names(nx_: int, ny: int) -> list[str]:
    return [f"n{i}_{j}" for i in range(nx_) for j in range(ny)]


def square_lattice(
    nx: int,
    ny: int,
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    seed: Seed = None,
    periodic: bool = False,
    diagonals: bool = False,
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A square lattice of ``nx`` by ``ny`` nodes.

    Node ``n{i}_{j}`` sits at ``(i, j)`` (unit spacing), ``0 <= i < nx``,
    ``0 <= j < ny``; nodes are numbered with ``i`` outer. Without periodic
    boundaries there are ``2 nx ny - nx - ny`` nearest-neighbour edges.

    Parameters
    ----------
    nx, ny : int
        Nodes along x and y (each >= 2; >= 3 when ``periodic``).
    kind : {"resistor", "flow", "elastic"}, optional
        Edge element: resistor (``g`` in S), pipe (``k = g``) or spring
        (stiffness ``k = g``, rest length = bond length). A square lattice
        of springs is floppy unless ``diagonals=True``.
    g : float, array_like or tuple (low, high), optional
        Conductance/stiffness: one value, one value per edge, or a uniform
        random range drawn from ``seed``.
    seed : int, numpy.random.Generator or None, optional
        Source of the random ``g`` draws.
    periodic : bool, optional
        Wrap both directions (a torus, ``2 nx ny`` edges). Topological only:
        positions stay those of the open lattice, so wrap-around edges are
        drawn long. Not available for ``kind="elastic"``.
    diagonals : bool, optional
        Add both diagonals of every square (next-nearest neighbours):
        ``2 (nx-1)(ny-1)`` extra edges, ``2 nx ny`` if periodic.
    ground : str, optional
        Name of one node to replace by ground ``"0"`` (see module docs).
    prefix : str, optional
        Element-name prefix (default by kind: ``"R"``, ``"P"``, ``"S"``).

    Returns
    -------
    Netlist
        Edges named ``{prefix}{e}``: all x-bonds ``(i, j)-(i+1, j)``, then
        all y-bonds ``(i, j)-(i, j+1)``, then (if asked) the diagonals
        ``(i, j)-(i+1, j+1)`` and ``(i+1, j)-(i, j+1)``; each group in node
        order. ``g`` arrays follow this order.

    Raises
    ------
    NetlistError
        Bad sizes, kind, ``g``, seed or ground.

    Examples
    --------
    >>> net = square_lattice(3, 3)
    >>> s = net.compile()
    >>> len(s["resistor"]), s.node_names[1:4]
    (12, ('n0_0', 'n0_1', 'n0_2'))
    >>> len(square_lattice(3, 3, periodic=True, diagonals=True).compile()["resistor"])
    36
    >>> s = square_lattice(2, 2, kind="elastic", diagonals=True, g=10.0).compile()
    >>> s["spring"]["rest"].round(3)
    array([1.   , 1.   , 1.   , 1.   , 1.414, 1.414])
    """
    kind = _check_kind(kind)
    least = 3 if periodic else 2
    nx_, ny = _int("nx", nx, least), _int("ny", ny, least)
    if periodic and kind == "elastic":
        raise NetlistError(
            "periodic=True is not available for kind='elastic': positions cannot represent wrap-around bonds "
            "(use periodic=False)"
        )
    prefix = _prefix(prefix, kind)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)

    idx = np.arange(nx_ * ny, dtype=np.int64).reshape(nx_, ny)
    if periodic:
        right, up = np.roll(idx, -1, axis=0), np.roll(idx, -1, axis=1)
        pairs = [(idx, right), (idx, up)]
        if diagonals:
            pairs += [(idx, np.roll(up, -1, axis=0)), (right, up)]
    else:
        pairs = [(idx[:-1, :], idx[1:, :]), (idx[:, :-1], idx[:, 1:])]
        if diagonals:
            pairs += [(idx[:-1, :-1], idx[1:, 1:]), (idx[1:, :-1], idx[:-1, 1:])]
    a = np.concatenate([p.ravel() for p, _ in pairs])
    b = np.concatenate([q.ravel() for _, q in pairs])

    ii, jj = np.meshgrid(np.arange(nx_, dtype=np.float64), np.arange(ny, dtype=np.float64), indexing="ij")
    positions = np.stack([ii.ravel(), jj.ravel()], axis=1)
    names = _lattice_names(nx_, ny)
    values = _edge_values(g, len(a), rng)
    gi = _ground_index(ground, kind, names, None if ground is None else _lattice_index(ground, nx_, ny))
    title = f"square_lattice {nx_}x{ny} {kind}" + (" periodic" if periodic else "")
    title += " diagonals" if diagonals else ""
    return _build(title, kind, names, positions, a, b, values, _edge_names(prefix, len(a)), gi)


def _lattice_index(name: Any, nx_: int, ny: int) -> dict[str, int]:
    """The lookup ``{name: index}`` for just ``name`` (avoids a dict of every lattice node)."""
    if isinstance(name, str) and name.startswith("n"):
        i, _, j = name[1:].partition("_")
        if i.isdigit() and j.isdigit() and int(i) < nx_ and int(j) < ny and name == f"n{int(i)}_{int(j)}":
            return {name: int(i) * ny + int(j)}
    return {}


def triangular_lattice(
    nx: int,
    ny: int,
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    seed: Seed = None,
    periodic: bool = False,
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A triangular lattice of ``nx`` by ``ny`` nodes in a rectangular patch.

    Rows ``j`` are ``√3/2`` apart and odd rows are shifted by half a bond, so
    node ``n{i}_{j}`` sits at ``(i + (j mod 2)/2, j √3/2)`` and every bond has
    unit length. Each interior node has six neighbours; without periodic
    boundaries there are ``3 nx ny - 2 nx - 2 ny + 1`` edges.

    Parameters
    ----------
    nx, ny : int
        Nodes per row and number of rows (each >= 2). Periodic lattices need
        ``nx >= 3`` and an even ``ny >= 4`` (so the row shift closes up).
    kind, g, seed, ground, prefix
        As in :func:`square_lattice`.
    periodic : bool, optional
        Wrap both directions (``3 nx ny`` edges); topological only, not
        available for ``kind="elastic"``.

    Returns
    -------
    Netlist
        Edges named ``{prefix}{e}``: the in-row bonds ``(i, j)-(i+1, j)``,
        then the bonds ``(i, j)-(i, j+1)`` to the next row, then the other
        bonds to the next row, ``(i, j)-(i-1, j+1)`` from even rows and
        ``(i, j)-(i+1, j+1)`` from odd rows (open lattices: all even rows
        first, then all odd rows); each group in node order, ``i`` outer.

    Raises
    ------
    NetlistError
        Bad sizes, kind, ``g``, seed or ground.

    Examples
    --------
    >>> s = triangular_lattice(3, 3, kind="elastic", g=1.0).compile()
    >>> len(s["spring"]), bool(abs(s["spring"]["rest"] - 1.0).max() < 1e-12)
    (16, True)
    """
    kind = _check_kind(kind)
    if periodic:
        nx_ = _int("nx", nx, 3)
        ny = _int("ny", ny, 4)
        if ny % 2:
            raise NetlistError(f"ny = {ny} must be even for a periodic triangular lattice (rows alternate their shift)")
        if kind == "elastic":
            raise NetlistError(
                "periodic=True is not available for kind='elastic': positions cannot represent wrap-around bonds "
                "(use periodic=False)"
            )
    else:
        nx_, ny = _int("nx", nx, 2), _int("ny", ny, 2)
    prefix = _prefix(prefix, kind)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)

    idx = np.arange(nx_ * ny, dtype=np.int64).reshape(nx_, ny)
    odd = (np.arange(ny) % 2).astype(bool)
    if periodic:
        up = np.roll(idx, -1, axis=1)
        # other neighbour in the next row: i-1 from even rows, i+1 from odd rows
        other = np.where(odd[None, :], np.roll(up, -1, axis=0), np.roll(up, 1, axis=0))
        a = np.concatenate([idx.ravel(), idx.ravel(), idx.ravel()])
        b = np.concatenate([np.roll(idx, -1, axis=0).ravel(), up.ravel(), other.ravel()])
    else:
        ai, bi = [idx[:-1, :].ravel()], [idx[1:, :].ravel()]
        ai.append(idx[:, :-1].ravel())
        bi.append(idx[:, 1:].ravel())
        # diagonals: from even row j, (i, j)-(i-1, j+1) for i >= 1; from odd row j, (i, j)-(i+1, j+1) for i < nx-1
        jj = np.arange(ny - 1)
        even_rows, odd_rows = jj[~odd[:-1]], jj[odd[:-1]]
        ai.append(idx[1:, even_rows].ravel())
        bi.append(idx[:-1, even_rows + 1].ravel())
        ai.append(idx[:-1, odd_rows].ravel())
        bi.append(idx[1:, odd_rows + 1].ravel())
        a, b = np.concatenate(ai), np.concatenate(bi)

    ii, jj2 = np.meshgrid(np.arange(nx_, dtype=np.float64), np.arange(ny, dtype=np.float64), indexing="ij")
    positions = np.stack([(ii + 0.5 * (jj2 % 2)).ravel(), (jj2 * (math.sqrt(3.0) / 2.0)).ravel()], axis=1)
    names = _lattice_names(nx_, ny)
    values = _edge_values(g, len(a), rng)
    gi = _ground_index(ground, kind, names, None if ground is None else _lattice_index(ground, nx_, ny))
    title = f"triangular_lattice {nx_}x{ny} {kind}" + (" periodic" if periodic else "")
    return _build(title, kind, names, positions, a, b, values, _edge_names(prefix, len(a)), gi)


# ----------------------------------------------------------- random graphs
def _graph_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**32))


SPRING_LAYOUT_MAX_NODES = 500
"""``layout="auto"`` uses a spring layout up to this many nodes, uniform random positions above.

networkx's spring layout costs about 1 s at 500 nodes and grows roughly
quadratically (about 45 s at 5000 nodes on a laptop core).
"""

_LAYOUTS = ("auto", "spring", "spectral", "random")


def _check_layout(layout: Any) -> str:
    if not isinstance(layout, str) or layout not in _LAYOUTS:
        raise NetlistError(f"layout = {layout!r} is not supported (allowed: {', '.join(map(repr, _LAYOUTS))})")
    return layout


def _layout(graph: nx.Graph, nodes: list, dim: int, rng: np.random.Generator, layout: str) -> NDArray[np.float64]:
    """Seeded node positions in ``[-1, 1]^dim`` (topology only: edge weights do not pull nodes together)."""
    seed = _graph_seed(rng)  # drawn whatever the layout, so later draws (g) do not depend on it
    if layout == "auto":
        layout = "spring" if len(nodes) <= SPRING_LAYOUT_MAX_NODES else "random"
    if layout == "random":
        return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(len(nodes), dim))
    if layout == "spectral":
        pos = nx.spectral_layout(graph, dim=dim, weight=None)
    else:
        pos = nx.spring_layout(graph, dim=dim, seed=seed, weight=None)
    return np.array([pos[v] for v in nodes], dtype=np.float64).reshape(len(nodes), dim)


def _from_graph(
    title: str,
    graph: nx.Graph,
    *,
    kind: str,
    g: Any,
    rng: np.random.Generator,
    dim: int,
    layout: str,
    ground: Any,
    prefix: str,
) -> Netlist:
    """Netlist of a graph on the integer nodes ``0..n-1`` (names ``n{i}``)."""
    n = graph.number_of_nodes()
    nodes = list(range(n))
    positions = _layout(graph, nodes, dim, rng, layout)
    edges = np.array(sorted((min(u, v), max(u, v)) for u, v in graph.edges()), dtype=np.int64).reshape(-1, 2)
    values = _edge_values(g, len(edges), rng)
    names = [f"n{i}" for i in nodes]
    gi = _ground_index(ground, kind, names)
    return _build(title, kind, names, positions, edges[:, 0], edges[:, 1], values, _edge_names(prefix, len(edges)), gi)


def _check_dim(dim: Any) -> int:
    dim = _int("dim", dim, 2)
    if dim > 3:
        raise NetlistError(f"dim = {dim} is not supported (positions are 2-D or 3-D)")
    return dim


def erdos_renyi(
    n: int,
    p: float,
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    seed: Seed = None,
    connected: Literal["resample", "largest"] = "resample",
    max_tries: int = 100,
    dim: int = 2,
    layout: Literal["auto", "spring", "spectral", "random"] = "auto",
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A connected Erdős–Rényi random graph ``G(n, p)``.

    Each of the ``n (n-1)/2`` possible edges is present with probability
    ``p``. A disconnected network is useless as a circuit (floating parts),
    so the sample is made connected in one of two documented ways:

    * ``connected="resample"`` (default): draw new samples, each from the
      next seed taken from ``seed``, until one is connected (at most
      ``max_tries``); the result is an exact draw of ``G(n, p)`` conditioned
      on connectivity, with exactly ``n`` nodes.
    * ``connected="largest"``: keep the largest connected component of the
      first sample, relabelled ``n0 .. n{k-1}`` in the order of the original
      labels (``k <= n`` nodes).

    ``G(n, p)`` is connected with high probability only above the threshold
    ``p ≈ ln(n)/n``.

    Parameters
    ----------
    n : int
        Number of nodes (>= 2).
    p : float
        Edge probability, ``0 < p <= 1``.
    kind, g, seed, ground, prefix
        As in :func:`square_lattice`.
    connected : {"resample", "largest"}, optional
        How to obtain a connected graph (see above).
    max_tries : int, optional
        Samples to try with ``connected="resample"``.
    dim : {2, 3}, optional
        Dimension of the node positions.
    layout : {"auto", "spring", "spectral", "random"}, optional
        How node positions are made, all seeded from ``seed`` and within
        ``[-1, 1]``: networkx's spring (Fruchterman–Reingold) layout, its
        spectral layout (fast, but symmetric nodes may coincide, which
        elastic networks reject), or independent uniform positions.
        ``"auto"`` is ``"spring"`` up to :data:`SPRING_LAYOUT_MAX_NODES`
        nodes and ``"random"`` above (the spring layout scales badly).

    Returns
    -------
    Netlist
        Nodes ``n{i}``; edges ``{prefix}{e}`` sorted by ``(i, j)``, ``i < j``.

    Raises
    ------
    NetlistError
        Bad arguments, or no connected sample in ``max_tries`` (``p`` too
        small), or an edgeless sample with ``connected="largest"``.

    Examples
    --------
    >>> s = erdos_renyi(20, 0.3, g=(0.5, 1.5), seed=1).compile()
    >>> s.n_nodes, s.positions.shape
    (21, (21, 2))
    """
    kind = _check_kind(kind)
    n = _int("n", n, 2)
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise NetlistError(f"p = {p!r} must be a number in (0, 1]") from None
    if not 0 < p <= 1:
        raise NetlistError(f"p = {p!r} is outside (0, 1] (the probability of each edge)")
    if connected not in ("resample", "largest"):
        raise NetlistError(f"connected = {connected!r} is not supported (allowed: 'resample', 'largest')")
    max_tries = _int("max_tries", max_tries, 1)
    dim = _check_dim(dim)
    layout = _check_layout(layout)
    prefix = _prefix(prefix, kind)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)

    if connected == "largest":
        sample = nx.fast_gnp_random_graph(n, p, seed=_graph_seed(rng))
        keep = sorted(max(nx.connected_components(sample), key=lambda c: (len(c), -min(c))))
        if len(keep) < 2:
            raise NetlistError(
                f"erdos_renyi(n={n}, p={p}): the sample has no edges at all; raise p "
                f"(connectivity needs p above about ln(n)/n = {math.log(n) / n:.3g})"
            )
        graph = nx.relabel_nodes(sample.subgraph(keep), {v: i for i, v in enumerate(keep)})
    else:
        for _ in range(max_tries):
            graph = nx.fast_gnp_random_graph(n, p, seed=_graph_seed(rng))
            if nx.is_connected(graph):
                break
        else:
            raise NetlistError(
                f"erdos_renyi(n={n}, p={p}): no connected sample in max_tries={max_tries} draws; G(n, p) is "
                f"connected with high probability only for p above about ln(n)/n = {math.log(n) / n:.3g} — "
                "raise p, raise max_tries, or pass connected='largest' to keep the largest component"
            )
    return _from_graph(f"erdos_renyi n={n} p={p} {kind}", graph, kind=kind, g=g, rng=rng, dim=dim,
                       layout=layout, ground=ground, prefix=prefix)


def random_regular(
    n: int,
    degree: int,
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    seed: Seed = None,
    max_tries: int = 100,
    dim: int = 2,
    layout: Literal["auto", "spring", "spectral", "random"] = "auto",
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A connected random ``degree``-regular graph on ``n`` nodes.

    Sampled with :func:`networkx.random_regular_graph`, redrawn from the next
    seed taken from ``seed`` until connected (for ``degree >= 3`` the first
    draw almost always is; ``degree = 2`` graphs are unions of cycles and
    often need several draws).

    Parameters
    ----------
    n : int
        Number of nodes (>= 2).
    degree : int
        Edges per node, ``1 <= degree < n``, with ``n * degree`` even;
        ``degree = 1`` only for ``n = 2`` (otherwise never connected).
    kind, g, seed, ground, prefix, max_tries, dim, layout
        As in :func:`erdos_renyi`.

    Returns
    -------
    Netlist
        Nodes ``n{i}``; ``n * degree / 2`` edges ``{prefix}{e}`` sorted by
        ``(i, j)``, ``i < j``.

    Raises
    ------
    NetlistError
        Bad arguments, or no connected sample in ``max_tries`` draws.

    Examples
    --------
    >>> s = random_regular(10, 3, seed=0).compile()
    >>> len(s["resistor"])
    15
    """
    kind = _check_kind(kind)
    n = _int("n", n, 2)
    degree = _int("degree", degree, 1)
    if degree >= n:
        raise NetlistError(f"degree = {degree} must be smaller than n = {n}")
    if (n * degree) % 2:
        raise NetlistError(f"n * degree = {n} * {degree} is odd; a regular graph needs n * degree even")
    if degree == 1 and n > 2:
        raise NetlistError(f"degree = 1 with n = {n} > 2 is a perfect matching, never connected (use degree >= 2)")
    max_tries = _int("max_tries", max_tries, 1)
    dim = _check_dim(dim)
    layout = _check_layout(layout)
    prefix = _prefix(prefix, kind)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)
    for _ in range(max_tries):
        graph = nx.random_regular_graph(degree, n, seed=_graph_seed(rng))
        if nx.is_connected(graph):
            break
    else:
        raise NetlistError(
            f"random_regular(n={n}, degree={degree}): no connected sample in max_tries={max_tries} draws "
            "(raise degree or max_tries)"
        )
    return _from_graph(f"random_regular n={n} degree={degree} {kind}", graph, kind=kind, g=g, rng=rng, dim=dim,
                       layout=layout, ground=ground, prefix=prefix)


# --------------------------------------------------------- layered networks
def layered(
    sizes: Sequence[int],
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    diodes: bool | Literal["shunt", "series"] = False,
    diode_params: Mapping[str, float] | None = None,
    seed: Seed = None,
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A layered network: every node of layer ``l`` joined to every node of layer ``l+1``.

    This is the deep resistive network of analog equilibrium-propagation
    work (Kendall et al. 2020; Scellier 2024): inputs are sources on layer 0,
    outputs are read on the last layer, and the edges between two layers
    form a crossbar whose conductances are the weights.

    Node ``l{layer}_{k}`` sits at ``(layer, k - (size - 1)/2)`` (columns
    centred). The edge from ``l{l}_{j}`` to ``l{l+1}_{k}`` is named
    ``{prefix}{l}_{j}_{k}`` — the entry ``W[l][j, k]`` of the layer's weight
    matrix — and edges are ordered by ``l``, then ``j``, then ``k`` (the
    order ``g`` arrays follow; ``sum(sizes[l] * sizes[l+1])`` edges).

    Parameters
    ----------
    sizes : sequence of int
        Nodes per layer (at least two layers, each >= 1 node).
    kind, g, seed, ground, prefix
        As in :func:`square_lattice`.
    diodes : {False, True, "shunt", "series"}, optional
        Nonlinearity (``kind="resistor"`` only):

        * ``"shunt"`` (or ``True``), the standard choice: each *hidden*
          node ``l{l}_{k}`` (``0 < l < len(sizes)-1``) gets a pair of
          antiparallel diodes to ground, ``D{l}_{k}p`` (anode at the node)
          and ``D{l}_{k}n`` (cathode at the node) — the diode activation of
          Kendall et al. 2020, here unbiased, which softly clips hidden
          potentials to about ±0.6 V with the default diode. For biased
          units (diodes returning to bias sources, as in Kendall et al.),
          build with ``diodes=False`` and add your own diodes and sources
          to the returned netlist.
        * ``"series"``: a diode in series with every edge resistor,
          ``l{l}_{j} -[R]- m{l}_{j}_{k} -[D]->- l{l+1}_{k}``, so current
          flows only from layer ``l`` towards layer ``l+1``; the midpoint
          nodes ``m{l}_{j}_{k}`` sit half-way, diodes are named
          ``D{l}_{j}_{k}``.
        * ``False``: a linear network.
    diode_params : mapping, optional
        Diode parameters passed to every diode (``is_``, ``n``, ``rs``; see
        :meth:`physnet.Netlist.diode`).

    Returns
    -------
    Netlist

    Raises
    ------
    NetlistError
        Bad sizes, kind, ``g``, ``diodes`` or ``diode_params``; diodes with a
        non-resistive kind; shunt diodes without a hidden layer.

    Examples
    --------
    >>> s = layered([2, 3, 1], g=(1e-3, 1e-2), diodes="shunt", seed=0).compile()
    >>> len(s["resistor"]), len(s["diode"]), s["resistor"].names[:2]
    (9, 6, ('R0_0_0', 'R0_0_1'))
    """
    kind = _check_kind(kind)
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence | np.ndarray):
        raise NetlistError(f"sizes = {sizes!r} must be a sequence of layer sizes, e.g. [4, 8, 2]")
    sizes = [_int(f"sizes[{i}]", s, 1) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise NetlistError(f"sizes = {sizes!r} needs at least two layers (input and output)")
    if diodes is True:
        diodes = "shunt"
    if diodes not in (False, "shunt", "series"):
        raise NetlistError(f"diodes = {diodes!r} is not supported (allowed: False, True, 'shunt', 'series')")
    if diodes and kind != "resistor":
        raise NetlistError(
            f"diodes = {diodes!r} needs kind='resistor' (diodes are electric elements, got kind={kind!r})"
        )
    if diodes == "shunt" and len(sizes) < 3:
        raise NetlistError(
            "diodes='shunt' puts diodes at hidden nodes but the network has no hidden layer "
            "(add one, e.g. sizes=[n_in, n_hidden, n_out], or use diodes='series')"
        )
    if diode_params is not None and not diodes:
        raise NetlistError("diode_params is given but diodes=False (set diodes='shunt' or 'series')")
    if diode_params is not None and not isinstance(diode_params, Mapping):
        raise NetlistError(f"diode_params = {diode_params!r} must be a mapping such as {{'is_': 1e-14, 'n': 1.0}}")
    dparams = dict(diode_params or {})
    prefix = _prefix(prefix, kind)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)

    offsets = np.concatenate([[0], np.cumsum(sizes)])
    names = [f"l{l}_{k}" for l, size in enumerate(sizes) for k in range(size)]
    positions = np.array(
        [(float(l), k - (size - 1) / 2.0) for l, size in enumerate(sizes) for k in range(size)], dtype=np.float64
    )
    a_parts, b_parts, edge_names = [], [], []
    for l in range(len(sizes) - 1):
        jj, kk = np.meshgrid(np.arange(sizes[l]), np.arange(sizes[l + 1]), indexing="ij")
        a_parts.append(offsets[l] + jj.ravel())
        b_parts.append(offsets[l + 1] + kk.ravel())
        edge_names += [f"{prefix}{l}_{j}_{k}" for j in range(sizes[l]) for k in range(sizes[l + 1])]
    a = np.concatenate(a_parts).astype(np.int64)
    b = np.concatenate(b_parts).astype(np.int64)
    values = _edge_values(g, len(a), rng)
    gi = _ground_index(ground, kind, names)
    title = f"layered {'-'.join(map(str, sizes))} {kind}" + (f" diodes={diodes}" if diodes else "")

    if diodes == "series":
        # each edge a -> b becomes a -[R]- m -[D]->- b, m half-way between a and b
        mids = [f"m{e[len(prefix):]}" for e in edge_names]
        all_names = names + mids
        all_pos = np.concatenate([positions, 0.5 * (positions[a] + positions[b])])
        m_idx = np.arange(len(names), len(all_names), dtype=np.int64)
        net = _build(title, kind, all_names, all_pos, a, m_idx, values, edge_names, gi)
        terminals = list(names)
        if gi is not None:
            terminals[gi] = GROUND
        diode_names = [f"D{e[len(prefix):]}" for e in edge_names]
        _add_diodes(net, diode_names, mids, _take(terminals, b), dparams)
        return net

    net = _build(title, kind, names, positions, a, b, values, edge_names, gi)
    if diodes == "shunt":
        # a grounded hidden node needs no diodes (they would join ground to itself)
        hidden = [(l, k) for l in range(1, len(sizes) - 1) for k in range(sizes[l])
                  if gi is None or names[gi] != f"l{l}_{k}"]
        nodes = [f"l{l}_{k}" for l, k in hidden]
        _add_diodes(net, [f"D{l}_{k}p" for l, k in hidden], nodes, [GROUND] * len(hidden), dparams)
        _add_diodes(net, [f"D{l}_{k}n" for l, k in hidden], [GROUND] * len(hidden), nodes, dparams)
    return net


def _add_diodes(net: Netlist, names: list[str], a: list[str], b: list[str], params: dict[str, Any]) -> None:
    try:
        net.add_many("diode", names, a, b, **params)
    except NetlistError as exc:
        raise NetlistError(f"diode_params: {exc}") from None


def crossbar(
    n_in: int,
    n_out: int,
    *,
    kind: Kind = "resistor",
    g: GSpec = 1.0,
    diodes: bool | Literal["series"] = False,
    diode_params: Mapping[str, float] | None = None,
    seed: Seed = None,
    ground: str | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A crossbar: ``n_in`` input lines each joined to ``n_out`` output lines.

    ``layered([n_in, n_out], ...)``: inputs ``l0_{j}``, outputs ``l1_{k}``,
    edge ``{prefix}0_{j}_{k}`` holds the weight ``W[j, k]``. Only series
    diodes make sense here (there is no hidden layer).

    Examples
    --------
    >>> s = crossbar(3, 2, g=[1, 2, 3, 4, 5, 6]).compile()
    >>> s["resistor"].names[1], float(s["resistor"]["g"][1])
    ('R0_0_1', 2.0)
    """
    return layered([n_in, n_out], kind=kind, g=g, diodes=diodes, diode_params=diode_params, seed=seed,
                   ground=ground, prefix=prefix)


# ------------------------------------------------------------ networkx graphs
def _graph_node_name(node: Hashable) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, tuple):
        return "n" + "_".join(str(part) for part in node)
    return f"n{node}"


def from_networkx(
    graph: nx.Graph,
    *,
    kind: Kind = "resistor",
    g: GSpec | None = None,
    weight: str = "weight",
    positions: str | Mapping[Hashable, Sequence[float]] | None = "pos",
    seed: Seed = None,
    dim: int = 2,
    layout: Literal["auto", "spring", "spectral", "random"] = "auto",
    ground: Hashable | None = None,
    prefix: str | None = None,
) -> Netlist:
    """A network with the topology of a networkx graph.

    Node names are deterministic: string nodes keep their label; integers
    become ``n{label}`` (so node ``0`` is ``"n0"``, **not** ground); tuples
    become ``n`` + their parts joined by ``_`` (``(1, 2)`` → ``"n1_2"``, the
    lattice naming); anything else ``n{str(label)}``. A string node called
    ``"0"`` or ``"gnd"`` would silently be ground, so it is an error unless
    ``ground`` names it. Nodes are declared in graph order and edges follow
    ``graph.edges`` order (parallel edges of a multigraph become separate
    elements; for a directed graph, ``u -> v`` is the element's ``a -> b``).

    Parameters
    ----------
    graph : networkx.Graph
        Any graph, multigraph or directed graph without self-loops.
    kind, seed, prefix
        As in :func:`square_lattice`.
    g : float, array_like, tuple (low, high) or None, optional
        ``None`` (default): every edge's ``weight`` attribute is its
        conductance/stiffness (missing on an edge is an error). Otherwise a
        spec as in :func:`square_lattice`, ignoring edge attributes.
    weight : str, optional
        Edge attribute read when ``g`` is None.
    positions : str, mapping or None, optional
        A node-attribute name (default ``"pos"``) or a mapping node → 2-D/3-D
        coordinates. Used if every node has one; if no node has one (or
        ``positions=None``) a ``layout`` seeded from ``seed`` is used;
        partial coverage is an error.
    dim, layout
        Dimension and method of the layout when positions are computed (see
        :func:`erdos_renyi`).
    ground : hashable, optional
        A graph node (its networkx label, e.g. ``0``) or its physnet name
        (e.g. ``"n0"``) to replace by ground ``"0"``.

    Returns
    -------
    Netlist

    Raises
    ------
    NetlistError
        Empty graph, self-loops, names that clash or contain whitespace,
        missing weights or positions, bad ``g`` or ``ground``.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.path_graph(3)
    >>> nx.set_edge_attributes(G, {(0, 1): 1e-3, (1, 2): 2e-3}, "weight")
    >>> s = from_networkx(G, ground=0, seed=0).compile()
    >>> s.node_names, s["resistor"]["g"].tolist()
    (('0', 'n1', 'n2'), [0.001, 0.002])
    """
    kind = _check_kind(kind)
    if not isinstance(graph, nx.Graph):
        raise NetlistError(f"graph must be a networkx graph, got {type(graph).__name__}")
    nodes = list(graph.nodes)
    edges = list(graph.edges(data=True))
    if len(nodes) < 2 or not edges:
        raise NetlistError(f"graph has {len(nodes)} nodes and {len(edges)} edges (need at least one edge)")
    prefix = _prefix(prefix, kind)
    dim = _check_dim(dim)
    layout = _check_layout(layout)
    _check_ground_elastic(kind, ground)
    rng = _rng(seed)

    names = [_graph_node_name(v) for v in nodes]
    index = {}
    for v, name in zip(nodes, names):
        if not name or any(c.isspace() for c in name):
            raise NetlistError(
                f"graph node {v!r} gives the name {name!r}, which is empty or contains whitespace "
                "(relabel, e.g. networkx.convert_node_labels_to_integers)"
            )
        if name in index:
            raise NetlistError(
                f"graph nodes {nodes[index[name]]!r} and {v!r} both map to the name {name!r} "
                "(relabel, e.g. networkx.convert_node_labels_to_integers)"
            )
        index[name] = len(index)
    node_index = {v: i for i, v in enumerate(nodes)}

    gi = None
    if ground is not None:
        try:
            gi = node_index.get(ground)
        except TypeError:  # unhashable
            gi = None
        if gi is None:
            gi = _ground_index(ground, kind, names, index)
    for i, name in enumerate(names):
        if name.lower() in _GROUND_ALIASES and i != gi:
            raise NetlistError(
                f"graph node {nodes[i]!r} would be the ground node; pass ground={nodes[i]!r} if it is meant "
                "to be ground, or relabel it"
            )

    a = np.empty(len(edges), dtype=np.int64)
    b = np.empty(len(edges), dtype=np.int64)
    for e, (u, v, _) in enumerate(edges):
        if u == v:
            raise NetlistError(f"graph edge ({u!r}, {v!r}) is a self-loop; an element needs two distinct nodes")
        a[e], b[e] = node_index[u], node_index[v]
    if g is None:
        missing = [(u, v) for u, v, data in edges if weight not in data]
        if missing:
            raise NetlistError(
                f"graph edge {missing[0]!r} has no {weight!r} attribute ({len(missing)} of {len(edges)} edges lack "
                f"it); set it on every edge, pick another attribute with weight=, or pass g="
            )
        given = [data[weight] for _, _, data in edges]
        values = _edge_values(given, len(edges), rng, name=f"edge attribute {weight!r}")
    else:
        values = _edge_values(g, len(edges), rng)

    coords = _graph_positions(graph, nodes, positions)
    if coords is None:
        coords = _layout(graph, nodes, dim, rng, layout)
    title = f"from_networkx {len(nodes)} nodes {len(edges)} edges {kind}"
    return _build(title, kind, names, coords, a, b, values, _edge_names(prefix, len(edges)), gi)


def _graph_positions(graph: nx.Graph, nodes: list, positions: Any) -> NDArray[np.float64] | None:
    if positions is None:
        return None
    if isinstance(positions, str):
        given = {v: data[positions] for v, data in graph.nodes(data=True) if positions in data}
        label = f"node attribute {positions!r}"
    elif isinstance(positions, Mapping):
        given = {v: positions[v] for v in nodes if v in positions}
        label = "positions"
    else:
        raise NetlistError(f"positions = {positions!r} must be a node-attribute name, a mapping or None")
    if not given:
        return None
    if len(given) != len(nodes):
        missing = next(v for v in nodes if v not in given)
        raise NetlistError(
            f"graph node {missing!r} has no {label} ({len(nodes) - len(given)} of {len(nodes)} nodes lack one); "
            "give every node a position, or none to use a layout"
        )
    try:
        coords = np.array([np.asarray(given[v], dtype=np.float64) for v in nodes])
    except (TypeError, ValueError):
        raise NetlistError(f"{label}: every position must be 2 or 3 numbers") from None
    if coords.ndim != 2 or coords.shape[1] not in (2, 3) or not np.isfinite(coords).all():
        raise NetlistError(f"{label}: every position must be 2 or 3 finite numbers (all nodes the same dimension)")
    return coords
