"""The ``s3gw`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .server import ServerConfig, UnsafeListen, root_credentials, serve


def parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    try:
        return (host or "127.0.0.1").strip("[]"), int(port)
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected HOST:PORT") from e


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s3gw", description="S3-compatible object store")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the S3 gateway")
    p.add_argument("--data", required=True, help="data directory (drives and embedded metadata)")
    p.add_argument("--address", type=parse_address, default=("127.0.0.1", 8080), help="HOST:PORT (default 127.0.0.1:8080)")
    p.add_argument("--domain", action="append", default=[], help="enable virtual-hosted-style requests for this domain")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--log-level", default="INFO")

    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("s3gw.access").setLevel(logging.WARNING)
    if args.command == "serve":
        user, password = root_credentials()
        host, port = args.address
        cfg = ServerConfig(data_dir=args.data, host=host, port=port, access_key=user, secret_key=password,
                           region=args.region, domains=tuple(args.domain))
        try:
            asyncio.run(serve(cfg))
        except UnsafeListen as e:
            print(f"s3gw: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
