"""Slow and greedy clients: connection timeouts and per-process caps.

aiohttp bounds what a client sends (line and header sizes) but not how slowly
it sends it, and has no read-header timeout at all: a client that opens a
socket and trickles a request head, or never sends one, holds the socket (and
a file descriptor) for as long as it likes. Every gateway process therefore
serves through ``GuardedRunner``, which adds:

* **read-header timeout** (``server.read_header_timeout``): from the first
  byte of a request head to its last; past it the connection is closed (as
  Go's ``ReadHeaderTimeout``, which MinIO sets);
* **idle timeout** (``server.idle_timeout``): a connection with no request in
  progress and no byte of a new one is closed after this long (from its
  opening or the end of its last request);
* **connection cap** (``server.max_connections``): a connection past it is
  answered 503 SlowDown (S3 XML, ``Connection: close``) and closed at once;
* **request cap** (``server.max_requests``, ``request_limit_middleware``):
  requests in progress past it are answered 503 SlowDown; health probes are
  exempt, so an overloaded gateway is not also taken for a dead one.

The body-progress timeout (``server.read_timeout``: the next piece of a
request body) is enforced where bodies are read (``app.RequestPayload``,
``ops.read_body``), because only the reader knows it is waiting for the
client rather than for storage.

The per-connection state is kept by a thin protocol wrapper around aiohttp's
own ``RequestHandler``: it notes when bytes arrive and forwards everything,
so aiohttp's parsing and keep-alive logic run unchanged. Timers are
``loop.call_at`` handles, one per connection, re-armed on each transition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .errors import S3Error, render

log = logging.getLogger(__name__)

#: paths never refused by the request cap (liveness and readiness probes)
EXEMPT_PREFIXES = ("/health/", "/minio/health/")


@dataclass(frozen=True)
class Limits:
    read_header_timeout: float = 30.0  # 0: none
    idle_timeout: float = 30.0  # 0: none
    max_connections: int = 4096  # 0: no cap
    max_requests: int = 1024  # 0: no cap


def slow_down_body(resource: str = "/") -> bytes:
    return render(S3Error("SlowDown"), resource, "0")


def _canned_slow_down() -> bytes:
    body = slow_down_body()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nServer: s3gw\r\nContent-Type: application/xml\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Conn:
    """One connection's state: requests in progress and the one timer that may close it."""

    __slots__ = ("handler", "busy", "head_started", "timer")

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.busy = 0
        self.head_started = False
        self.timer: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Watched(asyncio.Protocol):
    """Forwards every protocol event to aiohttp's handler; tells the guard when bytes arrive."""

    def __init__(self, server: GuardedServer, inner: RequestHandler) -> None:
        self._server = server
        self._inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._server._data(self._inner)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedServer(web.Server):
    """aiohttp's low-level server with the timeouts and caps of ``Limits``."""

    def __init__(self, handler: Any, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(self._tracked(handler), **kwargs)
        self.limits = limits
        self.conns: dict[RequestHandler, _Conn] = {}
        self.refused = 0  # connections answered 503 at the cap
        self.timed_out = 0  # connections closed by a timeout

    # -- aiohttp's hooks ---------------------------------------------------------

    def __call__(self) -> _Watched:  # type: ignore[override]
        return _Watched(self, super().__call__())

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        cap = self.limits.max_connections
        if cap and len(self.conns) >= cap:
            self.refused += 1
            transport.write(_CANNED_SLOW_DOWN)
            handler.force_close()
            return
        conn = self.conns[handler] = _Conn(handler)
        self._arm(conn, self.limits.idle_timeout)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        conn = self.conns.pop(handler, None)
        if conn is not None:
            conn.cancel()
        super().connection_lost(handler, exc)

    # -- state transitions -------------------------------------------------------

    def _tracked(
        self, handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        async def tracked(request: web.BaseRequest) -> web.StreamResponse:
            conn = self.conns.get(request.protocol)
            if conn is None:
                return await handler(request)
            conn.busy += 1  # the head is complete: no timer while it is served
            conn.head_started = False
            conn.cancel()
            try:
                return await handler(request)
            finally:
                conn.busy -= 1
                if conn.busy == 0 and request.protocol in self.conns:
                    self._arm(conn, self.limits.idle_timeout)

        return tracked

    def _data(self, handler: RequestHandler) -> None:
        conn = self.conns.get(handler)
        if conn is None or conn.busy or conn.head_started:
            return
        conn.head_started = True  # the first byte of a new request head
        self._arm(conn, self.limits.read_header_timeout)

    def _arm(self, conn: _Conn, seconds: float) -> None:
        conn.cancel()
        if seconds > 0:
            loop = asyncio.get_running_loop()
            conn.timer = loop.call_at(loop.time() + seconds, self._expire, conn)

    def _expire(self, conn: _Conn) -> None:
        conn.timer = None
        if conn.busy or self.conns.get(conn.handler) is not conn:
            return
        self.timed_out += 1
        log.debug("closing a connection: %s", "request head too slow" if conn.head_started else "idle")
        conn.handler.force_close()


_CANNED_SLOW_DOWN = _canned_slow_down()


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``GuardedServer``.

    aiohttp builds its server in ``AppRunner._make_server``; this takes the
    request handler and factory that server was given (public attributes) and
    builds a ``GuardedServer`` with them and the same options.
    """

    def __init__(self, app: web.Application, *, limits: Limits, **kwargs: Any) -> None:
        # aiohttp's own keep-alive timer is a backstop: it closes a connection idle
        # (or with an unfinished head) for longer than both of ours together
        backstop = limits.idle_timeout + limits.read_header_timeout if limits.idle_timeout else 3630.0
        kwargs.setdefault("keepalive_timeout", backstop)
        super().__init__(app, **kwargs)
        self.limits = limits
        self._handler_cancellation = bool(kwargs.get("handler_cancellation", False))
        # what reaches the server (as BaseRunner keeps it): the runner's own options left out
        self._guard_kwargs = {
            k: v for k, v in kwargs.items() if k not in ("handle_signals", "shutdown_timeout", "handler_cancellation")
        }

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return GuardedServer(
            base.request_handler,
            limits=self.limits,
            request_factory=base.request_factory,
            handler_cancellation=self._handler_cancellation,
            loop=asyncio.get_running_loop(),
            **self._guard_kwargs,
        )


class RequestCap:
    """The in-flight request cap of this process; ``value`` may change while it runs
    (``mc admin config set ALIAS api requests_max=N``). 0: no cap."""

    def __init__(self, value: int) -> None:
        self.value = value


def request_limit_middleware(max_requests: int | RequestCap) -> Callable[..., Awaitable[web.StreamResponse]]:
    """503 SlowDown (S3 XML, Retry-After) for a request past the cap of requests in progress in this process."""
    in_flight = 0
    cap = max_requests if isinstance(max_requests, RequestCap) else RequestCap(max_requests)

    @web.middleware
    async def limit(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        nonlocal in_flight
        limit_now = cap.value
        if not limit_now or request.path.startswith(EXEMPT_PREFIXES):
            return await handler(request)
        if in_flight >= limit_now:
            body = b"" if request.method == "HEAD" else slow_down_body(request.path)
            return web.Response(
                status=503, body=body, headers={"Content-Type": "application/xml", "Retry-After": "1", "Server": "s3gw"}
            )
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return limit
