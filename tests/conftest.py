"""Shared helpers of the core tests: random networks and an independent dense MNA reference.

The reference solver below is deliberately *not* physnet's: it stamps classic
modified nodal analysis (one extra unknown per voltage source, SPICE's sign)
into a dense matrix and calls ``numpy.linalg.solve``. physnet eliminates the
sources instead, so agreement checks the reduction, the assembly and the
linear backends together against textbook MNA.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pytest

import physnet as pn


@dataclass
class RandomNetwork:
    netlist: pn.Netlist
    system: pn.System
    n_nodes: int


def build_random_network(
    seed: int,
    n_nodes: int = 12,
    extra_edges: int = 10,
    n_vsources: int = 2,
    n_isources: int = 2,
    decades: float = 4.0,
) -> RandomNetwork:
    """A connected random resistor network with voltage and current sources.

    Node ``n0`` of the networkx graph is ground. Conductances are log-uniform
    over ``decades`` decades around 1 mS. Voltage sources sit on the edges of a
    random forest (so they never form a loop); current sources between random
    node pairs.
    """
    rng = np.random.default_rng(seed)
    graph = nx.random_labeled_tree(n_nodes, seed=int(rng.integers(2**31)))
    extra_edges = min(extra_edges, n_nodes * (n_nodes - 1) // 2 - (n_nodes - 1))  # a simple graph has no more
    while graph.number_of_edges() < n_nodes - 1 + extra_edges:
        p, q = (int(x) for x in rng.choice(n_nodes, 2, replace=False))
        graph.add_edge(p, q)  # repeated pairs collapse; loop until enough distinct edges
    name = ["0"] + [f"n{i}" for i in range(1, n_nodes)]
    net = pn.Netlist("random")
    edges = sorted(graph.edges())
    g = 10.0 ** rng.uniform(-3 - decades / 2, -3 + decades / 2, len(edges))
    net.resistors([f"R{k}" for k in range(len(edges))], [name[p] for p, _ in edges], [name[q] for _, q in edges],
                  g=g)
    # voltage sources on a random forest over all nodes (union-find keeps it acyclic)
    parent = list(range(n_nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    placed = 0
    while placed < n_vsources:
        p, q = (int(x) for x in rng.choice(n_nodes, 2, replace=False))
        if find(p) == find(q):
            continue
        parent[find(p)] = find(q)
        net.vsource(f"V{placed}", name[p], name[q], dc=float(rng.uniform(-5, 5)))
        placed += 1
    for k in range(n_isources):
        p, q = (int(x) for x in rng.choice(n_nodes, 2, replace=False))
        net.isource(f"I{k}", name[p], name[q], dc=float(rng.uniform(-1e-2, 1e-2)))
    return RandomNetwork(net, net.compile(), n_nodes)


def mna_reference(system: pn.System, g=None, v_sources=None, i_sources=None):
    """Dense MNA solution: node potentials and voltage-source/inductor branch currents.

    Unknowns: potentials of nodes 1..n-1, then one branch current per voltage
    source and per inductor (a 0 V source at DC), flowing into ``+``, through
    the element, out of ``-`` (SPICE's sign). Capacitors are open.
    """
    n = system.n_nodes
    r, vs, cs, ind = system["resistor"], system["vsource"], system["isource"], system["inductor"]
    g = r["g"] if g is None else np.asarray(g)
    E = vs["dc"] if v_sources is None else np.asarray(v_sources)
    Isrc = cs["dc"] if i_sources is None else np.asarray(i_sources)
    branches = [(a, b, e) for a, b, e in zip(vs.a, vs.b, E)] + [(a, b, 0.0) for a, b in zip(ind.a, ind.b)]
    m = len(branches)
    A = np.zeros((n + m, n + m))
    z = np.zeros(n + m)
    for a, b, gk in zip(r.a, r.b, g):
        A[a, a] += gk
        A[b, b] += gk
        A[a, b] -= gk
        A[b, a] -= gk
    for k, (a, b, e) in enumerate(branches):
        A[a, n + k] += 1.0  # branch current leaves node a ...
        A[b, n + k] -= 1.0  # ... and enters node b
        A[n + k, a] += 1.0
        A[n + k, b] -= 1.0
        z[n + k] = e
    for a, b, i in zip(cs.a, cs.b, Isrc):
        z[a] -= i  # ``I a b`` draws i out of a ...
        z[b] += i  # ... and pushes it into b
    keep = np.r_[1:n + m]  # drop ground's KCL row and its potential
    sol = np.linalg.solve(A[np.ix_(keep, keep)], z[keep])
    v = np.concatenate([[0.0], sol[: n - 1]])
    return v, sol[n - 1:]


def kcl_residual(system: pn.System, op: pn.DCResult, g=None, i_sources=None) -> float:
    """Largest KCL imbalance at any non-ground node, as a normwise backward error.

    Counts every element: resistors, current sources and the *reported*
    voltage-source / inductor currents, so it checks those currents too. The
    imbalance is divided by the largest sum of current *magnitudes* a node's
    terms could carry given rounded potentials, ``Σ g (|v_a| + |v_b|)`` plus
    its source currents: that is the scale at which float64 rounding of the
    potentials alone shows up, so a backward-stable solve scores ~1e-16 however
    many decades the conductances span.
    """
    v = op.v
    r, cs = system["resistor"], system["isource"]
    g = r["g"] if g is None else g
    Isrc = cs["dc"] if i_sources is None else i_sources
    leaving = np.zeros(system.n_nodes)
    magnitude = np.zeros(system.n_nodes)
    flows = g * (v[r.a] - v[r.b])
    sizes = np.abs(g) * (np.abs(v[r.a]) + np.abs(v[r.b]))
    short_a = np.concatenate([system["vsource"].a, system["inductor"].a])
    short_b = np.concatenate([system["vsource"].b, system["inductor"].b])
    for (a, b), f, m in (((r.a, r.b), flows, sizes), ((cs.a, cs.b), Isrc, np.abs(Isrc)),
                         ((short_a, short_b), op.source_currents, np.abs(op.source_currents))):
        np.add.at(leaving, a, f)
        np.add.at(leaving, b, -f)
        np.add.at(magnitude, a, m)
        np.add.at(magnitude, b, m)
    return float(np.max(np.abs(leaving[1:])) / np.max(magnitude[1:]))


@pytest.fixture(scope="session")
def random_network():
    """Factory fixture: ``random_network(seed, **kwargs)`` -> :class:`RandomNetwork`."""
    return build_random_network


@pytest.fixture(scope="session")
def mna():
    """The dense MNA reference solver (see :func:`mna_reference`)."""
    return mna_reference


@pytest.fixture(scope="session")
def kcl():
    """Relative KCL residual of a DC result (see :func:`kcl_residual`)."""
    return kcl_residual
