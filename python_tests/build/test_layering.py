"""The package reads as floors: every module imports only its own floor or those below it, no
module imports itself back through others, and no module takes another module's private names.

The floors, bottom to top (README "Layout"): the extension loader and argument helpers; nets,
data, runs; ops and reference; exact, stats, measure; plots; analysis and train; experiments;
commands. Imports inside functions count too: a cycle hidden in a function is still a cycle.
"""
import ast
import os
import sys

import pytest
from paths import REPO_ROOT

PACKAGE = "specbias_ext"
ROOT = os.path.join(REPO_ROOT, PACKAGE)

FLOORS = {
    "_validate": 0, "_loader": 0, "_built_with": 0, "_C": 0,
    "nets": 1, "data": 1, "runs": 1,
    "ops": 2, "reference": 2,
    "exact": 3, "stats": 3, "measure": 3,
    "plots": 4,
    "analysis": 5, "train": 5,
    "experiments": 6,
    "commands": 7, "__main__": 7,
    "_version": 0,
    "testing": 8,
}


def _modules():
    """{dotted module name: path} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                found[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return found


def _imports(module: str, path: str, modules: dict):
    """(imported module, imported names, line) of every import in the module, resolved."""
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            names = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    yield sub, [], node.lineno
                else:
                    names.append(alias.name)
            if names:
                yield target, names, node.lineno


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph():
    modules = _modules()
    edges = {m: set() for m in modules}
    details = []
    for module, path in modules.items():
        for target, names, line in _imports(module, path, modules):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules:
                edges[module].add(target)
                details.append((module, target, names, line))
    return modules, edges, details


def test_every_component_has_a_floor():
    modules, _, _ = _graph()
    unplaced = sorted({_component(m) for m in modules} - set(FLOORS) - {"__init__"})
    assert not unplaced, f"components without a floor (add them to FLOORS and the README): {unplaced}"


def test_no_import_climbs_a_floor():
    _, _, details = _graph()
    climbing = []
    for module, target, _, line in details:
        if _component(module) == "__init__" or _component(target) == "__init__":
            continue  # the package's front door re-exports; nothing imports it back
        if FLOORS[_component(target)] > FLOORS[_component(module)]:
            climbing.append(f"{module}:{line} imports {target}")
    assert not climbing, "imports that climb a floor:\n" + "\n".join(climbing)


def test_nothing_imports_the_package_front_door():
    _, _, details = _graph()
    inward = [f"{m}:{line}" for m, t, _, line in details if t == PACKAGE and m != PACKAGE
              and not (m.endswith("__main__"))]
    assert not inward, "modules importing specbias_ext itself (import the module that defines " \
                       "the name instead): " + ", ".join(inward)


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycles():
    _, edges, _ = _graph()
    # A package's __init__ importing its own modules is how packages work, not a cycle.
    trimmed = {m: {t for t in ts if not (m.startswith(t + ".") or t.startswith(m + ".")
                                         and m.count(".") < t.count("."))}
               for m, ts in edges.items()}
    assert _cycles(trimmed) == []


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_taken_from_other_modules():
    _, _, details = _graph()
    reach_ins = [f"{m}:{line} takes {', '.join(n for n in names if _private(n))} from {t}"
                 for m, t, names, line in details
                 if any(_private(n) for n in names) and t != m]
    assert not reach_ins, "private names used outside their module:\n" + "\n".join(reach_ins)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
