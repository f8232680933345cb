"""nodes/tls.py: the reloading server context, against real TLS handshakes on loopback."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from nodes.tls import ReloadingTLS, leaf_fingerprint
from tests.tlscerts import issue, presented


async def serving(tls: ReloadingTLS) -> tuple[asyncio.Server, int]:
    srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls.context)
    return srv, srv.sockets[0].getsockname()[1]


async def test_new_connections_see_a_reloaded_pair_and_a_bad_one_changes_nothing(tmp_path, caplog) -> None:
    first, second, third = issue(), issue(), issue()
    paths = first.write(str(tmp_path))
    tls = ReloadingTLS(paths["cert"], paths["key"], interval=0)
    assert tls.fingerprint == first.fingerprint == leaf_fingerprint(first.cert_pem)
    srv, port = await serving(tls)
    async with srv:
        assert await asyncio.to_thread(presented, port) == first.fingerprint
        assert tls.check() is None  # the same bytes: nothing to do
        second.write(str(tmp_path))
        assert tls.check() is True and tls.reloads == 1
        assert await asyncio.to_thread(presented, port) == second.fingerprint
        # half a renewal: the new certificate beside the old key
        with open(paths["cert"], "wb") as f:
            f.write(third.cert_pem)
        with caplog.at_level(logging.ERROR, logger="nodes.tls"):
            assert tls.check() is False
        assert "do not load" in caplog.text and second.fingerprint in caplog.text
        assert tls.check() is None  # logged once per content, not at every check
        assert await asyncio.to_thread(presented, port) == second.fingerprint
        with open(paths["key"], "wb") as f:
            f.write(third.key_pem)
        assert tls.check() is True
        assert await asyncio.to_thread(presented, port) == third.fingerprint
        # a file gone: reload() (SIGHUP) keeps what is served
        os.unlink(paths["key"])
        assert tls.reload() is False and tls.failures == 2
        assert await asyncio.to_thread(presented, port) == third.fingerprint


def test_a_pair_that_does_not_load_at_start_raises(tmp_path) -> None:
    paths = issue().write(str(tmp_path))
    with open(paths["key"], "wb") as f:
        f.write(issue().key_pem)
    with pytest.raises(OSError):  # ssl.SSLError: the key does not match the certificate
        ReloadingTLS(paths["cert"], paths["key"])
    with pytest.raises(OSError):
        ReloadingTLS(str(tmp_path / "missing.crt"), paths["key"])
