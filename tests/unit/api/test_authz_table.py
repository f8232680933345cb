"""The authorisation table (s3gw/api/authz.py) against the router and the authorisation matrix
(tests/authz_matrix.py), without a server: every operation the router can name has a row in
both, every matrix request routes to the operation it claims, and ``authz.required`` asks for
exactly the permissions the matrix's own table says that request needs."""

from __future__ import annotations

import itertools

import pytest
from multidict import CIMultiDict, MultiDict

from s3gw.api import router
from s3gw.api.authz import ACTIONS, EXEMPT, PER_KEY, required
from s3gw.api.router import OPERATIONS, Operation, route
from tests import authz_matrix as M


def _reachable() -> set[str]:
    """Every name ``route`` returns over methods × targets × every query parameter it knows × copy source."""
    params = {
        p
        for table in (router._BUCKET_SUBRESOURCES, router._OBJECT_SUBRESOURCES)
        for pairs in table.values()
        for p, _ in pairs
    }
    queries = [{}, {"list-type": "2"}, {"uploadId": "u", "partNumber": "1"}] + [{p: ""} for p in sorted(params)]
    names = set()
    for method, path, query, copy in itertools.product(
        ("GET", "PUT", "HEAD", "DELETE", "POST", "PATCH", "OPTIONS"), ("/", "/b", "/b/k"), queries, (False, True)
    ):
        headers = {"x-amz-copy-source": "/a/b"} if copy else {}
        names.add(route(method, path, MultiDict(query), CIMultiDict(headers)).name)
    return names


def test_operations_are_what_route_can_return() -> None:
    assert _reachable() == OPERATIONS


def test_every_operation_has_an_action() -> None:
    """Adding an operation to the router without deciding what it needs fails here (an
    operation missing from ACTIONS needs an action only ``s3:*`` grants)."""
    assert set(ACTIONS) == OPERATIONS - set(EXEMPT)


def test_every_operation_has_a_matrix_row() -> None:
    assert set(M.AWS_ACTIONS) == OPERATIONS - set(M.EXEMPT)
    assert {r.op for r in M.ROWS} == OPERATIONS - set(M.EXEMPT)
    assert set(M.EXEMPT) == set(EXEMPT)


def _world() -> M.World:
    w = M.World.named("t")
    for logical in M.BUCKETS:
        for key in M.OBJECTS:
            w.versions[(logical, key)] = f"v-{key.replace('/', '-')}"
    return w


ROW_TARGETS = [pytest.param(r, t, id=f"{r.id}|{t.name}") for r in M.ROWS for t in r.targets]


@pytest.mark.parametrize("row,target", ROW_TARGETS)
def test_row_routes_to_its_operation(row: M.Row, target: M.Target) -> None:
    req = row.build(_world(), target)
    headers = CIMultiDict(req.headers)
    if req.form_key is not None:
        headers["Content-Type"] = "multipart/form-data; boundary=x"
    assert route(req.method, req.path, MultiDict(req.query), headers).name == row.op


@pytest.mark.parametrize("row,target", ROW_TARGETS)
def test_required_is_what_the_matrix_expects(row: M.Row, target: M.Target) -> None:
    """What s3gw asks for (authz.required) == what the matrix's own table says, for each request."""
    w = _world()
    req = row.build(w, target)
    bucket = w.b(target.bucket) if target.bucket else ""
    query = dict(req.query)
    if req.per_key is not None:  # DeleteObjects: each entry as its own DeleteObject
        assert required(Operation(row.op, bucket), req.headers) == []
        version = w.version(target.bucket, req.per_key) if row.version else None
        op = Operation(PER_KEY[row.op], bucket, req.per_key)
    elif req.form_key is not None:  # a form upload: the form's key
        op, version = Operation(row.op, bucket, req.form_key), None
    else:
        op = route(req.method, req.path, MultiDict(req.query), CIMultiDict(req.headers))
        version = query.get("versionId")
    got = {(n.action, n.resource) for n in required(op, req.headers, version) if not n.optional}
    assert got == {(n.action, n.resource) for n in row.needs(w, target)}
