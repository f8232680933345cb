"""Bucket lifecycle (docs/data-management.md): the configuration through boto3 and mc, MinIO's
validation errors, and the worker expiring versions, delete markers and uploads on a real server
whose lifecycle "day" lasts a few seconds (lifecycle.day_seconds)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.rawhttp import signed_request
from tests.functional.test_clients import aws
from tests.waiting import wait_until

DAY = 2  # seconds in a lifecycle "day" on the fast server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fast(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose lifecycle day is DAY seconds, passing over buckets every half second, and
    expiring multipart uploads left for 30 s (api.stale_uploads_expiry); on the embedded SQLite
    store, then on PostgreSQL (tests/services.py)."""
    data = tmp_path_factory.mktemp("lifecycle")
    env = {
        "S3GW_LIFECYCLE_DAY_SECONDS": str(DAY),
        "S3GW_LIFECYCLE_INTERVAL": "0.5",
        "S3GW_API_STALE_UPLOADS_EXPIRY": "30",
        "S3GW_API_STALE_UPLOADS_CLEANUP_INTERVAL": "1",
    }
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        pw = data / "db-password"
        pw.write_text(pg.password + "\n")
        env.update(
            S3GW_DATABASE_HOST=pg.host,
            S3GW_DATABASE_PORT=str(pg.port),
            S3GW_DATABASE_NAME=pg.new_database("ilm"),
            S3GW_DATABASE_USER=pg.user,
            S3GW_DATABASE_PASSWORD_FILE=str(pw),
        )
    srv = start_server(str(data), env=env)
    yield srv
    srv.stop()


@pytest.fixture
def fs3(fast: Server):
    return s3_client(fast)


def new_bucket(s3, *, versioned: bool = False, lock: bool = False) -> str:
    name = f"ilm-{uuid.uuid4().hex[:12]}"
    if lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def versions(s3, bucket: str) -> list[tuple[str, str, bool]]:
    """(key, version id, is delete marker) of every version, newest first within a key."""
    r = s3.list_object_versions(Bucket=bucket)
    out = [(v["Key"], v["VersionId"], False, v["LastModified"]) for v in r.get("Versions", [])]
    out += [(v["Key"], v["VersionId"], True, v["LastModified"]) for v in r.get("DeleteMarkers", [])]
    return [(k, vid, dm) for k, vid, dm, _ in sorted(out, key=lambda x: (x[0], -x[3].timestamp()))]


# ---------------------------------------------------------------- configuration
RULES = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
    {
        "ID": "tagged",
        "Status": "Disabled",
        "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeGreaterThan": 10}},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
    },
    {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {
        "ID": "dated",
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": "a", "Value": "b"}},
        "Expiration": {"Date": "2030-01-01T00:00:00Z"},
    },
    {
        "ID": "mpu",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    },
    {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 100}, "Expiration": {"Days": 1}},
]


def test_configuration_round_trip(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    by_id = {r["ID"]: r for r in got}
    assert [r["ID"] for r in got] == [r["ID"] for r in RULES]
    assert by_id["logs"]["Filter"] == {"Prefix": "logs/"} and by_id["logs"]["Expiration"] == {"Days": 30}
    assert by_id["tagged"]["Status"] == "Disabled"
    assert by_id["tagged"]["Filter"]["And"] == {
        "Prefix": "tmp/",
        "Tags": [{"Key": "k", "Value": "v"}],
        "ObjectSizeGreaterThan": 10,
    }
    assert by_id["tagged"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}
    assert by_id["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert by_id["dated"]["Expiration"]["Date"].year == 2030
    assert by_id["dated"]["Filter"] == {"Tag": {"Key": "a", "Value": "b"}}
    assert by_id["mpu"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert by_id["small"]["Filter"] == {"ObjectSizeLessThan": 100, "Prefix": ""} or by_id["small"]["Filter"] == {
        "ObjectSizeLessThan": 100
    }
    # a rule without an ID gets one (MinIO names it); the legacy rule-level Prefix is kept
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [{"Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 1}}]},
    )
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"] and rule["Prefix"] == "old/" and "Filter" not in rule
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def _put_raw(server: Server, bucket: str, body: bytes, *, md5: bool = True):
    headers = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()} if md5 else {}
    return signed_request(server, "PUT", f"/{bucket}?lifecycle", body, headers)


def _doc(*rules: str) -> bytes:
    return (
        "<LifecycleConfiguration>" + "".join(f"<Rule>{r}</Rule>" for r in rules) + "</LifecycleConfiguration>"
    ).encode()


EXP = "<Expiration><Days>1</Days></Expiration>"
NWF = "The XML you provided was not well-formed or did not validate against our published schema"


@pytest.mark.parametrize(
    "body,code,message",
    [
        (_doc(), "InvalidArgument", "Lifecycle configuration should have at least one rule"),
        (
            _doc(f"<ID>{'x' * 256}</ID><Status>Enabled</Status><Filter/>{EXP}"),
            "InvalidArgument",
            "ID length is limited to 255 characters",
        ),
        (_doc(f"<Filter/>{EXP}"), "InvalidArgument", "Status should not be empty"),
        (
            _doc(f"<Status>On</Status><Filter/>{EXP}"),
            "InvalidArgument",
            "Status must be set to either Enabled or Disabled",
        ),
        (
            _doc("<Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration>"),
            "InvalidArgument",
            "Days must be positive integer when used with Expiration",
        ),
        (
            _doc(
                "<Status>Enabled</Status><Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"
            ),
            "InvalidArgument",
            "Exactly one of Days (positive integer) or Date (positive ISO 8601 format) should be present inside Expiration.",
        ),
        (
            _doc("<Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>"),
            "InvalidArgument",
            "'Date' must be at midnight GMT",
        ),
        (
            _doc("<Status>Enabled</Status><Filter/><Expiration><Date>tomorrow</Date></Expiration>"),
            "InvalidArgument",
            "Date must be provided in ISO 8601 format",
        ),
        (
            _doc(
                "<Status>Enabled</Status><Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            ),
            "InvalidArgument",
            "Delete marker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
        ),
        (_doc("<Status>Enabled</Status><Filter/><Expiration></Expiration>"), "InvalidArgument", NWF),
        (_doc("<Status>Enabled</Status><Filter/>"), "InvalidArgument", NWF),
        (
            _doc(
                f"<Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>{EXP}"
            ),
            "InvalidArgument",
            "Filter must have exactly one of Prefix, Tag, or And specified",
        ),
        (_doc(f"<Status>Enabled</Status><Filter><And><Prefix>a</Prefix></And></Filter>{EXP}"), "InvalidArgument", NWF),
        (
            _doc(
                f"<Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>{EXP}"
            ),
            "InvalidArgument",
            "Duplicate Tag Keys are not allowed",
        ),
        (_doc(f"<Status>Enabled</Status><Filter><Foo/></Filter>{EXP}"), "InvalidArgument", "unknown XML Tag"),
        (
            _doc(f"<Status>Enabled</Status><Prefix>a</Prefix><Filter><Prefix>b</Prefix></Filter>{EXP}"),
            "InvalidArgument",
            NWF,
        ),
        (
            _doc(
                f"<ID>same</ID><Status>Enabled</Status><Filter/>{EXP}",
                f"<ID>same</ID><Status>Enabled</Status><Filter/>{EXP}",
            ),
            "InvalidArgument",
            "Rule ID must be unique. Found same ID for more than one rule",
        ),
        (
            _doc("<Status>Enabled</Status><Filter/><NoncurrentVersionExpiration></NoncurrentVersionExpiration>"),
            "InvalidArgument",
            NWF,
        ),
        (
            _doc(
                "<Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>COLD</StorageClass></Transition>"
            ),
            "InvalidStorageClass",
            "Invalid storage class.",
        ),
        (b"<LifecycleConfiguration><Rule>", "MalformedXML", None),
        (b"<Tagging/>", "MalformedXML", None),
        (_doc("<Status>Enabled</Status><Filter/><Expiration><Days>x</Days></Expiration>"), "MalformedXML", None),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_validation_errors_are_minio_s(
    server: Server, bucket: str, body: bytes, code: str, message: str | None
) -> None:
    r = _put_raw(server, bucket, body)
    assert r.status == 400, r.body
    assert f"<Code>{code}</Code>".encode() in r.body, r.body
    if message is not None:
        assert f"<Message>{message}</Message>".encode() in r.body.replace(b"&#39;", b"'").replace(b"&apos;", b"'"), (
            r.body
        )


def test_limits_and_integrity(server: Server, bucket: str) -> None:
    too_many = _doc(
        *[f"<ID>r{i}</ID><Status>Enabled</Status><Filter><Prefix>p{i}</Prefix></Filter>{EXP}" for i in range(1001)]
    )
    r = _put_raw(server, bucket, too_many)
    assert r.status == 400 and b"Lifecycle configuration allows a maximum of 1000 rules" in r.body
    thousand = _doc(
        *[f"<ID>r{i}</ID><Status>Enabled</Status><Filter><Prefix>p{i}</Prefix></Filter>{EXP}" for i in range(1000)]
    )
    assert _put_raw(server, bucket, thousand).status == 200
    # S3 and MinIO require Content-MD5 (or a checksum) on this call
    r = _put_raw(server, bucket, _doc(f"<Status>Enabled</Status><Filter/>{EXP}"), md5=False)
    assert r.status == 400 and b"<Code>MissingContentMD5</Code>" in r.body
    # a body over the bound is refused without being read whole
    r = _put_raw(server, bucket, b"<LifecycleConfiguration>" + b" " * (2 << 20) + b"</LifecycleConfiguration>")
    assert r.status == 400 and b"MaxMessageLengthExceeded" in r.body
    r = _put_raw(server, "no-such-bucket-ilm", _doc(f"<Status>Enabled</Status><Filter/>{EXP}"))
    assert r.status == 404 and b"NoSuchBucket" in r.body


def test_mc_ilm_rule_add_ls_export_import_rm(server: Server, bucket: str, mc_bin: str, tmp_path) -> None:
    env = {**os.environ, "MC_CONFIG_DIR": str(tmp_path / "mc")}
    alias = f"http://{server.access_key}:{server.secret_key}@127.0.0.1:{server.port}"
    env["MC_HOST_gw"] = alias

    def mc(*args: str, stdin: str | None = None) -> str:
        cp = subprocess.run(
            [mc_bin, "--no-color", *args], env=env, capture_output=True, text=True, input=stdin, timeout=60
        )
        assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
        return cp.stdout

    mc("ilm", "rule", "add", f"gw/{bucket}", "--prefix", "logs/", "--expire-days", "7")
    mc("ilm", "rule", "add", f"gw/{bucket}", "--noncurrent-expire-days", "3", "--noncurrent-expire-newer", "2")
    listing = mc("--json", "ilm", "rule", "ls", f"gw/{bucket}")
    assert "logs/" in listing
    exported = json.loads(mc("ilm", "rule", "export", f"gw/{bucket}"))
    rules = exported["Rules"]
    assert len(rules) == 2
    logs = next(r for r in rules if r.get("Filter", {}).get("Prefix") == "logs/")
    assert logs["Expiration"]["Days"] == 7
    other = next(r for r in rules if r is not logs)
    assert other["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    # import into another bucket: the same rules
    s3 = s3_client(server)
    second = new_bucket(s3)
    mc("ilm", "rule", "import", f"gw/{second}", stdin=json.dumps(exported))
    again = s3.get_bucket_lifecycle_configuration(Bucket=second)["Rules"]
    assert sorted(r["ID"] for r in again) == sorted(r["ID"] for r in rules)
    mc("ilm", "rule", "rm", "--id", logs["ID"], f"gw/{bucket}")
    left = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in left] == [other["ID"]]
    mc("ilm", "rule", "rm", "--all", "--force", f"gw/{second}")
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=second)
    s3.delete_bucket(Bucket=second)


# ---------------------------------------------------------------- the worker
def test_expiration_by_prefix_tag_and_size(fs3) -> None:
    b = new_bucket(fs3)
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "p", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1}},
                {
                    "ID": "t",
                    "Status": "Enabled",
                    "Filter": {"Tag": {"Key": "tmp", "Value": "yes"}},
                    "Expiration": {"Days": 1},
                },
                {
                    "ID": "s",
                    "Status": "Enabled",
                    "Filter": {"And": {"Prefix": "big/", "ObjectSizeGreaterThan": 100}},
                    "Expiration": {"Days": 1},
                },
                {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}},
            ]
        },
    )
    fs3.put_object(Bucket=b, Key="logs/a", Body=b"a")
    fs3.put_object(Bucket=b, Key="other/a", Body=b"a")
    fs3.put_object(Bucket=b, Key="t1", Body=b"a", Tagging="tmp=yes")
    fs3.put_object(Bucket=b, Key="t2", Body=b"a", Tagging="tmp=no")
    fs3.put_object(Bucket=b, Key="big/large", Body=b"x" * 1000)
    fs3.put_object(Bucket=b, Key="big/small", Body=b"x" * 10)
    fs3.put_object(Bucket=b, Key="keep/a", Body=b"a")
    expected = ["big/small", "keep/a", "other/a", "t2"]
    wait_until(lambda: keys(fs3, b), "the due objects to expire", until=lambda k: k == expected, timeout=60)


def test_versioned_expiration_adds_a_delete_marker_then_noncurrent_go(fs3) -> None:
    b = new_bucket(fs3, versioned=True)
    fs3.put_object(Bucket=b, Key="doc", Body=b"v1")
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={"Rules": [{"ID": "cur", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]},
    )
    # S3: expiring a current version in a versioned bucket adds a delete marker, removes nothing
    vs = wait_until(lambda: versions(fs3, b), "a delete marker", until=lambda v: v and v[0][2], timeout=60)
    assert [(k, dm) for k, _, dm in vs] == [("doc", True), ("doc", False)]
    # ExpiredObjectDeleteMarker with noncurrent expiration: the version, then the lone marker, go
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "clean",
                    "Status": "Enabled",
                    "Filter": {},
                    "Expiration": {"ExpiredObjectDeleteMarker": True},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                }
            ]
        },
    )
    wait_until(lambda: versions(fs3, b), "every version and the marker to go", until=lambda v: v == [], timeout=60)


def test_noncurrent_expiration_keeps_newer_noncurrent_versions(fs3) -> None:
    b = new_bucket(fs3, versioned=True)
    ids = [fs3.put_object(Bucket=b, Key="k", Body=f"v{i}".encode())["VersionId"] for i in range(5)]
    fs3.put_object(Bucket=b, Key="other/k", Body=b"x")
    fs3.put_object(Bucket=b, Key="other/k", Body=b"y")
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "nc",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "k"},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2},
                }
            ]
        },
    )
    # the latest and the 2 newest noncurrent versions stay; the 2 oldest go; other/ is untouched
    wait_until(
        lambda: [vid for k, vid, _ in versions(fs3, b) if k == "k"],
        "the two oldest noncurrent versions to go",
        until=lambda v: v == ids[::-1][:3],
        timeout=60,
    )
    assert len([1 for k, _, _ in versions(fs3, b) if k == "other/k"]) == 2


def test_locked_versions_are_kept(fs3) -> None:
    b = new_bucket(fs3, lock=True)
    until = datetime.now(UTC) + timedelta(days=1)
    locked = fs3.put_object(
        Bucket=b, Key="held", Body=b"1", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until
    )["VersionId"]
    hold = fs3.put_object(Bucket=b, Key="hold", Body=b"1", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = fs3.put_object(Bucket=b, Key="free", Body=b"1")["VersionId"]
    for k in ("held", "hold", "free"):
        fs3.put_object(Bucket=b, Key=k, Body=b"2")
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "nc", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
            ]
        },
    )
    wait_until(
        lambda: [vid for _, vid, _ in versions(fs3, b)],
        "the unlocked noncurrent version to go",
        until=lambda v: free not in v,
        timeout=60,
    )
    left = [vid for _, vid, _ in versions(fs3, b)]
    assert locked in left and hold in left
    fs3.put_object_legal_hold(Bucket=b, Key="hold", VersionId=hold, LegalHold={"Status": "OFF"})
    wait_until(
        lambda: [vid for _, vid, _ in versions(fs3, b)],
        "the released version to go",
        until=lambda v: hold not in v,
        timeout=60,
    )
    assert locked in [vid for _, vid, _ in versions(fs3, b)]


def test_incomplete_uploads_are_aborted_by_rule_and_by_server_default(fs3) -> None:
    b = new_bucket(fs3)
    # the server default (api.stale_uploads_expiry: 30 s here) aborts an upload in a bucket without rules
    stale = fs3.create_multipart_upload(Bucket=b, Key="stale")["UploadId"]
    fs3.upload_part(Bucket=b, Key="stale", UploadId=stale, PartNumber=1, Body=b"x" * 100)
    b2 = new_bucket(fs3)
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b2,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "mpu",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "up/"},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    fs3.create_multipart_upload(Bucket=b2, Key="up/a")
    fs3.create_multipart_upload(Bucket=b2, Key="keep/a")

    def uploads(bucket: str) -> list[str]:
        return sorted(u["Key"] for u in fs3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    wait_until(lambda: uploads(b2), "the rule to abort up/a", until=lambda u: u == ["keep/a"], timeout=60)
    wait_until(
        lambda: uploads(b), "the server-wide expiry to abort the stale upload", until=lambda u: u == [], timeout=120
    )
    with pytest.raises(ClientError) as e:
        fs3.list_parts(Bucket=b, Key="stale", UploadId=stale)
    assert e.value.response["Error"]["Code"] == "NoSuchUpload"


def test_x_amz_expiration_header(s3, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "week", "Status": "Enabled", "Filter": {"Prefix": "w/"}, "Expiration": {"Days": 7}},
                {"ID": "day", "Status": "Enabled", "Filter": {"Prefix": "w/d"}, "Expiration": {"Days": 1}},
            ]
        },
    )
    put = s3.put_object(Bucket=bucket, Key="w/doc", Body=b"x")
    header = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    m = re.fullmatch(r'expiry-date="([^"]+)", rule-id="([^"]+)"', header)
    assert m, header
    assert m.group(2) == "day"
    when = parsedate_to_datetime(m.group(1))
    head = s3.head_object(Bucket=bucket, Key="w/doc")
    mtime = head["LastModified"]
    # the midnight (UTC) after the object's time plus one day
    assert when == datetime(mtime.year, mtime.month, mtime.day, tzinfo=UTC) + timedelta(days=2)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"] == header
    get = s3.get_object(Bucket=bucket, Key="w/doc")
    assert get["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"] == header
    # CopyObject and CompleteMultipartUpload carry it too (MinIO sets it on every write)
    copy = s3.copy_object(Bucket=bucket, Key="w/dcopy", CopySource={"Bucket": bucket, "Key": "w/doc"})
    assert 'rule-id="day"' in copy["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    up = s3.create_multipart_upload(Bucket=bucket, Key="w/week")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="w/week", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="w/week", UploadId=up, MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]}
    )
    assert 'rule-id="week"' in done["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    # outside every rule: no header
    other = s3.put_object(Bucket=bucket, Key="x/doc", Body=b"x")
    assert "x-amz-expiration" not in other["ResponseMetadata"]["HTTPHeaders"]


def test_aws_cli_put_and_get(server: Server, bucket: str, tmp_path) -> None:
    doc = {"Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 3}}]}
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(doc))
    cp = aws(
        server,
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        bucket,
        "--lifecycle-configuration",
        f"file://{path}",
    )
    assert cp.returncode == 0, cp.stderr
    cp = aws(server, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["Rules"] == doc["Rules"]


def test_suspended_bucket_expiry_leaves_a_null_delete_marker(fs3) -> None:
    b = new_bucket(fs3, versioned=True)
    kept = fs3.put_object(Bucket=b, Key="k", Body=b"versioned")["VersionId"]
    fs3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    fs3.put_object(Bucket=b, Key="k", Body=b"null version")
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={"Rules": [{"ID": "cur", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]},
    )
    # S3: the null version goes and a null delete marker takes its place; the older version stays
    wait_until(
        lambda: versions(fs3, b),
        "a null delete marker in place of the null version",
        until=lambda v: v == [("k", "null", True), ("k", kept, False)],
        timeout=60,
    )


def test_s3cmd_expire_document(server: Server, bucket: str) -> None:
    """`s3cmd expire --expiry-prefix=logs/ --expiry-days=30` sends this document (S3/S3.py
    _expiration_set: no ID, the rule's own Prefix, indented), and `s3cmd info` reads the rule back
    with the XPaths .//Rule//Prefix and .//Rule//Expiration//Days."""
    body = (
        b"<LifecycleConfiguration>  <Rule>    <Prefix>logs/</Prefix>    <Status>Enabled</Status>"
        b"    <Expiration>    <Days>30</Days>    </Expiration>  </Rule></LifecycleConfiguration>"
    )
    assert _put_raw(server, bucket, body).status == 200
    r = signed_request(server, "GET", f"/{bucket}?lifecycle")
    assert r.status == 200
    root = ET.fromstring(r.body)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    assert root.find(".//s3:Rule//s3:Prefix", ns).text == "logs/"
    assert root.find(".//s3:Rule//s3:Expiration//s3:Days", ns).text == "30"
    # with a date (s3cmd's --expiry-date takes ISO 8601, milliseconds included)
    dated = body.replace(b"<Days>30</Days>", b"<Date>2030-01-01T00:00:00.000Z</Date>")
    assert _put_raw(server, bucket, dated).status == 200
    # `s3cmd expire` without days or date removes the configuration
    assert signed_request(server, "DELETE", f"/{bucket}?lifecycle").status == 204
    assert signed_request(server, "GET", f"/{bucket}?lifecycle").status == 404


def test_a_tag_added_later_makes_an_old_object_due(fs3) -> None:
    b = new_bucket(fs3)
    fs3.put_bucket_lifecycle_configuration(
        Bucket=b,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "t",
                    "Status": "Enabled",
                    "Filter": {"Tag": {"Key": "tmp", "Value": "yes"}},
                    "Expiration": {"Days": 1},
                }
            ]
        },
    )
    fs3.put_object(Bucket=b, Key="old", Body=b"a", Tagging="tmp=no")
    fs3.put_object(Bucket=b, Key="probe", Body=b"a", Tagging="tmp=yes")
    # once the probe is gone, a pass has read past "old" (same age) and left it
    wait_until(lambda: keys(fs3, b), "the probe to expire", until=lambda k: k == ["old"], timeout=60)
    fs3.put_object_tagging(Bucket=b, Key="old", Tagging={"TagSet": [{"Key": "tmp", "Value": "yes"}]})
    wait_until(lambda: keys(fs3, b), "the newly tagged old object to expire", until=lambda k: k == [], timeout=60)
