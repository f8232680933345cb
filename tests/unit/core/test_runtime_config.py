"""Run-time configuration (s3gw/core/runtime_config.py) over a real SQLite store: two
processes' views (two RuntimeConfig on one store), appliers, the KV format, refusals."""

from __future__ import annotations

import pytest

from s3gw.core.runtime_config import ConfigError, NoSuchRestore, RuntimeConfig, parse_kv
from s3gw.meta.sqlite import SqliteMeta

STARTUP = {
    ("api", "requests_max"): 1024,
    ("api", "cors_allow_origin"): ("*",),
    ("api", "stale_uploads_expiry"): 86400.0,
    ("api", "stale_uploads_cleanup_interval"): 21600.0,
    ("heal", "interval"): 5.0,
    ("scanner", "cycle"): 3600.0,
    ("scanner", "pace"): 0.01,
    ("scanner", "deep_every"): 0,
    ("site", "region"): "us-east-1",
    ("storage_class", "standard"): "EC:3",
}


@pytest.fixture
async def meta(tmp_path):
    m = SqliteMeta(str(tmp_path / "meta.db"))
    await m.open()
    yield m
    await m.close()


async def test_set_apply_reset_restore(meta: SqliteMeta) -> None:
    a, b = RuntimeConfig(meta, STARTUP), RuntimeConfig(meta, STARTUP)
    seen: list[object] = []
    b.on("api", "requests_max", seen.append)
    await b.refresh()
    assert seen == [1024]  # applied once, at start
    await a.set('api requests_max=8 cors_allow_origin="https://a.example,https://b.example"')
    assert a.value("api", "cors_allow_origin") == ("https://a.example", "https://b.example")
    await b.refresh()  # the other process, at its next poll
    assert seen == [1024, 8]
    await b.refresh()
    assert seen == [1024, 8]  # unchanged: not applied again
    assert a.render("api") == (
        "api requests_max=8 cors_allow_origin=https://a.example,https://b.example"
        " stale_uploads_expiry=24h stale_uploads_cleanup_interval=6h\n"
    )
    await a.set("heal interval=250ms\nscanner cycle=1m30s")
    assert a.render("heal") == "heal interval=250ms\n" and a.value("scanner", "cycle") == 90.0
    rid = (await a.history(1))[0][0]
    await a.reset("api requests_max")
    await b.refresh()
    assert seen[-1] == 1024 and a.value("api", "cors_allow_origin") == ("https://a.example", "https://b.example")
    await a.reset("heal\nscanner")
    assert a.value("heal", "interval") == 5.0
    await a.restore(rid)
    assert a.value("scanner", "cycle") == 90.0
    with pytest.raises(NoSuchRestore):
        await a.restore("nope")


@pytest.mark.parametrize(
    "text,words",
    [
        ("site region=eu", "is static"),
        ("api nope=1", "found invalid keys (nope=1)"),
        ("xyz a=b", "unknown sub-system"),
        ("heal interval=1ms", "at least"),
        ("heal interval=10", "invalid duration"),
        ("api requests_max=1e3", "whole"),
        ("api:target requests_max=1", "multiple targets"),
        ('api requests_max=1 "x', "invalid config input"),
        ("api cors_allow_origin=", "not a list of origins"),
    ],
)
async def test_refused(meta: SqliteMeta, text: str, words: str) -> None:
    rc = RuntimeConfig(meta, STARTUP)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        await rc.set(text)
    assert await meta.get_config() == {}  # nothing of a refused change


async def test_an_export_imports_back(meta: SqliteMeta) -> None:
    rc = RuntimeConfig(meta, STARTUP)
    await rc.set(rc.render())  # static keys unchanged: accepted
    assert parse_kv(rc.render("site")) == [("site", {"region": "us-east-1"})]
