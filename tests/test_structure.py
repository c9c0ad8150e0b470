"""The code's shape, checked: no import cycles, layers kept apart, each library's private members in one module.

Every import counts, at module level or inside a function (and under
TYPE_CHECKING): a cycle through a late import is still a cycle.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trainables", "studies", "analysis")
ADAPTER = "studies/adapter.py"
REPORT_SPEC = "analysis/wandb_report/view_spec.py"
PRIVATE_OWNERS = {ADAPTER: ("ray", "optuna"), REPORT_SPEC: ("wandb_workspaces",)}
"""The one module allowed to use each library's private members, and those libraries (top-level names)."""


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere in it (``from a.b import c`` counts a.b.c if a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(path, known) - {name} for name, path in mods.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` if there is any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def package_of(module: str) -> str:
    return module.split(".")[0]


def test_no_module_imports_one_that_imports_it_back():
    assert cycle(graph()) is None


def test_packages_form_layers_with_one_join():
    """trainables below both; analysis never imports studies; of studies only launch (the entry) imports analysis."""
    edges = graph()
    between = {(package_of(a), package_of(b), a) for a, targets in edges.items() for b in targets
               if package_of(a) != package_of(b)}
    assert {(p, q) for p, q, _ in between} <= {("studies", "trainables"), ("analysis", "trainables"),
                                              ("studies", "analysis")}
    assert {a for p, q, a in between if (p, q) == ("studies", "analysis")} == {"studies.launch"}
    assert cycle({p: {q for x, q, _ in between if x == p} for p in PACKAGES}) is None


def test_the_cycle_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def private_names(classes: tuple[type, ...], modules: tuple = ()) -> set[str]:
    """Private names of ``classes`` (their own and their library's bases') and of ``modules``' namespaces."""
    names = set()
    for cls in classes:
        for klass in cls.__mro__:
            if klass.__module__.startswith(("ray", "optuna", "wandb_workspaces")):
                source = inspect.getsource(klass)
                names |= set(re.findall(r"self\.(_[a-z]\w*)", source))
                names |= {n for n in vars(klass) if n.startswith("_") and not n.startswith("__")}
    for module in modules:
        names |= {n for n in vars(module) if n.startswith("_") and not n.startswith("__")}
    return names


def private_members() -> set[str]:
    """Private names of the Ray and Optuna classes the project subclasses or handles."""
    import optuna
    from ray.tune import Callback, Tuner
    from ray.tune.experiment.trial import Trial
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import Searcher, SearchGenerator

    return private_names((Callback, Tuner, Trial, ASHAScheduler, SearchGenerator, Searcher, optuna.Study,
                          optuna.Trial, optuna.trial.FrozenTrial, optuna.storages.RDBStorage))


def private_report_members() -> set[str]:
    """Private names of wandb-workspaces' report classes and of the module that defines them."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces.reports.v2 import interface

    classes = tuple(v for v in vars(wr).values() if isinstance(v, type) and v.__module__ == interface.__name__)
    return private_names(classes, (interface,))


def private_uses(tree: ast.AST, private: set[str], libraries: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, what) for each use of a name in ``private`` (an attribute, or a string naming one to patch) and each
    import from a private part of ``libraries``."""
    mine = own_attributes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in private and node.attr not in mine:
            found.append((node.lineno, f".{node.attr}"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in private - mine:
            found.append((node.lineno, repr(node.value)))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(libraries):
            hidden = [p for p in node.module.split(".") if p.startswith("_")] + \
                [a.name for a in node.names if a.name.startswith("_")]
            if hidden:
                found.append((node.lineno, f"from {node.module} import ..."))
    return found


def own_attributes(tree: ast.AST) -> set[str]:
    """Private attributes the project's own classes in a file set on ``self``."""
    return {t.attr for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


def test_each_library_s_private_members_only_in_its_one_module():
    """Ray's and Optuna's in studies/adapter.py, wandb-workspaces' in analysis/wandb_report/view_spec.py."""
    private = {ADAPTER: private_members(), REPORT_SPEC: private_report_members()}
    offenders = []
    for path in modules().values():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        for owner, libraries in PRIVATE_OWNERS.items():
            if rel != owner:
                offenders += [f"{rel}:{line} {what} (only in {owner})"
                              for line, what in private_uses(tree, private[owner], libraries)]
    assert offenders == []


def test_the_private_member_check_sees_one():
    tree = ast.parse("def f(gen):\n    gen._counter = 3\n")
    assert any(isinstance(n, ast.Attribute) and n.attr in private_members() for n in ast.walk(tree))


def test_rays_state_file_names_only_in_the_adapter():
    """The names of the files Tune keeps its state in are Ray's to choose: only the adapter derives them."""
    from studies import adapter

    names = [pattern.split("*")[0] for pattern in adapter.restored_file_patterns()]  # tuner.pkl, experiment_state-...
    offenders = [f"{path.relative_to(ROOT).as_posix()}: {name}" for path in modules().values()
                 if path.relative_to(ROOT).as_posix() != ADAPTER for name in names if name in path.read_text()]
    assert len(names) == 5 and offenders == []


def test_the_private_member_check_sees_the_report_spec_s():
    tree = ast.parse("def f(report, interface):\n    report._to_model()\n    patch(interface, '_get_api')\n")
    assert [what for _, what in private_uses(tree, private_report_members(), ("wandb_workspaces",))] == \
        ["._to_model", "'_get_api'"]
