"""Reliability of the embedded form: a GET in progress is never cut short by an overwrite
or a delete, and write intents settle in fault-free runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.test_durability import SlowPut
from tests.reliability_helpers import MiB, Churn, read_under_churn
from tests.waiting import wait_until


def admin_info(srv: Server) -> dict:
    cp = subprocess.run([sys.executable, "-m", "s3gw.cli", "admin", "info", "--json", "--endpoint", srv.url],
                        env={**os.environ, "S3GW_ROOT_USER": srv.access_key, "S3GW_ROOT_PASSWORD": srv.secret_key},
                        capture_output=True, text=True, timeout=120, check=True)
    return json.loads(cp.stdout)


@pytest.fixture
def own(tmp_path, request):
    srv = start_server(str(tmp_path), *getattr(request, "param", ()))
    yield srv
    srv.stop()


# -------------------------------------------------------------------- 1: reads never cut short

@pytest.mark.parametrize("own", [(), ("--gc-grace", "0")], indirect=True, ids=["gc-grace", "in-process"])
def test_get_is_never_cut_short_by_overwrites_and_deletes(own: Server) -> None:
    """A 20 MiB GET read slowly while another client overwrites and deletes the key over and
    over returns the whole original every time: protected by the GC grace (default), and
    with no grace at all by the gateway's own record of the reads in progress."""
    s3 = s3_client(own)
    s3.create_bucket(Bucket="reads")
    original = os.urandom(20 * MiB)
    churn = Churn(lambda body: s3.put_object(Bucket="reads", Key="big", Body=body),
                  lambda: s3.delete_object(Bucket="reads", Key="big"))
    problems = read_under_churn(own.url, "reads", "big", original, churn,
                                put_original=lambda: s3.put_object(Bucket="reads", Key="big", Body=original))
    assert problems == []


# -------------------------------------------------------------------- 5: write intents settle

def test_write_intents_settle_in_a_fault_free_run(own: Server) -> None:
    """Multipart parts (completed, aborted, replaced), a PUT whose Content-MD5 does not match,
    a PUT whose client goes away: no write intent is left once they are done (the orphan
    reaper's grace is an hour here, so only the writes themselves can clear them)."""
    s3 = s3_client(own)
    s3.create_bucket(Bucket="intents")
    part = os.urandom(5 * MiB)
    up = s3.create_multipart_upload(Bucket="intents", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)    # replaced
    e1 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket="intents", Key="mp", UploadId=up, PartNumber=2, Body=b"tail" * 1000)["ETag"]
    s3.complete_multipart_upload(Bucket="intents", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    up2 = s3.create_multipart_upload(Bucket="intents", Key="gone")["UploadId"]
    s3.upload_part(Bucket="intents", Key="gone", UploadId=up2, PartNumber=1, Body=part)
    s3.abort_multipart_upload(Bucket="intents", Key="gone", UploadId=up2)
    up3 = s3.create_multipart_upload(Bucket="intents", Key="copy")["UploadId"]
    e3 = s3.upload_part_copy(Bucket="intents", Key="copy", UploadId=up3, PartNumber=1,
                             CopySource={"Bucket": "intents", "Key": "mp"})["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket="intents", Key="copy", UploadId=up3,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e3}]})
    s3.copy_object(Bucket="intents", Key="copied", CopySource={"Bucket": "intents", "Key": "mp"})
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="intents", Key="bad-md5", Body=os.urandom(MiB), ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert e.value.response["Error"]["Code"] == "BadDigest"
    put = SlowPut(own.port, "intents", "cut-off", own.access_key, own.secret_key)
    put.close()                                           # the client goes away mid-body
    s3.put_object(Bucket="intents", Key="plain", Body=os.urandom(MiB))
    wait_until(lambda: admin_info(own)["healing"]["write_intents"], "the write intents to settle",
               until=lambda n: n == 0)
