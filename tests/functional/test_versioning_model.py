"""Random sequences of PUT / DELETE / DELETE-version / suspend / enable, checked against a model of S3 versioning.

After every step GET, HEAD, ListObjects and ListObjectVersions must agree with
the model (hypothesis stateful testing against a live server).
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

KEYS = ["a", "b/c", "d"]


class VersioningModel(RuleBasedStateMachine):
    s3 = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.bucket = f"model-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.state = ""
        # key -> versions newest first: (version_id, is_delete_marker, data)
        self.versions: dict[str, list[tuple[str, bool, bytes]]] = {k: [] for k in KEYS}
        self.counter = 0

    def _drop_null(self, key: str) -> None:
        self.versions[key] = [v for v in self.versions[key] if v[0] != "null"]

    @rule(key=st.sampled_from(KEYS))
    def put(self, key: str) -> None:
        self.counter += 1
        data = f"{key}-{self.counter}".encode()
        r = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        if self.state == "Enabled":
            self.versions[key].insert(0, (r["VersionId"], False, data))
        else:
            assert r.get("VersionId") in (None, "null")
            self._drop_null(key)
            self.versions[key].insert(0, ("null", False, data))

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: str) -> None:
        r = self.s3.delete_object(Bucket=self.bucket, Key=key)
        if not self.versions[key]:
            # a key that has no version at all gets no delete marker (MinIO)
            assert "DeleteMarker" not in r
        elif self.state == "Enabled":
            self.versions[key].insert(0, (r["VersionId"], True, b""))
        elif self.state == "Suspended":
            self._drop_null(key)
            self.versions[key].insert(0, ("null", True, b""))
        else:
            self._drop_null(key)

    @precondition(lambda self: any(self.versions.values()))
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([k for k in KEYS if self.versions[k]]))
        vid = data.draw(st.sampled_from([v[0] for v in self.versions[key]]))
        self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=vid)
        self.versions[key] = [v for v in self.versions[key] if v[0] != vid]

    @rule()
    def enable(self) -> None:
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.state = "Enabled"

    @precondition(lambda self: self.state != "")
    @rule()
    def suspend(self) -> None:
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Suspended"})
        self.state = "Suspended"

    @invariant()
    def reads_agree(self) -> None:
        for key in KEYS:
            vs = self.versions[key]
            live = vs[0][2] if vs and not vs[0][1] else None
            try:
                got = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as e:
                assert e.response["Error"]["Code"] == "NoSuchKey"
                got = None
            assert got == live, key
            try:
                self.s3.head_object(Bucket=self.bucket, Key=key)
                head = True
            except ClientError:
                head = False
            assert head == (live is not None)

    @invariant()
    def listings_agree(self) -> None:
        listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]
        assert listed == [k for k in KEYS if self.versions[k] and not self.versions[k][0][1]]
        r = self.s3.list_object_versions(Bucket=self.bucket)
        got = sorted(
            [(v["Key"], v["VersionId"], False, v["IsLatest"]) for v in r.get("Versions", [])]
            + [(m["Key"], m["VersionId"], True, m["IsLatest"]) for m in r.get("DeleteMarkers", [])],
            key=lambda t: KEYS.index(t[0]),
        )
        want = [(k, vid, dm, i == 0) for k in KEYS for i, (vid, dm, _) in enumerate(self.versions[k])]
        # within a key the order is newest first: compare per key, in order
        for key in KEYS:
            mine = [(vid, dm, latest) for k, vid, dm, latest in want if k == key]
            theirs_versions = [(v["VersionId"], False, v["IsLatest"]) for v in r.get("Versions", []) if v["Key"] == key]
            theirs_markers = [
                (m["VersionId"], True, m["IsLatest"]) for m in r.get("DeleteMarkers", []) if m["Key"] == key
            ]
            assert sorted(theirs_versions + theirs_markers) == sorted(mine)
            assert [t for t in mine if not t[1]] == theirs_versions  # Versions keep newest-first order
        assert len(got) == len(want)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_versioning_matches_model(s3) -> None:
    VersioningModel.s3 = s3
    runner = VersioningModel.TestCase
    runner.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner().runTest()
