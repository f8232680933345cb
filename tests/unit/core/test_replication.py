"""The replication document: decoding, MinIO's checks in its order, and which rules select
what (core/replication.py). Real-process tests: tests/functional/test_replication.py."""

from __future__ import annotations

from typing import Any

import pytest

from s3gw.api import xml as X
from s3gw.core import errors as E
from s3gw.core import replication as R
from s3gw.meta.model import VersionRecord

ARN = "arn:minio:replication::id1:dst"
TARGET = R.Target(arn=ARN, bucket="src", endpoint="http://t", target_bucket="dst", access_key="a")


def doc(*rules: str, role: str = "") -> dict[str, Any]:
    body = f"<ReplicationConfiguration>{''.join(rules)}<Role>{role}</Role></ReplicationConfiguration>"
    parsed = X.parse(body.encode())["ReplicationConfiguration"]
    assert isinstance(parsed, dict)
    return parsed


def rule(inner: str = "", *, status: str = "Enabled", priority: int = 1, dest: str = ARN, dm: str = "Disabled") -> str:
    return (
        f"<Rule><Status>{status}</Status><Priority>{priority}</Priority>"
        f"<DeleteMarkerReplication><Status>{dm}</Status></DeleteMarkerReplication>"
        f"<Destination><Bucket>{dest}</Bucket></Destination>{inner}</Rule>"
    )


def check(d: dict[str, Any], targets: list[R.Target] | None = None) -> R.Config:
    cfg = R.parse(d)
    R.validate(cfg, "src", [TARGET] if targets is None else targets)
    return cfg


def test_a_minimal_rule_names_its_target() -> None:
    cfg = check(doc(rule()))
    (r,) = cfg.rules
    assert r.target == ARN and r.enabled and r.delete == "Disabled" and r.replica_modifications == "Enabled"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((rule(status=""),), R.EMPTY_STATUS),
        ((rule(status="on"),), R.INVALID_STATUS),
        ((rule(), rule()), R.UNIQUE_PRIORITY),
        ((rule(dm=""),), R.DELETE_MARKER_MISSING),
        ((rule(dm="yes"),), R.INVALID_DELETE_MARKER_STATUS),
        ((rule("<DeleteReplication><Status>x</Status></DeleteReplication>"),), R.INVALID_DELETE_STATUS),
        (
            (rule("<ExistingObjectReplication><Status>x</Status></ExistingObjectReplication>"),),
            R.INVALID_EXISTING_STATUS,
        ),
        ((rule(priority=-1),), R.PRIORITY_MISSING),
        ((rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>", dm="Enabled"),), R.TAGS_WITH_DELETE_MARKER),
        ((rule("<Filter><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"),), R.INVALID_FILTER),
        (
            (
                rule(
                    "<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>"
                ),
            ),
            R.DUPLICATE_TAG_KEY,
        ),
        ((rule("<Filter><Tag><Key></Key><Value>v</Value></Tag></Filter>"),), None),  # an empty tag is no tag
        ((rule("<ID>" + "x" * 256 + "</ID>"),), R.INVALID_ID),
        ((), R.NO_RULE),
    ],
)
def test_rule_checks_as_minio_words_them(rules: tuple[str, ...], message: str | None) -> None:
    if message is None:
        check(doc(*rules))
        return
    with pytest.raises(R.ReplicationError) as exc:
        check(doc(*rules))
    assert exc.value.message == message and exc.value.code == "MalformedXML"


def test_destinations() -> None:
    with pytest.raises(R.ReplicationError, match="invalid destination 'bucket'"):
        check(doc(rule(dest="bucket")))
    with pytest.raises(R.ReplicationError, match="unknown storage class GLACIER"):
        check(doc(rule(dest=ARN).replace("</Destination>", "<StorageClass>GLACIER</StorageClass></Destination>")))
    with pytest.raises(E.RemoteArnInvalid):
        check(doc(rule(dest="arn:minio:replication:only:three")))
    with pytest.raises(E.RemoteTargetNotFound):
        check(doc(rule(dest="arn:minio:replication::other:dst")))
    # the AWS form: matched by the remote bucket's name, and it needs a Role (AWS requires one)
    with pytest.raises(R.ReplicationError, match="Role"):
        check(doc(rule(dest="arn:aws:s3:::dst")))
    cfg = check(doc(rule(dest="arn:aws:s3:::dst"), role="arn:aws:iam::1:role/r"))
    assert cfg.rules[0].target == ARN and cfg.role == "arn:aws:iam::1:role/r"
    with pytest.raises(E.RemoteTargetNotFound):
        check(doc(rule(dest="arn:aws:s3:::elsewhere"), role="arn:aws:iam::1:role/r"))


def test_filters_and_what_they_select() -> None:
    cfg = check(
        doc(
            rule("<Filter><Prefix>logs/</Prefix></Filter>", priority=1),
            rule(
                "<Filter><And><Prefix>docs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>",
                priority=2,
                status="Disabled",
            ),
        )
    )
    assert [r.prefix for r in cfg.rules] == ["logs/", "docs/"] and cfg.rules[1].tags == [("k", "v")]
    assert [r.prefix for r in cfg.actionable("logs/a", {})] == ["logs/"]
    assert cfg.actionable("docs/a", {"k": "v"}) == []  # that rule is disabled
    assert R.Config.from_json(cfg.to_json()) == cfg
    legacy = check(doc(rule("<Prefix>old/</Prefix>")))
    assert legacy.rules[0].prefix == "old/"


def test_the_hook_names_the_rows_a_change_owes() -> None:
    cfg = check(
        doc(
            rule(dm="Enabled", priority=1).replace(
                "</Rule>", "<DeleteReplication><Status>Enabled</Status></DeleteReplication></Rule>"
            )
        )
    )
    note = R.note(cfg)
    rec = VersionRecord(bucket="src", key="k")
    assert note(rec, "put") == [(ARN, "put")]
    assert note(rec, "marker") == [(ARN, "marker")] and note(rec, "delete") == [(ARN, "delete")]
    quiet = R.note(check(doc(rule())))
    assert quiet(rec, "marker") == [] and quiet(rec, "delete") == [] and quiet(rec, "tags") == [(ARN, "tags")]


def test_targets_keep_their_secret_sealed_and_out_of_listings() -> None:
    t = R.make_target("src", "https://dr.example.com:9000/", "dst", "AK", "SECRET", lambda arn, s: s[::-1].encode())
    assert t.endpoint == "https://dr.example.com:9000" and t.arn.startswith("arn:minio:replication::")
    assert "SECRET" not in t.to_doc() and "TERCES" not in str(t.public())
    again = R.Target.from_row(t.arn, t.bucket, t.to_doc())
    assert again == t
    for bad in ("ftp://x", "http://x/path", "dr.example.com"):
        with pytest.raises(E.InvalidArgument):
            R.check_endpoint(bad)


@pytest.mark.parametrize(
    "body",
    [
        "<Rule>text</Rule>",
        "<Rule><Priority>abc</Priority></Rule>",
        "<Rule><Priority>99999999999999999999999</Priority></Rule>",
        "<Rule><Destination>text</Destination></Rule>",
        "<Rule><Destination><Bucket><X/></Bucket></Destination></Rule>",
        "<Rule><Filter><And>x</And><And><Tag>t</Tag></And></Filter><Status>Enabled</Status></Rule>",
        "<Rule><Filter><Tag><Key><A/></Key></Tag></Filter></Rule>",
        "<Rule><Status><A/></Status></Rule>",
        "<Rule><DeleteMarkerReplication>Enabled</DeleteMarkerReplication></Rule>",
        "<Role><A/><B/></Role><Rule/>",
        "<Rule/><Rule/>",
    ],
)
def test_odd_documents_are_s3_errors_never_crashes(body: str) -> None:
    d = X.parse(f"<ReplicationConfiguration>{body}</ReplicationConfiguration>".encode())["ReplicationConfiguration"]
    with pytest.raises(E.CoreError):
        check(d if isinstance(d, dict) else {})
