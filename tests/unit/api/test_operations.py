"""One list of operations (router.Op) ties the router, the authorisation table and the handler table.

Every operation the router can name has an IAM action (or is listed in
``authz.NO_ACTION``) and a handler (or is listed in ``handlers.NOT_IMPLEMENTED``,
answered NotImplemented); no table names an operation the router does not.
"""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from s3gw.api import authz, handlers, policy_context
from s3gw.api.app import make_handler
from s3gw.api.handlers import HANDLERS, NOT_IMPLEMENTED, not_implemented
from s3gw.api.router import Op, route

OPS = set(Op)

# every sub-resource and marker parameter the S3 API reference routes on
PARAMS = [
    "location",
    "versioning",
    "tagging",
    "object-lock",
    "uploads",
    "versions",
    "policy",
    "policyStatus",
    "lifecycle",
    "acl",
    "cors",
    "encryption",
    "notification",
    "replication",
    "website",
    "logging",
    "accelerate",
    "requestPayment",
    "ownershipControls",
    "delete",
    "uploadId",
    "retention",
    "legal-hold",
    "attributes",
    "torrent",
    "restore",
    "select",
]


def test_the_router_names_every_operation() -> None:
    named = set()
    for method in ("GET", "PUT", "HEAD", "DELETE", "POST", "PATCH"):
        for path in ("/", "/b", "/b/k"):
            for query in [{}, {"list-type": "2"}, {"uploadId": "u", "partNumber": "1"}] + [{p: ""} for p in PARAMS]:
                for headers in ({}, {"x-amz-copy-source": "/a/b"}):
                    named.add(route(method, path, MultiDict(query), CIMultiDict(headers)).name)
    assert named == OPS, OPS ^ named


def test_every_operation_has_an_action_or_is_listed() -> None:
    assert sorted(op for op in Op if op not in authz.ACTIONS and op not in authz.NO_ACTION) == []
    assert set(authz.ACTIONS).isdisjoint(authz.NO_ACTION)
    assert all(action.startswith("s3:") for action in authz.ACTIONS.values())


def test_every_operation_has_a_handler_or_is_listed_not_implemented() -> None:
    # MethodNotAllowed is refused by the pipeline before authorisation, never dispatched
    assert sorted(OPS - set(HANDLERS)) == [Op.MethodNotAllowed]
    assert {op for op, h in HANDLERS.items() if h is not_implemented} == NOT_IMPLEMENTED


@pytest.mark.parametrize(
    "name,table",
    [
        ("authz.ACTIONS", set(authz.ACTIONS)),
        ("authz.NO_ACTION", authz.NO_ACTION),
        ("authz.HEADER_NEEDS", set(authz.HEADER_NEEDS)),
        ("authz.COPIES", authz.COPIES),
        ("authz.PER_KEY", set(authz.PER_KEY) | set(authz.PER_KEY.values())),
        ("handlers.HANDLERS", set(HANDLERS)),
        ("handlers.NOT_IMPLEMENTED", NOT_IMPLEMENTED),
        ("policy_context._LISTINGS", policy_context._LISTINGS),
        ("policy_context._IN_BODY", set(policy_context._IN_BODY)),
    ],
)
def test_tables_name_only_operations(name: str, table: set[str]) -> None:
    assert sorted(str(op) for op in table if op not in OPS) == [], name


def test_the_pipeline_refuses_a_table_with_a_gap() -> None:
    # a missing handler is a startup failure, not a silent 501
    with pytest.raises(ValueError, match="GetObjectTagging"):
        make_handler({op: h for op, h in handlers.HANDLERS.items() if op != Op.GetObjectTagging})
