"""Loggers are named after their modules (``logging.getLogger(__name__)``), so a log line says where it
comes from and an operator can set levels per module; the only fixed names are the access and audit
logs, which docs/operations.md documents for operators (parsed, never imported)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")

#: loggers with a fixed name: the constants that hold it (s3gw/api/observe.py), documented for operators
DOCUMENTED = {"ACCESS_LOGGER": "s3gw.access", "AUDIT_LOGGER": "s3gw.audit"}
#: named loggers still to change, with why they are not yet
PENDING: dict[tuple[str, str], str] = {}


def logger_names() -> list[tuple[str, int, str]]:
    """(file, line, the argument as written) of every getLogger call with an argument."""
    out = []
    for path in sorted(p for d in ("s3gw", "nodes") for p in (ROOT / d).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "getLogger"
                and node.args
            ):
                out.append((str(path.relative_to(ROOT)), node.lineno, ast.unparse(node.args[0])))
    return out


def test_loggers_are_named_after_their_modules() -> None:
    calls = logger_names()
    assert len(calls) > 15
    odd = [
        (f, line, arg)
        for f, line, arg in calls
        if arg != "__name__" and arg not in DOCUMENTED and (f, arg) not in PENDING
    ]
    assert odd == [], "use logging.getLogger(__name__), or a documented name's constant"


def test_the_fixed_names_are_the_documented_ones() -> None:
    tree = ast.parse((ROOT / "s3gw" / "api" / "observe.py").read_text(encoding="utf-8"))
    values = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for const, name in DOCUMENTED.items():
        assert values.get(const) == name
        assert f"logger `{name}`" in OPERATIONS, name
