"""The package's import graph, read from the source (module- and function-level imports alike):
no cycle anywhere in bot/, conversations/, storage/ and exports/, and the layering that
docs/architecture.md states, one small test per rule, each naming the offending import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "conversations", "storage", "exports")
IO_LIBRARIES = ("aiogram", "aiohttp", "httpx", "sqlmodel", "sqlalchemy", "openpyxl")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def imported_names(path: Path, name: str) -> set[str]:
    """Every module an import anywhere in the file names (in functions and TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {
        name: {target for target in imported_names(path, name) if target in modules} - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_is_read_from_the_whole_package() -> None:
    graph = import_graph()
    assert {"bot.app", "bot.service", "storage.hot_path", "conversations.engine"} <= set(graph)
    assert "storage.database" in graph["bot.app"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_channels_import_nothing_from_storage() -> None:
    for name, path in all_modules().items():
        if name.startswith("bot.channels."):
            reached = {t for t in imported_names(path, name) if t.split(".")[0] == "storage"}
            assert not reached, f"{name} imports {sorted(reached)}"


def test_no_channel_knows_another_channel() -> None:
    channel_modules = {n for n in all_modules() if n.startswith("bot.channels.")}
    for name in channel_modules:
        own = name.rsplit(".", 1)[1].partition("_")[0]
        others = {
            target
            for target in imported_names(all_modules()[name], name)
            if target in channel_modules and target.rsplit(".", 1)[1].partition("_")[0] != own
        }
        assert others <= {"bot.channels.base"}, f"{name} imports {sorted(others)}"


def test_conversations_do_no_io() -> None:
    for name, path in all_modules().items():
        if name.startswith("conversations."):
            roots = {target.split(".")[0] for target in imported_names(path, name)}
            used = sorted(roots & set(IO_LIBRARIES))
            assert not used, f"{name} imports {used}"


def test_exports_read_no_database() -> None:
    """Documents are built from one snapshot (`bot.documents.snapshot`): the builders in
    exports/ only see plain data and never reach storage or a database library."""
    for name, path in all_modules().items():
        if name.startswith("exports."):
            roots = {target.split(".")[0] for target in imported_names(path, name)}
            used = sorted(roots & {"storage", "bot", "sqlmodel", "sqlalchemy"})
            assert not used, f"{name} imports {used}"


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def our_imports(prefix: str) -> list[tuple[str, str]]:
    """(module, target) for every import of our own code made by a module under `prefix`."""
    return [
        (name, target)
        for name, path in sorted(all_modules().items())
        if within(name, (prefix,))
        for target in sorted(imported_names(path, name))
        if target.split(".")[0] in PACKAGES
    ]


def offending(prefix: str, allowed: tuple[str, ...]) -> list[str]:
    """Imports of our own code, from modules under `prefix`, that reach none of `allowed`
    (modules or packages), as "module -> target"."""
    return [f"{n} -> {t}" for n, t in our_imports(prefix) if not within(t, allowed)]


def test_the_rule_checker_names_the_offending_import() -> None:
    found = offending("bot.documents", ("bot.documents",))
    assert "bot.documents.workbooks -> exports.excel" in found
    assert "bot.documents.workbooks -> bot.documents.snapshot" not in found


def test_conversations_import_nothing_of_ours_but_themselves() -> None:
    found = offending("conversations", ("conversations",))
    assert not found, "conversations/ is pure: " + ", ".join(found)


def test_storage_imports_only_conversations() -> None:
    found = offending("storage", ("storage", "conversations"))
    assert not found, "storage/ may import only conversations/: " + ", ".join(found)


def test_exports_import_only_conversations() -> None:
    found = offending("exports", ("exports", "conversations"))
    assert not found, "exports/ may import only conversations/: " + ", ".join(found)


CHANNELS_MAY_IMPORT = (
    "bot.channels",
    "bot.messaging",
    "bot.settings",
    "bot.clock",
    "bot.webhook_body",
    "conversations",
)


def test_channels_import_only_the_message_types_and_pure_code() -> None:
    """A channel is a courier: besides its siblings it sees the message types, its settings, the
    clock, the webhook body reader and pure conversations/ constants, never the service, the
    dispatcher, storage, the web page, documents or the command line."""
    found = offending("bot.channels", CHANNELS_MAY_IMPORT)
    assert not found, "a channel may import only the messaging layer: " + ", ".join(found)


def test_documents_do_not_import_the_surfaces() -> None:
    """bot/documents/ builds files; the command line, the web page, the chat and the channels call
    it, never the other way round."""
    surfaces = ("bot.cli", "bot.web", "bot.channels", "bot.reminders", "bot.service", "bot.app")
    found = [f"{n} -> {t}" for n, t in our_imports("bot.documents") if within(t, surfaces)]
    assert not found, "bot/documents/ builds files only: " + ", ".join(found)


def test_nothing_outside_the_command_line_imports_it() -> None:
    found = [
        f"{n} -> {t}"
        for n, t in our_imports("bot")
        if within(t, ("bot.cli",)) and not within(n, ("bot.cli",))
    ]
    assert not found, "only bot/cli/ imports bot/cli/: " + ", ".join(found)


def test_only_the_composition_root_imports_the_web_server() -> None:
    found = [
        f"{n} -> {t}"
        for n, t in our_imports("bot")
        if within(t, ("bot.web",)) and not within(n, ("bot.web", "bot.app"))
    ]
    assert not found, "only bot/app.py wires the web page in: " + ", ".join(found)
