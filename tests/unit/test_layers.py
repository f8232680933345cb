"""The shape of DESIGN.md, checked on the source itself (parsed, never imported).

Four rules, each a function over a source tree, so that the tests at the end
can plant a violation in a small fake package under ``tmp_path`` and see the
rule report it:

1. **Import direction** (``wrong_arrows``): api -> auth, core; core -> meta,
   cache, storage; storage -> nodes; nodes never imports s3gw; auth and core
   stay free of aiohttp, core free of SQL drivers.
2. **No import cycles** (``import_cycles``): the graph of every import between
   first-party modules, wherever it is written (module level, inside a
   function, under ``if TYPE_CHECKING``), has no cycle. A cycle hidden in a
   function body or a typing-only import is still a cycle.
3. **No function-level imports** (``function_level_imports``): an import inside
   a function or class body is how a cycle or a layer rule gets dodged, so a
   first-party or third-party import there fails, unless ``LAZY_IMPORTS``
   names it with its reason (optional heavy dependencies). Standard-library
   modules are exempt (they can neither form a cycle nor cross a layer), and
   so are imports at module level under ``if``/``try`` (the optional-dependency
   idiom). ``importlib.import_module``/``__import__`` are refused outright.
4. **The API talks to the core only** (``reach_throughs``): the core's
   services (Core, Repair, Operations, Iam, ...) hold the metadata store and
   the storage in attributes; the names of those attributes are read from the
   core's source (``handle_names``: ``self.X = param`` where the parameter's
   annotation is a type imported from meta, cache or storage, and class-level
   ``X: T`` fields of such a type). In s3gw/api no attribute access may use
   one of those names (``core.meta.ping()``, ``app[CORE].storage.cluster``,
   ``getattr(core, "meta")``): the API asks the core, which has a method for it.

Nothing here writes into the source tree (``test_the_checks_write_nothing``).
"""

from __future__ import annotations

import ast
import pathlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("s3gw", "nodes")

ALLOWED = {
    "api": {"api", "auth", "core", "common"},
    "auth": {"auth", "common"},
    "core": {"core", "meta", "cache", "storage", "kms", "common"},
    "kms": {"kms", "common"},  # key management for SSE (s3gw/kms): below the core
    "meta": {"meta", "common"},
    "cache": {"cache", "meta", "common"},
    "storage": {"storage", "nodes", "common"},
    "nodes": {"nodes"},
    "notify": {"notify", "common"},  # bucket-notification targets (HTTP, Redis, PostgreSQL clients)
    "common": {"common"},  # pure helpers (wire numbers) every s3gw layer may use
}
FORBIDDEN_THIRD_PARTY = {
    "common": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "auth": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "core": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "kms": {"aiohttp", "sqlite3", "asyncpg", "redis"},
    "meta": {"aiohttp"},
    "nodes": {"s3gw"},
}
#: the layers below the core, whose objects the API must not reach through the core
BELOW_CORE = ("meta", "cache", "storage")

#: (file, imported module) -> why it is imported inside a function. Keep it short:
#: only optional or heavy native dependencies a deployment may not load.
LAZY_IMPORTS = {
    ("s3gw/server.py", "s3gw.meta.postgres"): "asyncpg is optional (pip install 's3gw[postgres]'): "
    "loaded only when database.driver is postgres",
    ("s3gw/server.py", "s3gw.cache.rediscache"): "redis-py is optional (pip install 's3gw[redis]'): "
    "loaded only when cache.redis.endpoints are set",
    ("s3gw/cache/__init__.py", "s3gw.cache.rediscache"): "redis-py is optional: PEP 562 lazy attribute RedisCache",
    ("s3gw/admin_cli.py", "s3gw.meta.postgres"): "asyncpg is optional: only `s3gw admin restore --database-url`",
    ("s3gw/storage/erasure.py", "pyeclib.ec_iface"): "pyeclib loads liberasurecode/ISA-L (native): only codecs "
    "with parity need it, not m=0 striping or the doctests",
}


# --------------------------------------------------------------------------- reading a tree


@dataclass(frozen=True)
class Import:
    path: pathlib.Path
    lineno: int
    module: str  # absolute, relative imports resolved
    names: tuple[str, ...]  # from-import names ("" for `import x`)
    nested: bool  # inside a function or class body


def sources(root: pathlib.Path, packages: tuple[str, ...] = PACKAGES) -> list[pathlib.Path]:
    return sorted(p for d in packages if (root / d).is_dir() for p in (root / d).rglob("*.py"))


def parse(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: pathlib.Path, root: pathlib.Path = ROOT) -> list[Import]:
    """Every import of a file, wherever it is written, relative imports resolved."""
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    out: list[Import] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                out.extend(Import(path, child.lineno, a.name, ("",), nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - child.level + 1]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                out.append(Import(path, child.lineno, mod, tuple(a.name for a in child.names), nested))
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            visit(child, inner)

    visit(parse(path), False)
    return out


# --------------------------------------------------------------------------- rule 1: import direction


def layer_of(path: pathlib.Path, root: pathlib.Path = ROOT) -> str | None:
    rel = path.relative_to(root).parts
    if rel[0] == "nodes":
        return "nodes"
    if rel[0] == "s3gw" and len(rel) > 2:
        return rel[1]
    return None  # top-level s3gw modules are the composition root


def target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "nodes":
        return "nodes"
    if parts[0] == "s3gw":
        return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "s3gw-root"
    return None


def wrong_arrows(root: pathlib.Path = ROOT, paths: list[pathlib.Path] | None = None) -> list[str]:
    found = []
    for path in sources(root) if paths is None else paths:
        layer = layer_of(path, root)
        if layer is None:
            continue
        for imp in imports(path, root):
            top = imp.module.split(".")[0]
            if top in FORBIDDEN_THIRD_PARTY.get(layer, set()):
                found.append(f"{path}:{imp.lineno}: {layer} must not import {imp.module}")
            target = target_layer(imp.module)
            if target is not None and target not in ALLOWED[layer]:
                found.append(f"{path}:{imp.lineno}: {layer} -> {target} ({imp.module}) breaks the layer order")
    return found


# --------------------------------------------------------------------------- rule 2: cycles


def import_graph(root: pathlib.Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """module -> first-party modules it imports. ``from pkg import name`` is an
    edge to ``pkg.name`` when that is a module, else to ``pkg``. A package's
    ``__init__`` is not implied by importing one of its submodules (Python runs
    it first, so it cannot close a cycle through the submodule)."""
    files = sources(root, packages)
    known = {module_name(root, p) for p in files}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for path in files:
        me = module_name(root, path)
        for imp in imports(path, root):
            for name in imp.names:
                target = f"{imp.module}.{name}" if name and f"{imp.module}.{name}" in known else imp.module
                while target and target not in known:  # `import a.b.c` of a package attribute
                    target = target.rpartition(".")[0]
                if target and target != me:
                    graph[me].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        # iterative: a deep import chain must not hit the recursion limit
        work: list[tuple[str, Iterator[str]]] = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(out)


# --------------------------------------------------------------------------- rule 3: function-level imports


def first_party(module: str, packages: tuple[str, ...] = PACKAGES) -> bool:
    return module.split(".")[0] in packages


def function_level_imports(
    root: pathlib.Path = ROOT, packages: tuple[str, ...] = PACKAGES, allowed: dict[tuple[str, str], str] | None = None
) -> list[str]:
    allowed = LAZY_IMPORTS if allowed is None else allowed
    found = []
    for path in sources(root, packages):
        rel = path.relative_to(root).as_posix()
        for imp in imports(path, root):
            if not imp.nested or (rel, imp.module) in allowed:
                continue
            top = imp.module.split(".")[0]
            if top in sys.stdlib_module_names and not first_party(imp.module, packages):
                continue
            found.append(
                f"{rel}:{imp.lineno}: `{imp.module}` imported inside a function or class "
                "(a dodged cycle or layer rule?): import it at module level, or list it in LAZY_IMPORTS"
            )
        for node in sorted(ast.walk(parse(path)), key=lambda n: getattr(n, "lineno", 0)):
            if isinstance(node, ast.Call) and _called_name(node) in ("import_module", "__import__"):
                found.append(f"{rel}:{node.lineno}: dynamic import: import the module by name at module level")
    return found


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


# --------------------------------------------------------------------------- rule 4: reach-through


def _annotation_names(ann: ast.expr | None) -> set[str]:
    if ann is None:
        return set()
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # "MetaStore" (a forward reference)
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            return set()
    return {n.id for n in ast.walk(ann) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(ann) if isinstance(n, ast.Attribute)
    }


def handle_names(root: pathlib.Path = ROOT) -> dict[str, str]:
    """Attribute name -> where the core keeps a lower-layer object under it
    (``self.meta = meta`` with ``meta: MetaStore``), read from s3gw/core."""
    below = {f"s3gw.{layer}" for layer in BELOW_CORE}
    # the lower-layer types the core hands to the API itself (its __init__ re-exports records such
    # as VersionRecord): data, not handles
    init = root / "s3gw" / "core" / "__init__.py"
    vocabulary = {
        n
        for imp in (imports(init, root) if init.exists() else [])
        if any(imp.module == b or imp.module.startswith(b + ".") for b in below)
        for n in imp.names
    }
    found: dict[str, str] = {}
    for path in sources(root, ("s3gw",)):
        if layer_of(path, root) != "core":
            continue
        lower_types: set[str] = set()
        for imp in imports(path, root):
            if any(imp.module == b or imp.module.startswith(b + ".") for b in below):
                lower_types.update(n for n in imp.names if n and n not in vocabulary)
        tree = parse(path)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            where = f"{path.relative_to(root).as_posix()}:{cls.name}"
            for item in cls.body:  # dataclass-style fields: `meta: MetaStore`
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and _annotation_names(item.annotation) & lower_types
                ):
                    found.setdefault(item.target.id, where)
            for fn in (n for n in ast.walk(cls) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
                args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
                lower_params = {a.arg for a in args if _annotation_names(a.annotation) & lower_types}
                for node in ast.walk(fn):
                    targets: list[ast.expr] = []
                    value: ast.expr | None = None
                    if isinstance(node, ast.Assign):
                        targets, value = node.targets, node.value
                    elif isinstance(node, ast.AnnAssign):
                        targets, value = [node.target], node.value
                        if _annotation_names(node.annotation) & lower_types and _is_self_attr(node.target):
                            found.setdefault(node.target.attr, where)  # type: ignore[union-attr]
                    if isinstance(value, ast.Name) and value.id in lower_params:
                        for t in targets:
                            if _is_self_attr(t):
                                found.setdefault(t.attr, where)  # type: ignore[union-attr]
    return found


def _is_self_attr(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def reach_throughs(root: pathlib.Path = ROOT, handles: dict[str, str] | None = None) -> list[str]:
    handles = handle_names(root) if handles is None else handles
    found = []
    for path in sources(root, ("s3gw",)):
        if layer_of(path, root) != "api":
            continue
        rel = path.relative_to(root).as_posix()
        for node in sorted(ast.walk(parse(path)), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
            name = None
            if isinstance(node, ast.Attribute) and node.attr in handles:
                name = node.attr
            elif (
                isinstance(node, ast.Call)
                and _called_name(node) in ("getattr", "setattr", "hasattr", "delattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in handles
            ):
                name = node.args[1].value
            if name is not None:
                found.append(
                    f"{rel}:{node.lineno}: `.{name}` reaches through the core into a lower layer "
                    f"({handles[name]} keeps it): give the core a method"
                )
    return found


# --------------------------------------------------------------------------- the rules, on s3gw


SOURCES = sources(ROOT)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_import_direction(path: pathlib.Path) -> None:
    found = wrong_arrows(ROOT, [path])
    assert not found, "\n".join(found)


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_graph(ROOT))
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_function_level_imports() -> None:
    found = function_level_imports(ROOT)
    assert not found, "\n".join(found)


def test_lazy_imports_are_still_there() -> None:
    """Every LAZY_IMPORTS entry names an import that exists (no stale allowances)."""
    nested = {(i.path.relative_to(ROOT).as_posix(), i.module) for p in SOURCES for i in imports(p) if i.nested}
    assert set(LAZY_IMPORTS) <= nested


def test_the_api_does_not_reach_through_the_core() -> None:
    found = reach_throughs(ROOT)
    assert not found, "\n".join(found)


def test_the_core_handles_are_found() -> None:
    """The rule knows what to look for: the core's services keep the store and the storage."""
    handles = handle_names(ROOT)
    assert {"meta", "storage"} <= set(handles)


def test_the_checks_write_nothing_into_the_tree() -> None:
    before = {p for d in PACKAGES for p in (ROOT / d).rglob("*")}
    wrong_arrows(ROOT)
    import_cycles(import_graph(ROOT))
    function_level_imports(ROOT)
    reach_throughs(ROOT)
    assert {p for d in PACKAGES for p in (ROOT / d).rglob("*")} == before


# --------------------------------------------------------------------------- each rule sees a planted violation


def plant(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """A small fake s3gw under ``root`` (tmp_path): ``files`` maps paths to source."""
    base = {
        "s3gw/__init__.py": "",
        "s3gw/api/__init__.py": "",
        "s3gw/core/__init__.py": "",
        "s3gw/meta/__init__.py": "",
        "s3gw/meta/base.py": "class MetaStore:\n    async def ping(self) -> None: ...\n",
        "s3gw/storage/__init__.py": "class Storage:\n    cluster = None\n",
        "s3gw/core/service.py": (
            "from ..meta.base import MetaStore\nfrom ..storage import Storage\n\n"
            "class Core:\n    def __init__(self, meta: MetaStore, storage: 'Storage') -> None:\n"
            "        self.meta = meta\n        self.store = storage\n\n"
            "    async def ping(self) -> None:\n        await self.meta.ping()\n"
        ),
        "s3gw/api/handlers.py": "from ..core.service import Core\n\n"
        "async def health(core: Core) -> None:\n    await core.ping()\n",
    }
    for rel, text in {**base, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_the_clean_fake_tree_passes(tmp_path: pathlib.Path) -> None:
    root = plant(tmp_path, {})
    assert wrong_arrows(root) == []
    assert import_cycles(import_graph(root)) == []
    assert function_level_imports(root) == []
    assert reach_throughs(root) == []
    assert set(handle_names(root)) == {"meta", "store"}  # named after the attribute, not the type


def test_a_wrong_arrow_is_found(tmp_path: pathlib.Path) -> None:
    """Relative imports are resolved, so `from ..api import x` inside core is caught."""
    root = plant(tmp_path, {"s3gw/core/bad.py": "from ..api import handlers\n"})
    assert wrong_arrows(root) == [f"{root}/s3gw/core/bad.py:1: core -> api (s3gw.api) breaks the layer order"]


def test_a_cycle_is_found(tmp_path: pathlib.Path) -> None:
    root = plant(tmp_path, {"s3gw/core/a.py": "from . import b\n", "s3gw/core/b.py": "from .a import thing\n"})
    assert import_cycles(import_graph(root)) == [["s3gw.core.a", "s3gw.core.b"]]


def test_a_cycle_through_a_function_or_type_checking_import_is_found(tmp_path: pathlib.Path) -> None:
    root = plant(
        tmp_path,
        {
            "s3gw/core/multipart.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .service2 import Core\n",
            "s3gw/core/service2.py": "from .multipart import Mixin\n",
            "s3gw/core/x.py": "def f():\n    from .y import g\n",
            "s3gw/core/y.py": "from .x import f\n",
        },
    )
    assert import_cycles(import_graph(root)) == [
        ["s3gw.core.multipart", "s3gw.core.service2"],
        ["s3gw.core.x", "s3gw.core.y"],
    ]


def test_a_longer_cycle_is_found(tmp_path: pathlib.Path) -> None:
    root = plant(
        tmp_path,
        {
            "s3gw/api/a.py": "import s3gw.api.b\n",
            "s3gw/api/b.py": "from s3gw.api import c\n",
            "s3gw/api/c.py": "from .a import x\n",
            "s3gw/api/d.py": "from .a import x\n",
        },
    )
    assert import_cycles(import_graph(root)) == [["s3gw.api.a", "s3gw.api.b", "s3gw.api.c"]]


def test_a_function_level_import_is_found(tmp_path: pathlib.Path) -> None:
    root = plant(
        tmp_path,
        {
            "s3gw/api/lazy.py": (
                "import os\n"
                "try:\n    import blake3\nexcept ImportError:\n    blake3 = None\n"  # module level: the optional idiom
                "def f():\n    import json\n    from ..core import service\n"  # stdlib exempt; first-party not
                "class C:\n    import aiohttp\n"  # a class body counts
                "async def g():\n    import importlib\n    importlib.import_module('s3gw.core.service')\n"
            )
        },
    )
    found = function_level_imports(root)
    assert len(found) == 3, found
    assert found[0].startswith("s3gw/api/lazy.py:8: `s3gw.core`")
    assert found[1].startswith("s3gw/api/lazy.py:10: `aiohttp`")
    assert found[2].startswith("s3gw/api/lazy.py:13: dynamic import")
    assert (
        function_level_imports(
            root, allowed={("s3gw/api/lazy.py", "s3gw.core"): "why", ("s3gw/api/lazy.py", "aiohttp"): "why"}
        )
        == found[2:]
    )


def test_a_reach_through_is_found(tmp_path: pathlib.Path) -> None:
    root = plant(
        tmp_path,
        {
            "s3gw/api/health.py": (
                "async def ready(app, CORE):\n"
                "    core = app[CORE]\n"
                "    await core.meta.ping()\n"  # the chain through the store
                "    if app[CORE].store.cluster is None:\n"  # named as the core names it
                "        pass\n"
                "    return getattr(core, 'meta')\n"
            )
        },
    )  # spelt as a string
    found = reach_throughs(root)
    assert [f.split(":")[1] for f in found] == ["3", "4", "6"], found
    assert "s3gw/core/service.py:Core keeps it" in found[0]


def test_a_lower_layer_field_of_a_core_dataclass_is_a_handle(tmp_path: pathlib.Path) -> None:
    root = plant(
        tmp_path, {"s3gw/core/ops.py": "from ..meta.base import MetaStore\n\nclass Operations:\n    db: MetaStore\n"}
    )
    assert set(handle_names(root)) == {"meta", "store", "db"}
