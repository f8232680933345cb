"""The import direction of DESIGN.md, checked on the source itself.

api -> auth, core; core -> meta, cache, storage; storage -> nodes; nodes never
imports s3gw. auth and core stay free of aiohttp; core free of SQL drivers.
A wrong arrow fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

ALLOWED = {
    "api": {"api", "auth", "core", "common"},
    "auth": {"auth", "common"},
    "core": {"core", "meta", "cache", "storage", "common"},
    "meta": {"meta", "common"},
    "cache": {"cache", "meta", "common"},
    "storage": {"storage", "nodes", "common"},
    "nodes": {"nodes"},
    "common": {"common"},     # pure helpers (wire numbers) every s3gw layer may use
}
FORBIDDEN_THIRD_PARTY = {
    "common": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "auth": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "core": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "meta": {"aiohttp"},
    "nodes": {"s3gw"},
}


def layer_of(path: pathlib.Path) -> str | None:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "nodes":
        return "nodes"
    if rel[0] == "s3gw" and len(rel) > 2:
        return rel[1]
    return None  # top-level s3gw modules are the composition root


def imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """Absolute module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


def target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "nodes":
        return "nodes"
    if parts[0] == "s3gw":
        return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "s3gw-root"
    return None


SOURCES = sorted(p for d in ("s3gw", "nodes") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_import_direction(path: pathlib.Path) -> None:
    layer = layer_of(path)
    if layer is None:
        return
    for lineno, module in imports(path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN_THIRD_PARTY.get(layer, set()), f"{path}:{lineno}: {layer} must not import {module}"
        target = target_layer(module)
        if target is None:
            continue
        assert target in ALLOWED[layer], f"{path}:{lineno}: {layer} -> {target} ({module}) breaks the layer order"


def test_the_checker_sees_a_wrong_arrow(tmp_path: pathlib.Path) -> None:
    """The walk resolves relative imports, so `from ..api import x` inside core is caught."""
    fake = ROOT / "s3gw" / "core" / "_probe_layers.py"
    fake.write_text("from ..api import handlers\n")
    try:
        found = [target_layer(m) for _, m in imports(fake)]
    finally:
        fake.unlink()
    assert found == ["api"] and "api" not in ALLOWED["core"]
