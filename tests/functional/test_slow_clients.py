"""Slow and greedy clients (security issue, hole 7): raw sockets against gateways with small limits.

A client that trickles a request head, sits idle, stalls a body, or opens
more connections or requests than a process allows is cut off or answered
503 SlowDown; the limits are set small here with the ``s3gw serve`` flags.
Deadlines are generous (tests/waiting.py): nothing asserts how fast the
machine is, only that the server acts.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server
from tests.functional.rawhttp import signed_request
from tests.sigv4_client import amz_now, sign
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Every timeout one second."""
    srv = start_server(
        str(tmp_path_factory.mktemp("slow-quick")),
        "--read-header-timeout",
        "1",
        "--idle-timeout",
        "1",
        "--body-read-timeout",
        "1",
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Long timeouts, two requests and four connections per process."""
    srv = start_server(
        str(tmp_path_factory.mktemp("slow-capped")),
        "--read-header-timeout",
        "120",
        "--idle-timeout",
        "120",
        "--body-read-timeout",
        "120",
        "--max-requests",
        "2",
        "--max-connections",
        "4",
    )
    yield srv
    srv.stop()


def connect(server: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_peer(s: socket.socket) -> bool:
    """True once the server has closed the connection (reads EOF or a reset); data before it is skipped."""
    s.setblocking(False)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def health(s: socket.socket) -> bytes:
    s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(65536)


def signed_put_head(server: Server, path: str, length: int) -> bytes:
    headers, *_ = sign(
        "PUT",
        path,
        [],
        {"host": f"127.0.0.1:{server.port}"},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
        amz_now(),
    )
    headers["content-length"] = str(length)
    return (f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


# ---------------------------------------------------------------- timeouts


def test_half_a_request_head_is_cut_off(quick: Server) -> None:
    s = connect(quick)
    s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    wait_until(lambda: closed_by_peer(s), "the server to close a connection with half a request head")


def test_a_trickled_request_head_is_cut_off(quick: Server) -> None:
    # a byte now and then keeps an idle timer happy, not the read-header timeout
    s = connect(quick)
    s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")

    def trickle() -> bool:
        try:
            s.sendall(b"a")
        except OSError:
            return True
        return closed_by_peer(s)

    wait_until(trickle, "the server to close a connection trickling its request head", interval=0.1)


def test_a_connection_that_never_speaks_is_closed(quick: Server) -> None:
    s = connect(quick)
    wait_until(lambda: closed_by_peer(s), "the server to close a silent connection")


def test_an_idle_keep_alive_connection_is_closed(quick: Server) -> None:
    s = connect(quick)
    assert health(s).startswith(b"HTTP/1.1 200")
    wait_until(lambda: closed_by_peer(s), "the server to close an idle keep-alive connection")


def test_a_stalled_body_gets_request_timeout(quick: Server) -> None:
    bucket = "slow-body"
    assert signed_request(quick, "PUT", f"/{bucket}").status in (200, 409)
    s = connect(quick)
    s.sendall(signed_put_head(quick, f"/{bucket}/stalled", 1000) + b"x" * 10)  # 10 of 1000 bytes, then nothing
    got = bytearray()

    def answered() -> bool:
        try:
            data = s.recv(65536)
        except OSError:
            return True
        got.extend(data)
        return not data or b"</Error>" in got

    s.settimeout(1)
    wait_until(lambda: _ignore_timeout(answered), "the server to give up on a stalled body", interval=0)
    assert not got or (got.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in got), bytes(got[:300])
    assert signed_request(quick, "HEAD", f"/{bucket}/stalled").status == 404


def _ignore_timeout(fn) -> bool:
    try:
        return fn()
    except TimeoutError:
        return False


# ---------------------------------------------------------------- caps


def test_requests_past_the_cap_get_slow_down(capped: Server) -> None:
    assert signed_request(capped, "PUT", "/capped").status in (200, 409)
    # two uploads in progress, each waiting for a body that does not come
    stalled = [connect(capped) for _ in range(2)]
    for i, s in enumerate(stalled):
        s.sendall(signed_put_head(capped, f"/capped/held{i}", 1000) + b"x")

    def third() -> tuple[int, bytes]:
        r = signed_request(capped, "GET", "/capped")
        return r.status, r.body

    status, body = wait_until(third, "a request past the cap to be refused", until=lambda r: r[0] == 503)
    assert b"<Code>SlowDown</Code>" in body
    # health probes are never refused
    s = connect(capped)
    assert health(s).startswith(b"HTTP/1.1 200")
    s.close()
    for s in stalled:
        s.close()
    wait_until(
        lambda: signed_request(capped, "GET", "/capped").status == 200,
        "requests to be served again once the uploads went away",
    )


def test_connections_past_the_cap_get_slow_down(capped: Server) -> None:
    held = []

    def fill() -> bool:
        s = connect(capped)
        reply = health(s)
        if reply.startswith(b"HTTP/1.1 200"):
            held.append(s)
        else:
            s.close()
        return len(held) == 4

    wait_until(fill, "four connections to be accepted")
    extra = connect(capped)
    reply = b""
    while b"</Error>" not in reply:
        data = extra.recv(65536)
        if not data:
            break
        reply += data
    assert reply.startswith(b"HTTP/1.1 503") and b"<Code>SlowDown</Code>" in reply, reply[:300]
    assert wait_until(lambda: closed_by_peer(extra), "the refused connection to be closed")
    held.pop().close()
    wait_until(
        lambda: health(connect(capped)).startswith(b"HTTP/1.1 200"), "a connection to be accepted once one went away"
    )
    for s in held:
        s.close()
