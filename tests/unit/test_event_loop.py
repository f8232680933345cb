"""server.event_loop (``serve --event-loop``): uvloop when installed (auto), or asyncio's own loop."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from s3gw.cli import build_parser, serve_config
from s3gw.server import run


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_auto_and_uvloop_run_on_uvloop_and_asyncio_on_asyncio() -> None:
    assert run("auto", loop_type()) is uvloop.Loop
    assert run("uvloop", loop_type()) is uvloop.Loop
    assert not issubclass(run("asyncio", loop_type()), uvloop.Loop)


def test_the_flag_reaches_the_server_config(tmp_path) -> None:
    parse = build_parser().parse_args
    assert serve_config(parse(["serve", "--data", str(tmp_path)])).event_loop == "auto"
    assert serve_config(parse(["serve", "--data", str(tmp_path), "--event-loop", "asyncio"])).event_loop == "asyncio"
    with pytest.raises(SystemExit):
        serve_config(parse(["serve", "--data", str(tmp_path), "--event-loop", "trio"]))
