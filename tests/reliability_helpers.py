"""Helpers shared by the reliability tests (embedded, cluster and scaled-out forms):
a slow reader of one GET, and a writer that overwrites and deletes the key under it."""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.sigv4_client import amz_now, sign

MiB = 1 << 20


def slow_get(
    url: str,
    bucket: str,
    key: str,
    *,
    chunk: int = 256 * 1024,
    pause: float = 0.05,
    started: threading.Event | None = None,
) -> tuple[int, int, bytes]:
    """GET ``key`` and read the body ``chunk`` bytes at a time with ``pause`` seconds between reads
    (a slow client: the gateway reads stripes only as the socket drains). Returns (status,
    Content-Length, the bytes read until the body ended or the connection was cut);
    ``started`` is set once the headers and the first chunk are in."""
    u = urlsplit(url)
    path = f"/{bucket}/{key}"
    host = f"{u.hostname}:{u.port}"
    headers, *_ = sign("GET", path, [], {"host": host}, "UNSIGNED-PAYLOAD", ACCESS_KEY, SECRET_KEY, amz_now())
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        length = int(resp.headers.get("Content-Length", "-1"))
        got = bytearray()
        try:
            while True:
                piece = resp.read(chunk)
                if not piece:
                    break
                got += piece
                if started is not None and not started.is_set():
                    started.set()
                time.sleep(pause)
        except (http.client.IncompleteRead, ConnectionError, OSError) as e:
            if isinstance(e, http.client.IncompleteRead):
                got += e.partial
        return resp.status, length, bytes(got)
    finally:
        if started is not None:
            started.set()
        conn.close()


class Churn:
    """Overwrite (with other bytes) and delete one key again and again, from another
    client, while a read goes on; counts what it did."""

    def __init__(self, put: Callable[[bytes], object], delete: Callable[[], object], size: int = MiB) -> None:
        self.put, self.delete, self.size = put, delete, size
        self.done = 0
        self.errors: list[BaseException] = []

    def run(self, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            try:
                if i % 3 == 2:
                    self.delete()
                else:
                    self.put(bytes([i % 251]) * (self.size + i))
                self.done += 1
            except BaseException as e:  # reported by the test
                self.errors.append(e)
                return
            i += 1


def read_under_churn(
    url: str,
    bucket: str,
    key: str,
    original: bytes,
    churn: Churn,
    rounds: int = 3,
    put_original: Callable[[], object] | None = None,
) -> list[str]:
    """``rounds`` times: store ``original``, start a slow GET of it, and overwrite/delete the key
    (``churn``) while the GET is read. Returns what went wrong (empty: every GET returned the
    whole original, byte for byte)."""
    digest = hashlib.sha256(original).hexdigest()
    problems: list[str] = []
    for r in range(rounds):
        if put_original is not None:
            put_original()
        started = threading.Event()
        result: dict[str, tuple[int, int, bytes]] = {}
        reader = threading.Thread(target=lambda: result.setdefault("r", slow_get(url, bucket, key, started=started)))
        reader.start()
        assert started.wait(120), "the GET never started"
        before = churn.done
        stop = threading.Event()
        runner = threading.Thread(target=churn.run, args=(stop,), daemon=True)
        runner.start()
        reader.join(300)
        stop.set()
        runner.join(120)
        if churn.errors:
            raise churn.errors[0]
        status, length, body = result["r"]
        changes = churn.done - before
        if status != 200 or length != len(original) or hashlib.sha256(body).hexdigest() != digest:
            problems.append(
                f"round {r}: status {status}, Content-Length {length}, read {len(body)} bytes "
                f"({'the original' if body == original else 'not the original'}) while the key "
                f"changed {changes} times"
            )
        elif changes == 0:
            problems.append(f"round {r}: the key did not change during the read (the test proves nothing)")
    return problems


def churned_reads(url: str, writer: Any, bucket: str, key: str = "big") -> list[str]:
    """``read_under_churn`` of a new 20 MiB object read slowly from ``url`` while ``writer`` (a
    boto3 client: of the same gateway or of another) stores it and then overwrites and deletes
    it again and again. Returns what went wrong (empty: every GET returned the whole original)."""
    original = os.urandom(20 * MiB)
    churn = Churn(
        lambda body: writer.put_object(Bucket=bucket, Key=key, Body=body),
        lambda: writer.delete_object(Bucket=bucket, Key=key),
    )
    return read_under_churn(
        url, bucket, key, original, churn, put_original=lambda: writer.put_object(Bucket=bucket, Key=key, Body=original)
    )


def sizes_by_data_id(files: Iterable[str]) -> dict[str, list[int]]:
    """Data id -> the sizes of its shard ``files`` (a file collected meanwhile is left out)."""
    out: dict[str, list[int]] = {}
    for f in files:
        try:
            size = os.path.getsize(f)
        except FileNotFoundError:  # collected meanwhile
            continue
        out.setdefault(os.path.basename(f).rsplit(".", 1)[0], []).append(size)
    return out
