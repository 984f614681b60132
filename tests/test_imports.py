"""No import cycles anywhere in `prm/`.

The graph is built with `ast` from every module's source, imports inside functions included: a lazy
import that closes a cycle is still a cycle (it only moves the failure to the first call, and it
ties the two modules together as much as a top-level import does). Imports under
`if TYPE_CHECKING:` are left out: they never run, and they are how annotations name a type without
an import edge.

Edges: `import a.b.c` -> module `a.b.c`; `from pkg import name` -> `pkg.name` when that is a module,
else `pkg`; relative imports are resolved first. Importing `a.b.c` from outside package `a.b` also
runs `a/b/__init__.py` first, so it is an edge to `a.b` as well (`prm.loaders` importing
`prm.formats.processbench` depends on `prm.formats`); from inside `a.b` it is not (the package is
already being imported). Only edges between modules of the package count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_names(pkg_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under `pkg_dir` (a package's name is its __init__)."""
    out = {}
    for f in sorted(pkg_dir.rglob("*.py")):
        parts = list(f.relative_to(pkg_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes anywhere in `tree`, except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                continue
            stack.append(child)


def _known(name: str, modules) -> str | None:
    """`name` if it is a module, else its longest prefix that is one (None outside the package)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def edges_of(name: str, source: str, modules, is_package: bool) -> set[str]:
    out = set()
    for node in _imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [_known(a.name, modules) for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else _known(base, modules)
                       for a in node.names]
        for t in targets:
            if t is not None:
                out |= {t} | _entered_packages(name, t, modules)
    out.discard(name)
    return out


def _entered_packages(importer: str, target: str, modules) -> set[str]:
    """Packages whose __init__ runs when `importer` imports `target`: the target's enclosing packages,
    except those enclosing the importer too (already being imported when the importer runs)."""
    parts = target.split(".")
    ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
    own = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
    return {a for a in ancestors - own if a in modules}


def import_graph(pkg_dir: Path) -> dict[str, set[str]]:
    modules = module_names(pkg_dir)
    return {name: edges_of(name, path.read_text(encoding="utf-8"), modules, path.name == "__init__.py")
            for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module, each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def a_cycle(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """One concrete cycle inside a component, as a -> b -> ... -> a (for the failure message)."""
    inside = set(comp)
    start = comp[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & inside)
        back = [m for m in nxt if m in seen]
        if back:
            return path[path.index(back[0]):] + [back[0]]
        path.append(nxt[0])
        seen.add(nxt[0])


# ----------------------------------------------------------------------------- the checker itself
def write_pkg(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, src in files.items():
        f = tmp_path / "pkg" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(src)
    return tmp_path / "pkg"


@pytest.mark.parametrize("files, want", [
    ({"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "x = 1\n"}, []),
    # a lazy import closes the cycle
    ({"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "def f():\n    from pkg import a\n"},
     [["pkg.a", "pkg.b"]]),
    # `from pkg import name`: name is a variable of pkg, so the edge goes to pkg itself
    ({"__init__.py": "from pkg.a import X\n", "a.py": "from pkg import Y\nX = 1\n"}, [["pkg", "pkg.a"]]),
    # the package imports its submodule; the submodule imports a sibling: no cycle
    ({"__init__.py": "from pkg.a import X\n", "a.py": "from pkg.b import Z\nX = 1\n", "b.py": "Z = 1\n"}, []),
    # importing a submodule from outside its package runs the package's __init__ first
    ({"__init__.py": "", "f/__init__.py": "def g():\n    from pkg import loaders\n", "f/pb.py": "x = 1\n",
      "loaders.py": "def h():\n    from pkg.f.pb import x\n"}, [["pkg.f", "pkg.loaders"]]),
    # ... but from inside it, not: the package is already being imported
    ({"__init__.py": "", "f/__init__.py": "from pkg.f.a import y\n", "f/a.py": "from pkg.f.pb import x\ny = 1\n",
      "f/pb.py": "x = 1\n"}, []),
    # relative imports, three modules round
    ({"__init__.py": "", "s/__init__.py": "", "s/a.py": "from .b import x\n", "s/b.py": "from ..c import y\n",
      "c.py": "from pkg.s import a\n"}, [["pkg.c", "pkg.s.a", "pkg.s.b"]]),
    # under TYPE_CHECKING: never runs, not an edge
    ({"__init__.py": "", "a.py": "import pkg.b\n",
      "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import T\n"}, []),
])
def test_cycle_finder(tmp_path, files, want):
    assert strongly_connected(import_graph(write_pkg(tmp_path, files))) == want


# ----------------------------------------------------------------------------- the package
def test_no_import_cycles_in_prm():
    graph = import_graph(ROOT / "prm")
    assert len(graph) > 50 and graph["prm.sampler"] >= {"prm.sampler.base"}  # the walk found the package
    cycles = [" -> ".join(a_cycle(graph, comp)) + f"   (component: {', '.join(comp)})"
              for comp in strongly_connected(graph)]
    assert not cycles, "import cycles in prm/:\n" + "\n".join(cycles)
