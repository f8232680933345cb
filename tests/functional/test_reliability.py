"""Reliability of the embedded form: a GET in progress is never cut short by an overwrite
or a delete."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.reliability_helpers import MiB, Churn, read_under_churn


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
