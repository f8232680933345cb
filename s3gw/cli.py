"""The ``s3gw`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
from collections.abc import Callable
from typing import Any

from nodes.protocol import load_secret
from nodes.server import IDLE_TIMEOUT as NODE_IDLE_TIMEOUT
from nodes.server import run_node
from nodes.tls import RELOAD_INTERVAL, ReloadingTLS

from . import admin_cli, config
from .admin_client import AdminClient, print_info, progress_line
from .api.observe import ACCESS_LOGGER
from .config import ServerConfig
from .credentials import root_credentials
from .meta.base import MetaError
from .server import TLSSetupError, UnsafeListen, describe_meta, make_store, run, serve
from .workers import run_workers

log = logging.getLogger(__name__)


def parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    try:
        return (host or "127.0.0.1").strip("[]"), int(port)
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected HOST:PORT") from e


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and flag (tests parse docker-compose.yml's commands with this)."""
    parser = argparse.ArgumentParser(prog="s3gw", description="S3-compatible object store")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "serve",
        help="run the S3 gateway",
        description="Run the S3 gateway. Every option is a key of the configuration "
        "(docs/metadata.md): flags given win over the file and the environment.",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration (docs/metadata.md); default $S3GW_CONFIG")
    p.add_argument(
        "--address",
        type=parse_address,
        metavar="HOST:PORT",
        help="server.host and server.port (default 127.0.0.1:8080)",
    )
    add_config_flags(p)

    n = sub.add_parser("node", help="run a storage node (shards on its own drives; knows nothing of S3)")
    n.add_argument("--data", action="append", required=True, help="a drive directory (repeat for more drives)")
    n.add_argument(
        "--address", type=parse_address, default=("127.0.0.1", 9090), help="HOST:PORT (default 127.0.0.1:9090)"
    )
    n.add_argument("--secret-file", required=True, help="file holding the cluster secret")
    n.add_argument("--node-id", help="stable node id (default: HOST:PORT); drive ids are <node id>/dN")
    n.add_argument("--reserve-mb", type=int, default=0, help="refuse new shards below this much free space")
    n.add_argument("--no-fsync", action="store_true", help="skip fsync (benchmarks and tests only)")
    n.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain: serve HTTPS (gateways use https:// URLs)")
    n.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    n.add_argument(
        "--tls-reload-interval",
        type=config.parse_duration,
        default=RELOAD_INTERVAL,
        metavar="DURATION",
        help=f"check the certificate files this often and serve a new pair when they change (SIGHUP: at once; "
        f"default {RELOAD_INTERVAL:g}s; 0: only on SIGHUP)",
    )
    n.add_argument(
        "--idle-timeout",
        type=config.parse_duration,
        default=NODE_IDLE_TIMEOUT,
        metavar="DURATION",
        help=f"close a connection idle (or trickling a request head) this long "
        f"(default {NODE_IDLE_TIMEOUT:g}s; 0: never)",
    )
    n.add_argument("--log-level", default="INFO")

    a = sub.add_parser("admin", help="cluster administration (talks to a running gateway)")
    asub = a.add_subparsers(dest="admin_command", required=True)
    for name, hlp in (
        ("heal", "verify and rebuild shards, with progress and a summary"),
        ("info", "nodes, drives and healing state"),
    ):
        ap = asub.add_parser(name, help=hlp)
        ap.add_argument("--endpoint", default=os.environ.get("S3GW_ENDPOINT", "http://127.0.0.1:8080"))
        ap.add_argument("--region", default="us-east-1")
        ap.add_argument("--json", action="store_true", help="print JSON")
        ap.add_argument("--log-level", default="WARNING")
        if name == "heal":
            ap.add_argument("target", nargs="?", default="", metavar="BUCKET[/PREFIX]")
            ap.add_argument("--dry-run", action="store_true", help="report what would be healed, change nothing")
            ap.add_argument("--deep", action="store_true", help="check every block's bitrot hash, not just existence")
    admin_cli.add_admin_parsers(asub)  # user, policy, maintenance, export-manifest, backup, restore

    c = sub.add_parser("config", help="configuration file tools")
    csub = c.add_subparsers(dest="config_command", required=True)
    cc = csub.add_parser("check", help="validate a configuration file without starting anything")
    cc.add_argument("file")
    cc.add_argument("--show", action="store_true", help="print every key with its value and origin")
    cc.add_argument("--log-level", default="WARNING")

    m = sub.add_parser("meta", help="metadata store tools")
    msub = m.add_subparsers(dest="meta_command", required=True)
    mm = msub.add_parser("migrate", help="apply pending schema migrations (SQLite or PostgreSQL)")
    mm.add_argument("--config", metavar="FILE", help="YAML configuration naming the database")
    mm.add_argument("--data", help="data directory (the embedded SQLite metadata; server.data)")
    mm.add_argument("--log-level", help="log level (log.level; default info)")
    return parser


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One option per schema key that has a flag (``config.SCHEMA``: its older names too), parsed by the
    key's own parser; unset unless given, so the file and the environment still apply."""
    for key in config.SCHEMA:
        if not key.flag:
            continue
        shown = config.shown(key)
        # a repeated flag gives one item each time (checked with the whole list, when it is set)
        p.add_argument(
            key.flag,
            *key.old_flags,
            dest=key.dest,
            type=str if key.many else _flag_type(key),
            metavar=key.metavar or None,
            action="append" if key.many else "store",
            help=f"{key.help} ({key.path}{'' if shown == '—' else f'; default {shown}'})".replace("%", "%%"),
        )


def _flag_type(key: config.Key) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return key.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = key.path
    return parse


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, (args.log_level or "INFO").upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    if args.command == "node":
        return run_node_command(args)
    if args.command == "admin":
        if args.admin_command in admin_cli.OPS_COMMANDS:
            return admin_cli.run(args, root_credentials())
        return run_admin_command(args)
    if args.command == "config":
        return run_config_check(args)
    if args.command == "meta":
        return run_meta_migrate(args)
    if args.command == "serve":
        try:
            cfg = serve_config(args)
        except (OSError, ValueError) as e:  # config.ConfigError is a ValueError
            print(f"s3gw: {e}", file=sys.stderr)
            return 2
        logging.getLogger().setLevel(cfg.log_level.upper())
        try:
            if cfg.workers > 1:
                return run_workers(cfg)
            run(cfg.event_loop, serve(cfg))
        # unsafe listen; a certificate that does not load; schema too new/old; database unreachable
        except (UnsafeListen, TLSSetupError, MetaError) as e:
            print(f"s3gw: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
    return 0


def _load_config(path: str | None, args: argparse.Namespace, env: dict[str, str]) -> config.Config:
    """The file (``--config``, else $S3GW_CONFIG or $CONFIG_FILE, else none), env overrides, then flags."""
    path = path or env.get("S3GW_CONFIG") or env.get("CONFIG_FILE") or None
    conf = config.load(path, env)
    flags = {key.path: getattr(args, key.dest, None) for key in config.SCHEMA if key.flag}
    if getattr(args, "address", None):
        flags["server.host"], flags["server.port"] = args.address
    for key, value in flags.items():
        if value is not None:
            conf.set(key, value, "command line")
    config.check(conf)
    for w in conf.warnings:
        log.warning("%s", w)
    return conf


def serve_config(args: argparse.Namespace) -> ServerConfig:
    """``s3gw serve``'s ServerConfig: without a config file, exactly the flags (the embedded default)."""
    env = dict(os.environ)
    return config.server_config(_load_config(args.config, args, env), env)


def run_config_check(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    try:
        conf = config.load(args.file, env)
        sc = config.server_config(conf, env, require_data=False)
    except (OSError, ValueError) as e:
        print(f"s3gw config: {e}", file=sys.stderr)
        return 2
    for w in conf.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.show:
        print(config.describe(conf))
    print(
        f"{args.file}: OK ({describe_meta(sc)}; storage: "
        + (f"{len(sc.nodes)} nodes" if sc.nodes else f"{sc.drives} embedded drives")
        + ")"
    )
    return 0


def run_meta_migrate(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    try:
        conf = _load_config(args.config, args, env)
        conf.set("database.auto_migrate", True, "s3gw meta migrate")
        sc = config.server_config(
            conf, env, require_data=conf["database.driver"] != "postgres" and not conf["database.host"]
        )
    except (OSError, ValueError) as e:
        print(f"s3gw meta: {e}", file=sys.stderr)
        return 2

    async def run() -> tuple[list[int], int]:
        store = make_store(sc)
        await store.open()
        try:
            return list(getattr(store, "applied", [])), await store.schema_version()
        finally:
            await store.close()

    try:
        applied, version = asyncio.run(run())
    except MetaError as e:
        print(f"s3gw meta: {e}", file=sys.stderr)
        return 2
    where = describe_meta(sc).split(",")[0].removeprefix("metadata: ")
    print(
        f"{where}: schema at {version}"
        + (f" (applied {', '.join(map(str, applied))})" if applied else " (nothing to apply)")
    )
    return 0


def run_node_command(args: argparse.Namespace) -> int:
    tls = None
    try:
        secret = load_secret(args.secret_file)
        if bool(args.tls_cert) != bool(args.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if args.tls_cert:
            tls = ReloadingTLS(args.tls_cert, args.tls_key, interval=args.tls_reload_interval, name="node TLS")
    except (OSError, ValueError, ssl.SSLError) as e:
        print(f"s3gw node: {e}", file=sys.stderr)
        return 2
    host, port = args.address
    try:
        # the gateway's event loop (uvloop when installed): nodes stream shards too
        run(
            "auto",
            run_node(
                args.node_id or f"{host}:{port}",
                args.data,
                secret,
                host,
                port,
                fsync=not args.no_fsync,
                reserve_bytes=args.reserve_mb << 20,
                idle_timeout=args.idle_timeout,
                tls=tls,
            ),
        )
    except KeyboardInterrupt:
        pass
    return 0


def run_admin_command(args: argparse.Namespace) -> int:
    user, password = root_credentials()
    client = AdminClient(args.endpoint, user, password, args.region)
    try:
        if args.admin_command == "info":
            info = client.info()
            if args.json:
                print(json.dumps(info, indent=2))
            else:
                print_info(info)
            return 0
        bucket, _, prefix = args.target.partition("/")
        final: dict = {}
        tty = sys.stderr.isatty()
        for doc in client.heal(bucket, prefix, deep=args.deep, dry_run=args.dry_run):
            if doc.get("done"):
                final = doc
                break
            if not args.json:
                print(("\r" if tty else "") + progress_line(doc), end="" if tty else "\n", file=sys.stderr, flush=True)
        if tty and not args.json:
            print(file=sys.stderr)
    except (OSError, RuntimeError) as e:
        print(f"s3gw admin: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(final, indent=2))
    else:
        kind = "dry run" if args.dry_run else ("deep heal" if args.deep else "heal")
        took = (final.get("finished") or 0) - final.get("started", 0)
        print(
            f"{kind} of {args.target or 'everything'} in {took:.1f}s: scanned {final['scanned']}, "
            f"healthy {final['healthy']}, healed {final['healed']} ({final['shards_healed']} shards), "
            f"would heal {final['would_heal']}, offline {final['offline']}, failed {final['failed']}, "
            f"unrecoverable {final['unrecoverable']}"
        )
        for p in final.get("problems", []):
            print(f"  {p['outcome']:<13} {p['object']} ({p['version_id']}): {p['detail']}")
    return 1 if final.get("failed") or final.get("unrecoverable") else 0


if __name__ == "__main__":
    sys.exit(main())
