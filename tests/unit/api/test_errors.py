"""The error boundary: one table for every code the core and the auth layer raise, statuses from it
alone, headers rendered from what a core error is about, unknown names and internal errors logged."""

from __future__ import annotations

import ast
import inspect
import logging
import pathlib

import pytest

from s3gw.api.app import error_headers, to_s3_error
from s3gw.api.errors import ERRORS, S3Error, code_of
from s3gw.api.router import Op, Operation
from s3gw.auth import AuthError
from s3gw.core import errors as E
from s3gw.core.errors import CoreError
from s3gw.core.iam import IamError
from s3gw.meta.model import VersionRecord

ROOT = pathlib.Path(__file__).resolve().parents[3]

#: calls whose first argument names a row of the table
NAMING_CALLS = {"AuthError", "S3Error", "_error", "_Bad", "Invalid", "not_configured"}
#: the calls that pass a name through instead of spelling it (each translates a name checked elsewhere)
PASS_THROUGH = {
    ("s3gw/api/app.py", "S3Error(exc.code, exc.message if exc.message != exc.code else '', error_headers(exc))"),
    ("s3gw/api/app.py", "S3Error(exc.name, exc.message)"),
    ("s3gw/api/app.py", "S3Error(op.invalid.code, op.invalid.message)"),
    ("s3gw/api/admin.py", "S3Error(e.name)"),
    ("s3gw/api/admin.py", "S3Error(e.code, e.message if e.message != e.code else '')"),
    ("s3gw/api/buckets.py", "S3Error(code)"),
    ("s3gw/api/router.py", "Invalid(code, message)"),
}


def _names(node: ast.expr) -> list[str] | None:
    """The literal names an argument can be (a constant, or a conditional between constants)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _names(node.body), _names(node.orelse)
        return a + b if a is not None and b is not None else None
    return None


def raised_names() -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Every literal error name the source passes to a naming call (name -> where), and the calls that
    pass something else."""
    found: dict[str, list[str]] = {}
    dynamic: list[tuple[str, str]] = []
    for path in sorted((ROOT / "s3gw").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if func not in NAMING_CALLS:
                continue
            names = _names(node.args[0])
            if names is None:
                dynamic.append((rel, ast.unparse(node)))
                continue
            for name in names:
                found.setdefault(name, []).append(f"{rel}:{node.lineno}")
    return found, dynamic


def test_every_error_name_the_source_raises_is_in_the_table() -> None:
    found, dynamic = raised_names()
    assert len(found) > 60  # the scan sees the source
    missing = {name: where for name, where in found.items() if name not in ERRORS}
    assert missing == {}, f"not in s3gw/api/errors.py ERRORS: {missing}"
    unlisted = set(dynamic) - PASS_THROUGH
    assert not unlisted, f"error names that are not literals (spell the name, or list the pass-through): {unlisted}"


def test_every_core_error_code_is_in_the_table() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls] + [s for c in cls.__subclasses__() for s in subclasses(c)]

    core = [c for c in subclasses(CoreError) if not issubclass(c, IamError)]  # IAM: the admin API's own codes
    assert {c.__name__ for c in core} >= {"NoSuchKey", "InvalidRange", "ObjectLocked", "RangeWithPartNumber"}
    assert [c.__name__ for c in core if c.code not in ERRORS] == []


def test_auth_statuses_come_from_the_table() -> None:
    """No second status table: the auth layer names a row, the table gives the status."""
    assert "status" not in inspect.signature(AuthError).parameters
    assert not hasattr(AuthError("AccessDenied"), "status")
    assert "status" not in inspect.signature(S3Error).parameters
    tree = ast.parse((ROOT / "s3gw" / "auth" / "errors.py").read_text())
    statuses = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, int) and 100 <= n.value < 600
    ]
    assert statuses == [] and "status" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for name, (code, status) in {
        "AccessDenied": ("AccessDenied", 403),
        "AccessDenied.UnsignedHeaders": ("AccessDenied", 400),
        "AccessDenied.MissingSignTag": ("AccessDenied", 400),
        "AccessDenied.MissingDateHeader": ("AccessDenied", 400),
        "SignatureDoesNotMatch": ("SignatureDoesNotMatch", 403),
        "PostPolicyInvalidKeyName": ("PostPolicyInvalidKeyName", 403),
        "MissingFields": ("MissingFields", 400),
    }.items():
        err = to_s3_error(AuthError(name, "why"))
        assert (err.code, err.status, err.message) == (code, status, "why"), name
        assert AuthError(name).code == code == code_of(name)


def test_a_name_not_in_the_table_is_logged_and_answered_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="s3gw.api.errors"):
        err = S3Error("NoSuchThing", "x")
    assert (err.code, err.status) == ("InternalError", 500)
    assert any("NoSuchThing" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_internal_errors_are_logged_with_the_request(caplog: pytest.LogCaptureFixture) -> None:
    op = Operation(Op.GetObject, "bkt", "dir/key")
    with caplog.at_level(logging.ERROR, logger="s3gw.api.app"):
        err = to_s3_error(RuntimeError("boom"), "REQ123", op)
    assert (err.code, err.status) == ("InternalError", 500)
    (rec,) = [r for r in caplog.records if r.name == "s3gw.api.app"]
    text = rec.getMessage()
    assert all(part in text for part in ("REQ123", "GetObject", "'bkt'", "'dir/key'", "RuntimeError: boom")), text
    assert (rec.request_id, rec.operation, rec.bucket, rec.key) == ("REQ123", "GetObject", "bkt", "dir/key")
    assert rec.exc_info is not None
    # a DeleteObjects entry names its own key
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="s3gw.api.app"):
        to_s3_error(ValueError("x"), "REQ9", Operation(Op.DeleteObjects, "bkt", ""), "entry-key")
    assert [r.key for r in caplog.records] == ["entry-key"]


def test_named_errors_are_not_logged_as_internal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="s3gw.api.app"):
        assert to_s3_error(E.NoSuchKey(bucket="b", key="k")).code == "NoSuchKey"
        assert to_s3_error(AuthError("SignatureDoesNotMatch")).status == 403
    assert caplog.records == []


MTIME = 1_700_000_000.0
VERSION = VersionRecord(bucket="b", key="k", version_id="v1", mtime=MTIME, etag="abc")
MARKER = VersionRecord(bucket="b", key="k", version_id="m1", mtime=MTIME, delete_marker=True)
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"


@pytest.mark.parametrize(
    "exc, headers",
    [
        (
            E.NoSuchKey(record=MARKER),
            {"x-amz-delete-marker": "true", "x-amz-version-id": "m1", "Last-Modified": LAST_MODIFIED},
        ),
        (
            E.MethodNotAllowed(record=MARKER),
            {"x-amz-delete-marker": "true", "x-amz-version-id": "m1", "Last-Modified": LAST_MODIFIED},
        ),
        (E.NotModified(record=VERSION), {"ETag": '"abc"', "Last-Modified": LAST_MODIFIED}),
        (E.PreconditionFailed(record=VERSION), {"ETag": '"abc"', "Last-Modified": LAST_MODIFIED}),
        (E.PreconditionFailed(), {}),  # a conditional write: about no version read
        (E.InvalidRange(object_size=5), {"ActualObjectSize": "5"}),
        (E.RangeWithPartNumber(record=VERSION), {"Accept-Ranges": "bytes"}),
        (E.NoSuchKey(bucket="b", key="k"), {}),
        (E.NoSuchVersion(bucket="b", key="k", version_id="v9"), {}),
    ],
)
def test_headers_are_rendered_from_what_the_error_is_about(exc: CoreError, headers: dict[str, str]) -> None:
    assert error_headers(exc) == headers
    err = to_s3_error(exc)
    assert err.headers == headers and err.code == exc.code


def test_core_errors_carry_no_http() -> None:
    """Context, not headers: a core error has no header dict, and its constructor takes none."""
    assert not hasattr(E.NoSuchKey(), "headers")
    with pytest.raises(TypeError):
        E.NoSuchKey(**{"x-amz-delete-marker": "true"})
    e = E.NoSuchKey(record=MARKER)
    assert (e.bucket, e.key, e.version_id, e.record) == ("b", "k", "m1", MARKER)
    assert (E.RangeWithPartNumber().code, E.RangeWithPartNumber().message) == (
        "InvalidRequest",
        "Cannot specify both Range header and partNumber query parameter",
    )
