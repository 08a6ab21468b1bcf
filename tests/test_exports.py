"""The public API: every exported name exists, is documented, and its docstring examples run.

``pytest`` also collects every module's doctests (``--doctest-modules`` in
pyproject); this file pins the *exported* surface, so a name dropped from a
module, an undocumented export or a broken example of a re-exported object
fails here by name.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import types

import pytest

import physnet as pn

PACKAGES = ("physnet", "physnet.learning", "physnet.solvers")

# The stable user-facing contract of DESIGN.md plus the FP engine's solvers.
CONTRACT = {
    "physnet": ("Netlist", "read_spice", "write_spice", "solve_dc", "solve_ac", "ACResult", "solve_transient",
                "TransientResult", "NoiseSpec", "lockin", "solve_hb", "HBResult", "fp_update", "gradient"),
    "physnet.learning": ("fp_update", "FPUpdate", "elastic_gradient", "elastic_fp_update", "elastic_modes",
                         "ElasticOutputs", "QuasiStaticWarning", "flow_gradient", "chemical_update",
                         "chemical_concentration"),
}


def _exports() -> list[tuple[str, str, object]]:
    out = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            out.append((package, name, getattr(module, name, None)))
    return out


def _unique_objects() -> list[tuple[str, object]]:
    seen: dict[int, tuple[str, object]] = {}
    for package, name, obj in _exports():
        seen.setdefault(id(obj), (f"{package}.{name}", obj))
    return list(seen.values())


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_unique_existing_names(package):
    module = importlib.import_module(package)
    assert len(module.__all__) == len(set(module.__all__)), "duplicate names in __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("package", sorted(CONTRACT))
def test_contract_names_are_exported(package):
    module = importlib.import_module(package)
    absent = sorted(set(CONTRACT[package]) - set(module.__all__))
    assert not absent, f"{package}.__all__ lacks {absent}"


def test_physnet_exports_are_the_solver_objects():
    from physnet.solvers.harmonic_balance import solve_hb
    from physnet.solvers.lockin import lockin
    from physnet.solvers.phasor import solve_ac
    from physnet.solvers.transient import solve_transient

    assert (pn.solve_ac, pn.solve_hb, pn.solve_transient, pn.lockin) == (solve_ac, solve_hb, solve_transient, lockin)


@pytest.mark.parametrize("qualname, obj", _unique_objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_export_has_a_docstring(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc.strip()) > 20, f"{qualname} has no real docstring"


def _functions() -> list[tuple[str, object]]:
    return [(q, o) for q, o in _unique_objects() if isinstance(o, types.FunctionType)]


@pytest.mark.parametrize("qualname, fn", _functions(), ids=lambda x: x if isinstance(x, str) else "")
def test_public_function_has_an_example(qualname, fn):
    tests = doctest.DocTestFinder(recurse=False).find(fn, qualname)
    assert sum(len(t.examples) for t in tests) > 0, f"{qualname}: numpydoc docstring without an Examples section"


@pytest.mark.parametrize("qualname, obj", _unique_objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_docstring_examples_run(qualname, obj):
    module = obj if isinstance(obj, types.ModuleType) else inspect.getmodule(obj)
    finder = doctest.DocTestFinder(recurse=isinstance(obj, (type, types.ModuleType)))
    tests = finder.find(obj, qualname, module=module, globs=dict(vars(module)))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{qualname}: {result.failed} of {result.attempted} doctest examples failed"


def test_import_physnet_is_lazy_but_every_name_and_subpackage_resolves():
    import subprocess
    import sys

    code = ("import sys, physnet as pn; before = 'scipy' in sys.modules; "
            "pn.solve_dc; pn.tasks.iris; pn.solvers.planner.CommonBase; pn.generators.square_lattice; "
            "print(before, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pn.nope  # noqa: B018
