"""The package's arrows run one way: built from the source, the import graph has no cycle and no Workflow below it."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "ticketflow"

#: Layers, lowest first: a package may import its own layer (without a cycle) and the ones below.
LAYERS = [
    {"ticketflow.errors", "ticketflow.model", "ticketflow._brief", "ticketflow._values"},
    {
        "ticketflow.calendar",
        "ticketflow.clock",
        "ticketflow.protocols",
        "ticketflow._selectors",
        "ticketflow._ordering",
    },
    {"ticketflow.lifecycle"},
    {
        "ticketflow.recording",
        "ticketflow._recent",
        "ticketflow.repository",
        "ticketflow.repository.postgres",
        "ticketflow.similar",
        "ticketflow._view",
        "ticketflow._customer",
        "ticketflow._queries",
        "ticketflow.sla",
        "ticketflow.intake",
        "ticketflow.registry",
    },
    {"ticketflow.automation", "ticketflow.links", "ticketflow.versions"},
    #: the parts of the facade, one concern each: below workflow.py, so they may not import Workflow
    {"ticketflow._facade"},
    {"ticketflow.workflow"},
    #: above the Workflow: its clients (the demo simulation, the test kit, the mail desk, the command line)
    {"ticketflow._simulation", "ticketflow.testing", "ticketflow.mail", "ticketflow.cli", "ticketflow.__main__"},
]
#: May import or receive ``Workflow``: the facade itself and its clients.
WORKFLOW_CLIENTS = {"ticketflow", "ticketflow.workflow", *LAYERS[-1]}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """The module's package: a private module (``_x``) belongs to the package it sits in."""
    kept: list[str] = []
    for part in module.split("."):
        if part.startswith("_") and len(kept) > 1:
            break
        kept.append(part)
    return ".".join(kept)


def _imports(path: Path, *, runtime: bool) -> set[str]:
    """The ticketflow modules *path* imports (at runtime only: not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if runtime and id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ticketflow"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ticketflow"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        source = _package(module)
        for target in _imports(path, runtime=True):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]  # `from ticketflow.x import name`: the module is ticketflow.x
            if _package(target) not in (source, "ticketflow"):
                graph.setdefault(source, set()).add(_package(target))
    return graph


def _layer(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"{package} is in no layer of tests/test_imports.py: place it")


def test_every_import_points_down_or_across_the_layers():
    upward = [
        f"{source} -> {target}"
        for source, targets in _graph().items()
        if source != "ticketflow"
        for target in targets
        if _layer(target) > _layer(source)
    ]
    assert upward == []


def test_the_package_import_graph_has_no_cycle():
    graph = _graph()
    graph.pop("ticketflow", None)  # the curated __init__ imports everything, by design
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the ticketflow modules it imports at runtime (top level or inside functions; not for typing).

    ``from a.b import c`` points at ``a.b.c`` when that is a module, else at
    ``a.b`` (its ``__init__``); importing a submodule is not counted as
    importing its package's ``__init__`` (Python runs that first, but it is
    what ties a package together, not a cycle between its modules).
    """
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        for target in _imports(path, runtime=True):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != module:
                graph.setdefault(module, set()).add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_package_takes_part_in_an_import_cycle():
    """Module by module, lazy (function-level) imports included: the arrows never lead back."""
    assert _cycles(_module_graph()) == []


def test_the_cycle_finder_finds_a_cycle_of_lazy_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_nothing_below_the_workflow_imports_it():
    offenders = sorted(
        _module(path)
        for path in PACKAGE.rglob("*.py")
        if _package(_module(path)) not in WORKFLOW_CLIENTS
        and any(
            name in ("ticketflow.workflow", "ticketflow.workflow.Workflow") for name in _imports(path, runtime=False)
        )
    )
    assert offenders == []


def test_the_registry_and_the_recorder_import_no_package_above_them():
    graph = _graph()
    assert "ticketflow.intake" not in graph["ticketflow.registry"]
    assert graph["ticketflow.recording"] <= {"ticketflow.errors", "ticketflow.model", "ticketflow.protocols"}


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running *code*."""
    import subprocess
    import sys

    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_import_ticketflow_loads_no_submodule_and_no_heavy_dependency():
    loaded = _loaded_after("import ticketflow")
    heavy = {"asyncio", "ssl", "socket", "sqlite3", "sqlalchemy", "transitions", "attrs", "holidays", "icalendar"}
    assert loaded & heavy == set()
    assert sorted(m for m in loaded if m.startswith("ticketflow.")) == []


def test_a_workflow_on_memory_opens_and_fires_without_asyncio_ssl_or_sqlalchemy():
    loaded = _loaded_after(
        "import ticketflow as tf\n"
        "from datetime import UTC, datetime\n"
        "lc = tf.load_lifecycle({'id': 'x', 'initial': 'a', 'states': {'a': {}, 'b': {'terminal': True}},"
        " 'transitions': [{'trigger': 'go', 'source': 'a', 'dest': 'b'}]})\n"
        "wf = tf.Workflow(lc)\n"
        "agent = tf.Actor('a1', roles={'agent'})\n"
        "t = wf.open(agent, title='t', at=datetime(2026, 1, 5, tzinfo=UTC))\n"
        "assert wf.fire(t.id, 'go', agent, at=datetime(2026, 1, 5, 1, tzinfo=UTC)).state == 'b'\n"
    )
    assert {"ticketflow.workflow", "transitions"} <= loaded
    assert loaded & {"asyncio", "ssl", "sqlalchemy", "ticketflow.mail", "icalendar"} == set()


def test_every_public_name_resolves_lazily_and_is_listed():
    import ticketflow

    for name in ticketflow.__all__:
        value = getattr(ticketflow, name)
        assert value is not None
        assert name in dir(ticketflow)
    assert ticketflow.Workflow.__module__ == "ticketflow.workflow"
    with pytest.raises(AttributeError, match="no attribute 'Wrkflow'"):
        ticketflow.Wrkflow  # noqa: B018


def test_builtin_stays_the_function_after_the_built_ins_are_read():
    """``tf.builtin`` and ``ticketflow.lifecycle.builtin`` are the function, also once the TOML files were read.

    The files' folder is read without importing it, and it is no package
    (no ``__init__.py``) that walking the modules would import: imported,
    it would set ``ticketflow.lifecycle.builtin`` to the package.
    """
    loaded = _loaded_after(
        "import ticketflow as tf\n"
        "assert 'zendesk' in tf.builtins() and tf.builtin('zendesk').id == 'zendesk'\n"
        "import importlib, pkgutil\n"
        "for found in pkgutil.walk_packages(tf.__path__, 'ticketflow.'):  # as doc and coverage tools walk it\n"
        "    if found.name.startswith('ticketflow.lifecycle'):\n"
        "        importlib.import_module(found.name)\n"
        "from ticketflow.lifecycle import builtin\n"
        "assert callable(tf.builtin) and callable(builtin) and builtin('devrev').id == 'devrev'\n"
    )
    assert "ticketflow.lifecycle.builtin" not in loaded


def test_workflow_py_is_wiring_and_stays_under_400_lines():
    lines = (PACKAGE / "workflow.py").read_text(encoding="utf-8").count("\n")
    assert lines < 400, f"workflow.py has {lines} lines: move a concern into a part of ticketflow._facade"


def test_every_public_member_of_the_facade_parts_is_on_workflow_with_a_docstring():
    import inspect

    import ticketflow as tf
    from ticketflow import _facade

    parts = [getattr(_facade, name) for name in _facade.__all__ if name != "FacadeBase"]
    assert len(parts) >= 4
    for part in parts:
        assert issubclass(tf.Workflow, part)
        public = [name for name in vars(part) if not name.startswith("_")]
        assert public, f"{part.__name__} has no public member"
        for name in public:
            member = inspect.getattr_static(tf.Workflow, name)
            assert member is vars(part)[name], f"Workflow.{name} is not {part.__name__}'s"
            assert inspect.getdoc(getattr(tf.Workflow, name)), f"Workflow.{name} has no docstring"


def test_the_facade_parts_read_only_what_facade_base_declares():
    """A part's ``self.x`` is declared on FacadeBase (so ``mypy --strict`` checks it) or defined by a part."""
    from ticketflow import _facade

    declared = set(_facade.FacadeBase.__annotations__) | set(vars(_facade.FacadeBase)) | {"get"}
    for part in (getattr(_facade, name) for name in _facade.__all__):
        declared |= set(vars(part))
    for path in (PACKAGE / "_facade").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
        }
        assert used <= declared, f"{path.name} reads undeclared {sorted(used - declared)}"


def test_fire_stays_on_workflow_itself():
    """The hot path gets no extra layer: ``fire`` and the core are Workflow's own, not inherited."""
    import ticketflow as tf

    core = {"__init__", "open", "fire", "comment", "update", "move_to", "get", "history", "allowed"}
    assert core <= set(vars(tf.Workflow))


def test_the_api_reference_lists_every_member_workflow_takes_from_its_parts():
    """mkdocs.yml's ``inherited_members`` names exactly the parts' public members, so the site shows each."""
    import re

    from ticketflow import _facade

    config = (SRC.parent / "mkdocs.yml").read_text(encoding="utf-8")
    found = re.search(r"inherited_members: \[([^\]]*)\]", config)
    assert found is not None, "mkdocs.yml lists no inherited_members"
    listed = {name.strip() for name in found.group(1).split(",") if name.strip()}
    public = {
        name
        for part in (getattr(_facade, n) for n in _facade.__all__)
        for name in vars(part)
        if not name.startswith("_")
    }
    assert listed == public
