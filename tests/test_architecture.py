"""The code's shape, checked: the package's imports run one way (no cycles), one cohort's training calls no
module above it, and no cache is keyed by an object's id()."""
import ast
import pathlib
import types

import numpy as np

from imbalance_jax import cohort
from imbalance_jax.data import preprocessing

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "imbalance_jax"
# What runs a study over its cohorts: one cohort's training must not reach up into any of them.
ABOVE_A_COHORT = {"stages", "study", "study_plan", "estimate", "cli", "report", "api", "union", "compare"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, modules: set) -> set:
    """The package's modules a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imbalance_jax"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return found & modules


def import_graph() -> dict:
    """{module: the package's modules it imports}."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def _cycle(graph: dict):
    """One import cycle as a list of modules, or None. A package's own __init__ importing its submodules (which
    import names from it) is how a registry package loads its members, not a cycle of the flow."""
    def edges(module):
        return {m for m in graph[module] if not (m.startswith(module + ".") or module.startswith(m + "."))}

    state = {}

    def visit(module, trail):
        state[module] = "open"
        for nxt in sorted(edges(module)):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt] if nxt in trail else [module, nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_the_package_imports_run_one_way():
    graph = import_graph()
    assert "imbalance_jax.cohort_training" in graph and "imbalance_jax.stages" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_check_finds_a_planted_cycle():
    graph = import_graph()
    graph["imbalance_jax.train"] = graph["imbalance_jax.train"] | {"imbalance_jax.cohort_training"}
    assert _cycle(graph) is not None


def test_one_cohorts_training_calls_nothing_above_it():
    graph = import_graph()
    reached, todo = set(), ["imbalance_jax.cohort_training"]
    while todo:  # every module it imports, directly or through others
        for nxt in graph[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    above = {m for m in reached if m.rsplit(".", 1)[-1] in ABOVE_A_COHORT}
    assert not above, f"cohort_training reaches up into {sorted(above)}"
    assert "imbalance_jax.cohort_training" in graph["imbalance_jax.stages"]  # the stage above calls it, not back


def test_no_cache_is_keyed_by_an_objects_id():
    calls = [f"{p.relative_to(PACKAGE.parent)}:{node.lineno}" for p in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "id"]
    assert not calls, f"id() keys an object that another part must keep alive: {calls}"


def test_the_kept_zca_fits_belong_to_their_split():
    """Cohorts of two train/test splits fit 'full' ZCA each on their own split's images, never the other's."""
    rng = np.random.default_rng(0)
    splits = [types.SimpleNamespace(x_train=rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8),
                                    y_train=np.arange(40) % 2) for _ in range(2)]
    hp = types.SimpleNamespace(preprocess="gcn_zca")
    kept = {}
    for split, data in enumerate(splits):
        networks = [types.SimpleNamespace(split=split, set_name=f"set_split{split}")]
        fitted = cohort.fit_preprocess(networks, data, hp, 0.1, "full", kept)
        expected = preprocessing.fit_zca(data.x_train, 0.1)
        for name in expected:
            np.testing.assert_allclose(np.asarray(fitted[name][0]), np.asarray(expected[name]), rtol=1e-5, atol=1e-6)
    assert len(kept) == 2  # both fits kept for the next cohorts of each split
