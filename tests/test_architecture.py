"""The house rules, checked: no import cycle, imports point down the layers, small modules, and no
platform named outside its own package.

Every `import` in `bot/` and `benchmarks/` counts, inside functions and under TYPE_CHECKING too:
a lazy import is still a dependency, only a hidden one. `from a import b` counts as an import of
`a.b` when that is a module, else of `a`.

`KNOWN` lists the violations the tree still has. It may only shrink: a new violation fails, and so
does a listed one that is gone (delete its line), so the list always tells the truth.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 450
PLATFORM_NAMES = ("twitter", "facebook", "instagram", "threads", "bluesky", "mastodon", "linkedin")

# Lowest first. A module may import its own layer or any layer below it, never one above.
# The first matching prefix decides (longest prefixes are tried first).
LAYERS: dict[str, int] = {
    # 0: the vocabulary every part shares; no I/O, no settings.
    "bot": 0,
    "bot.errors": 0,
    "bot.models": 0,
    "bot.settings_values": 0,
    "bot.netpolicy": 0,
    "bot.tls": 0,
    "bot.netfail": 0,
    "bot.logs": 0,
    "bot.progress": 0,
    "bot.offline": 0,
    "bot.healthcheck": 0,
    "bot.utm": 0,
    "bot.budget": 0,
    "bot.envfile": 0,
    "bot.post_time": 0,
    "bot.feed_rules": 0,
    "bot.twitter_text_parts": 0,
    "bot.weighted_length": 0,
    # 1: the parts, each knowing its own trade: fetch and parse, compose, publish, store, images.
    "bot.net": 1,
    "bot.feeds": 1,
    "bot.compose": 1,
    "bot.platforms": 1,
    "bot.store": 1,
    "bot.imaging": 1,
    "bot.websub.discover": 1,
    # 2: settings, read once at the edge; they gather the platforms' own sections.
    "bot.settings": 2,
    "bot.settings_reach": 2,
    "bot.settings_web": 2,
    "bot.feedsfile": 2,
    "bot.feedsfile_values": 2,
    # 3: what the bot does with the parts.
    "bot.pipeline": 3,
    "bot.intake": 3,
    "bot.poll_schedule": 3,
    "bot.publishers": 3,
    "bot.engine": 3,
    "bot.polling": 3,
    "bot.feed_book": 3,
    "bot.feed_slots": 3,
    "bot.delivery": 3,
    "bot.pacing": 3,
    "bot.manual": 3,
    "bot.manual_image": 3,
    "bot.manual_checks": 3,
    "bot.manual_send": 3,
    "bot.manual_announce": 3,
    "bot.preview": 3,
    "bot.health": 3,
    "bot.notify": 3,
    "bot.tokens": 3,
    "bot.status": 3,
    "bot.queue_control": 3,
    "bot.resolve": 3,
    "bot.spend_status": 3,
    "bot.platform_backlog": 3,
    "bot.checks": 3,
    "bot.tick_failures": 3,
    "bot.startline": 3,
    "bot.wakeup": 3,
    # 4: the running bot: the composition root, the scheduler, the web face.
    "bot.app": 4,
    "bot.scheduler": 4,
    "bot.feeds_reload": 4,
    "bot.web": 4,
    "bot.websub": 4,
    # 5: the command line.
    "bot.cli": 5,
    "bot.cli_common": 5,
    "bot.cli_store": 5,
    "bot.cli_check": 5,
    "benchmarks": 5,
}

# Within the parts (layer 1) each part stays in its lane.
PART_BANS: dict[str, tuple[str, ...]] = {
    "bot.compose": ("bot.feeds", "bot.platforms", "bot.store", "bot.net", "bot.imaging"),
    "bot.feeds": ("bot.compose", "bot.platforms", "bot.store", "bot.imaging"),
    "bot.store": ("bot.feeds", "bot.compose", "bot.platforms", "bot.imaging", "bot.net"),
    "bot.platforms": ("bot.store", "bot.feeds", "bot.compose"),
}

KNOWN: set[str] = set()  # every violation listed at first is gone; a new one fails


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("bot", "benchmarks"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that `name` imports, wherever the statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def ours(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(ours(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, base] if base else head)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else ours(base))
    targets.discard(None)
    targets.discard(name)
    return {t for t in targets if t is not None}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
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
                    found.append(sorted(component))
    return found


def _in(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(name: str) -> int:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if _in(name, prefix):
            return LAYERS[prefix]
    raise AssertionError(f"{name} has no layer: add it to LAYERS in tests/test_architecture.py")


def _part(name: str) -> str | None:
    return next((p for p in PART_BANS if _in(name, p)), None)


def _violations() -> set[str]:
    graph = _graph()
    found = {"cycle: " + " -> ".join(c) for c in _cycles(graph)}
    for name, targets in graph.items():
        for target in targets:
            if _layer(target) > _layer(name):
                found.add(f"up: {name} -> {target}")
            part = _part(name)
            if part and any(_in(target, banned) for banned in PART_BANS[part]):
                found.add(f"lane: {name} -> {target}")
    word = re.compile(r"\b(" + "|".join(PLATFORM_NAMES) + r")\b", re.IGNORECASE)
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_LINES:
            found.add(f"long: {rel}")
        neutral = (
            rel.startswith("bot/compose/")
            or re.fullmatch(r"bot/cli[^/]*\.py", rel)  # the command line, split by command
            or re.fullmatch(r"bot/settings[^/]*\.py", rel)
        )
        if neutral and word.search(text):
            found.add(f"name: {rel}")
    return found


def test_the_tree_keeps_the_house_rules() -> None:
    found = _violations()
    new = sorted(found - KNOWN)
    gone = sorted(KNOWN - found)
    assert not new, "new violations of the house rules:\n  " + "\n  ".join(new)
    assert not gone, "fixed, so delete from KNOWN in tests/test_architecture.py:\n  " + "\n  ".join(
        gone
    )


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.engine import Engine\n"
        "def f():\n    import bot.scheduler\n"
        "from bot.store import schema\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = {
        "bot.engine": path,
        "bot.scheduler": path,
        "bot.store": path,
        "bot.store.schema": path,
        "bot.probe": path,
    }
    assert _imports("bot.probe", path, modules) == {
        "bot.engine",
        "bot.scheduler",
        "bot.store.schema",
    }


def test_the_checker_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
