#!/usr/bin/env python3
"""s3gw against the pinned MinIO, side by side, with one Go load generator.

    python bench/compare.py [--seconds 10] [--rounds 3] [--variants default,workers2,cluster]
                            [--cases put64,get64,...] [--cat] [--json out.json]

Starts, each in its own temporary directory on a free loopback port:

* ``minio``: the pinned MinIO (scripts/go-tools.sh) on nine drive folders with
  ``MINIO_STORAGE_CLASS_STANDARD=EC:3``: the same 6+3 as s3gw's default;
* ``default``: ``s3gw serve --data DIR``, what ``make serve`` runs;
* optionally ``workers1`` (``--workers 1``), ``workers2`` (``--workers 2``) and
  ``cluster`` (a gateway over 9 local ``s3gw node`` processes).

All servers run at once. Each case (``../shared/tools/s3load``, built with
``go build`` when missing) is run against every server in turn, the order
rotated every round, for ``--rounds`` rounds; the table shows the median of
each server and its ratio to MinIO's median (higher is better for s3gw: objects
per second, or MiB/s, which is the same ratio). The two cores are shared by
client and servers and by whatever else runs on the machine: compare ratios
taken in one run, never absolute figures from two runs.

``--baseline DIR``: also run the default ``s3gw serve`` of another checkout
(``git archive COMMIT | tar -x -C DIR``) as server ``baseline``, so a change is
measured before and after in one run; with the ``cluster`` variant, also that
checkout's cluster form, as ``baseline-cluster``.

``--cat``: also time a 1 GiB GET of the embedded default (curl on a presigned
URL, to /dev/null) against ``cat`` of the six data shard files holding the same
bytes, alternately (page cache cold, then warm), and print the GET's share of
cat's speed; and every server's CPU time per MiB of such a GET.

Nothing is asserted: the figures are printed (and written to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
S3LOAD_SRC = REPO.parent.parent / "shared" / "tools" / "s3load"  # ../shared from a worktree /work/wt/NAME
if not S3LOAD_SRC.exists():
    S3LOAD_SRC = REPO.parent / "shared" / "tools" / "s3load"
USER, SECRET = "bench-user", "bench-secret-0123456789"

#: name -> (s3load arguments, label)
CASES: dict[str, tuple[list[str], str]] = {
    "put64": (["-op", "put", "-size", "64MiB", "-c", "4"], "PUT 64 MiB, 4 clients"),
    "get64": (["-op", "get", "-size", "64MiB", "-c", "4"], "GET 64 MiB, 4 clients"),
    "put1": (["-op", "put", "-size", "1MiB", "-c", "8"], "PUT 1 MiB, 8 clients"),
    "get1": (["-op", "get", "-size", "1MiB", "-c", "8"], "GET 1 MiB, 8 clients"),
    "put4k": (["-op", "put", "-size", "4KiB", "-c", "16"], "PUT 4 KiB, 16 clients"),
    "get4k": (["-op", "get", "-size", "4KiB", "-c", "16"], "GET 4 KiB, 16 clients"),
    "head4k": (["-op", "stat", "-size", "4KiB", "-c", "16"], "HEAD 4 KiB, 16 clients"),
    "mixed": (["-op", "mixed", "-size", "1MiB", "-c", "8"], "mixed 1 MiB, 8 clients"),
}

#: s3gw variant -> extra ``serve`` arguments (``cluster`` is built separately)
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "workers1": ["--workers", "1"],
    "workers2": ["--workers", "2"],
    "auto": ["--workers", "auto"],
    "asyncio": ["--event-loop", "asyncio"],
    "uvloop": ["--event-loop", "uvloop"],
    "cluster": [],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server on port {port} not ready in {timeout}s")


@dataclass
class Server:
    name: str
    port: int
    procs: list[subprocess.Popen] = field(default_factory=list)
    data: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def s3gw_env(code: Path = REPO) -> dict[str, str]:
    env = {
        **os.environ,
        "S3GW_ROOT_USER": USER,
        "S3GW_ROOT_PASSWORD": SECRET,
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    env.pop("MINIO_ROOT_USER", None)
    env.pop("MINIO_ROOT_PASSWORD", None)
    return env


def start_s3gw(base: Path, name: str, extra: list[str], code: Path = REPO) -> Server:
    data = base / name
    data.mkdir(parents=True)
    port = free_port()
    log = open(base / f"{name}.log", "ab")
    cmd = [
        sys.executable,
        "-m",
        "s3gw.cli",
        "serve",
        "--data",
        str(data),
        "--address",
        f"127.0.0.1:{port}",
        *VARIANTS.get(name, []),
        *extra,
    ]
    p = subprocess.Popen(cmd, cwd=code, env=s3gw_env(code), stdout=log, stderr=subprocess.STDOUT)
    srv = Server(name, port, [p], data)
    try:
        wait_http(port, "/minio/health/live", p)
    except BaseException:
        srv.stop()
        raise
    return srv


def start_cluster(base: Path, extra: list[str], code: Path = REPO, name: str = "cluster") -> Server:
    root = base / name
    root.mkdir(parents=True)
    secret = root / "secret"
    secret.write_text("bench-cluster-secret-0123456789\n")
    env = s3gw_env(code)
    procs, urls = [], []
    srv = Server(name, free_port(), procs, root)
    try:
        for i in range(9):
            port = free_port()
            log = open(root / f"node{i}.log", "ab")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "s3gw.cli",
                        "node",
                        "--data",
                        str(root / f"node{i}"),
                        "--address",
                        f"127.0.0.1:{port}",
                        "--secret-file",
                        str(secret),
                    ],
                    cwd=code,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        log = open(root / "gateway.log", "ab")
        gw = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3gw.cli",
                "serve",
                "--data",
                str(root / "gateway"),
                "--address",
                f"127.0.0.1:{srv.port}",
                "--nodes",
                ",".join(urls),
                "--secret-file",
                str(secret),
                *extra,
            ],
            cwd=code,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(gw)
        wait_http(srv.port, "/minio/health/cluster", gw)
    except BaseException:
        srv.stop()
        raise
    return srv


def minio_binary(path: str | None) -> str:
    if path:
        return path
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "go-tools.sh"), "minio"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[-1]


def start_minio(base: Path, binary: str) -> Server:
    root = base / "minio"
    for i in range(1, 10):
        (root / f"d{i}").mkdir(parents=True)
    port, console = free_port(), free_port()
    env = {
        **os.environ,
        "MINIO_CI_CD": "1",
        "MINIO_UPDATE": "off",
        "MINIO_BROWSER": "off",
        "MINIO_STORAGE_CLASS_STANDARD": "EC:3",
        "MINIO_ROOT_USER": USER,
        "MINIO_ROOT_PASSWORD": SECRET,
    }
    log = open(base / "minio.log", "ab")
    p = subprocess.Popen(
        [
            binary,
            "server",
            "--quiet",
            "--address",
            f"127.0.0.1:{port}",
            "--console-address",
            f"127.0.0.1:{console}",
            f"{root}/d{{1...9}}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    srv = Server("minio", port, [p], root)
    try:
        wait_http(port, "/minio/health/ready", p)
    except BaseException:
        srv.stop()
        raise
    return srv


def s3load_binary(path: str | None) -> str:
    if path:
        return path
    out = Path(tempfile.gettempdir()) / "s3load"
    if not out.exists():
        subprocess.run(["go", "build", "-o", str(out), "."], cwd=S3LOAD_SRC, check=True)
    return str(out)


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their children, threads included."""
    seen, todo, total = set(), list(pids), 0.0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            continue
    return total


def run_case(s3load: str, srv: Server, args: list[str], seconds: float) -> dict:
    cmd = [
        s3load,
        "-endpoint",
        srv.endpoint,
        "-ak",
        USER,
        "-sk",
        SECRET,
        "-d",
        f"{seconds}s",
        "-bucket",
        "bench",
        *args,
    ]
    # the server's CPU time over the whole run (preparation included: s3load prepares GETs' objects)
    cpu0 = tree_cpu([p.pid for p in srv.procs])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 20 + 300)
    cpu = tree_cpu([p.pid for p in srv.procs]) - cpu0
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout).strip()[-300:], "obj_per_s": 0.0, "mib_per_s": 0.0}
    res = json.loads(lines[-1])
    res["server_cpu_s"] = round(cpu, 2)
    return res


# --------------------------------------------------------------------------- the 1 GiB GET against cat


def presigned_get(srv: Server, bucket: str, key: str) -> str:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{srv.endpoint}",
        aws_access_key_id=USER,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)


def put_big(srv: Server, bucket: str, key: str, size: int) -> None:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{srv.endpoint}",
        aws_access_key_id=USER,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(request_checksum_calculation="when_required"),
    )
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass

    class Zeros:  # a readable of ``size`` pseudo-random bytes, never held whole
        def __init__(self) -> None:
            self.left, self.chunk = size, os.urandom(1 << 20)

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return (self.chunk * (n // len(self.chunk) + 1))[:n]

    s3.upload_fileobj(Zeros(), bucket, key, Config=TransferConfig(multipart_threshold=size + 1))


def evict(paths: list[str]) -> None:
    """Drop these files' pages from the page cache (theirs only: nothing else on the machine is touched)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def get_cpu(srv: Server, repeats: int) -> dict:
    """Server CPU time per MiB of a 1 GiB GET (curl, one stream, warm page cache): what the
    server spends, whatever else the machine's cores are busy with."""
    size = 1 << 30
    put_big(srv, "catbench", "big", size)
    url = presigned_get(srv, "catbench", "big")
    subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)  # warm
    pids = [p.pid for p in srv.procs]
    cpu0, t0 = tree_cpu(pids), time.perf_counter()
    for _ in range(repeats):
        subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
    cpu, wall = tree_cpu(pids) - cpu0, time.perf_counter() - t0
    return {"cpu_ms_per_mib": round(cpu * 1000 / (repeats * 1024), 3), "mib_per_s": round(repeats * 1024 / wall, 1)}


def cat_vs_get(srv: Server, repeats: int) -> dict:
    """A 1 GiB GET (curl on a presigned URL, to /dev/null) against ``cat`` of the six data shard
    files that hold its bytes, alternately; ``cold``: the object's shard files are evicted from
    the page cache before each read (the drive's speed), ``warm``: they are not (memory's)."""
    size = 1 << 30
    put_big(srv, "catbench", "big", size)
    url = presigned_get(srv, "catbench", "big")
    every = sorted(
        str(p) for p in Path(srv.data).glob("drive*/shards/*/*.[0-9]") if p.stat().st_size > size // 6
    )  # this object's shards (run before the cases)
    data = [p for p in every if int(p.rsplit(".", 1)[1]) < 6]
    out: dict = {"shard_files": len(data)}
    shard_mib = sum(os.path.getsize(p) for p in data) / (1 << 20)
    for mode in ("cold", "warm"):
        get_t, cat_t = [], []
        for _ in range(repeats):
            if mode == "cold":
                evict(every)
            t = time.perf_counter()
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
            get_t.append(time.perf_counter() - t)
            if mode == "cold":
                evict(every)
            t = time.perf_counter()
            subprocess.run(["cat", *data], stdout=subprocess.DEVNULL, check=True)
            cat_t.append(time.perf_counter() - t)
        get_mibs = 1024 / statistics.median(get_t)
        cat_mibs = shard_mib / statistics.median(cat_t)
        out[mode] = {
            "get_mib_per_s": round(get_mibs, 1),
            "cat_mib_per_s": round(cat_mibs, 1),
            "ratio": round(get_mibs / cat_mibs, 2),
        }
    return out


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10, help="seconds per case and server")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--variants", default="default", help=f"s3gw forms: {','.join(VARIANTS)}")
    ap.add_argument("--cases", default=",".join(CASES), help=f"cases: {','.join(CASES)}")
    ap.add_argument("--s3gw-args", default="", help="extra arguments for every s3gw serve")
    ap.add_argument("--cat", action="store_true", help="also time a 1 GiB GET against cat of its shard files")
    ap.add_argument("--minio-bin", default=os.environ.get("MINIO_BIN"))
    ap.add_argument("--s3load", default=os.environ.get("S3LOAD_BIN"))
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument(
        "--baseline",
        help="also run `s3gw serve` (its default) from this other checkout, as server 'baseline': "
        "before/after ratios in one run (e.g. a `git archive` of the commit before a change); "
        "with --variants cluster also its cluster form, as 'baseline-cluster'",
    )
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    cases = [c for c in args.cases.split(",") if c]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c}")
    extra = args.s3gw_args.split()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # servers are stopped on the way out
    s3load = s3load_binary(args.s3load)
    base = Path(tempfile.mkdtemp(prefix="s3gw-compare-"))
    servers: list[Server] = []
    try:
        servers.append(start_minio(base, minio_binary(args.minio_bin)))
        if args.baseline:
            servers.append(start_s3gw(base, "baseline", extra, Path(args.baseline).resolve()))
            if "cluster" in variants:
                servers.append(start_cluster(base, extra, Path(args.baseline).resolve(), "baseline-cluster"))
        for v in variants:
            servers.append(start_cluster(base, extra) if v == "cluster" else start_s3gw(base, v, extra))
        cat = (
            cat_vs_get(next(s for s in servers if s.name == "default"), 5)
            if args.cat and "default" in variants
            else None
        )
        cpu = {s.name: get_cpu(s, 3) for s in servers} if args.cat else None
        results: dict[str, dict[str, list[dict]]] = {c: {s.name: [] for s in servers} for c in cases}
        for r in range(args.rounds):
            for c in cases:
                order = servers[r % len(servers) :] + servers[: r % len(servers)]
                for srv in order:
                    res = run_case(s3load, srv, CASES[c][0], args.seconds)
                    results[c][srv.name].append(res)
                    print(
                        f"# round {r + 1} {c:7s} {srv.name:9s} {res.get('obj_per_s', 0):9.1f} obj/s "
                        f"{res.get('mib_per_s', 0):8.1f} MiB/s  server CPU {res.get('server_cpu_s', 0):6.1f} s"
                        + (f"  ERROR {res['error']}" if "error" in res else ""),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for s in servers:
            s.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    def med(c: str, name: str) -> float:
        return statistics.median(x["obj_per_s"] for x in results[c][name])

    cmd = "python bench/compare.py " + " ".join(sys.argv[1:])
    print(f"\n`{cmd}` ({args.rounds} rounds of {args.seconds:g} s per case and server; medians)\n")
    names = [s.name for s in servers if s.name != "minio"]
    print(
        "| case | MinIO | "
        + " | ".join(f"{n}" for n in names)
        + " | "
        + " | ".join(f"{n} / MinIO" for n in names)
        + " |"
    )
    print("|---|---:|" + "---:|" * (2 * len(names)))

    def fmt(c: str, x: float) -> str:
        """objects/s as MiB/s for PUTs and GETs of 1 and 64 MiB, as objects/s for the rest"""
        a = CASES[c][0]
        mib = (a.count("64MiB") * 64 + a.count("1MiB")) if a[a.index("-op") + 1] in ("put", "get") else 0
        return f"{x * mib:,.0f} MiB/s" if mib else f"{x:,.0f} obj/s"

    for c in cases:
        m = med(c, "minio")
        cells = [fmt(c, med(c, n)) for n in names]
        ratios = [f"**{med(c, n) / m:.2f}**" if m else "-" for n in names]
        print(f"| {CASES[c][1]} | {fmt(c, m)} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    if cat:
        print(
            f"\n1 GiB GET of the embedded default (curl) against cat of its {cat['shard_files']} data "
            "shard files, medians of 5:\n\n| page cache | GET | cat | GET / cat |\n|---|---:|---:|---:|"
        )
        for mode in ("cold", "warm"):
            c = cat[mode]
            print(
                f"| {mode} | {c['get_mib_per_s']:,.0f} MiB/s | {c['cat_mib_per_s']:,.0f} MiB/s | **{c['ratio']:.2f}** |"
            )
    if cpu:
        print(
            "\nServer CPU per MiB of a 1 GiB GET (curl, one stream, warm page cache; all the server's "
            "processes and threads):\n\n| server | CPU ms per MiB | MiB/s |\n|---|---:|---:|"
        )
        for name, c in cpu.items():
            print(f"| {name} | {c['cpu_ms_per_mib']:.2f} | {c['mib_per_s']:,.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": cmd, "results": results, "cat": cat, "cpu": cpu}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
