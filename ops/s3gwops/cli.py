"""The command line every script shares (target options, exit codes) and running one script as a step of
another (the runbooks)."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from typing import Any

from .report import CRITICAL, LEVELS, UNKNOWN, Report
from .tools import Unavailable

#: the ops/ directory, where the scripts are
OPS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 3 (UNKNOWN), not 2 (which means CRITICAL here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(UNKNOWN)


EPILOG_COMMON = """\
target: --endpoint or S3GW_ENDPOINT (default http://127.0.0.1:8080) with S3GW_ROOT_USER /
S3GW_ROOT_PASSWORD (or MINIO_ROOT_*, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); or --alias /
S3GW_MC_ALIAS naming an mc alias. Tools: S3GW_BIN (default: s3gw), MC_BIN (default: mc).
exit codes (Nagios plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not check)."""


def parser(prog_doc: str, epilog: str = "") -> Parser:
    lines = prog_doc.strip().splitlines()
    p = Parser(
        description=lines[0],
        epilog=("\n".join(lines[1:]).strip() + "\n\n" if len(lines) > 1 else "")
        + (epilog + "\n\n" if epilog else "")
        + EPILOG_COMMON,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--endpoint", default=None, help="s3gw URL (default: $S3GW_ENDPOINT or http://127.0.0.1:8080)")
    p.add_argument("--alias", default=os.environ.get("S3GW_MC_ALIAS"), help="take URL and keys from this mc alias")
    p.add_argument("--region", default=os.environ.get("S3GW_REGION", "us-east-1"))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run(main: Any) -> None:
    """Run ``main() -> int`` and exit with its code; tool/usage trouble is UNKNOWN (3)."""
    try:
        code = main()
    except Unavailable as e:
        print(f"UNKNOWN: {e}", file=sys.stderr)
        print(f"VERDICT: UNKNOWN - {e}")
        code = UNKNOWN
    except KeyboardInterrupt:
        code = UNKNOWN
    sys.exit(code)


def target_args(args: argparse.Namespace) -> list[str]:
    """The target options to hand on to another ops script."""
    out = []
    if args.endpoint:
        out += ["--endpoint", args.endpoint]
    if args.alias:
        out += ["--alias", args.alias]
    out += ["--region", args.region, "--timeout", str(args.timeout)]
    return out


def run_step(rep: Report, title: str, script: str, *argv: str, timeout: float = 3600) -> int:
    """Run another ops script as one step of a runbook: its report indented, its
    verdict recorded as this step's check."""
    cmd = [sys.executable, os.path.join(OPS_DIR, script), *argv]
    rep.begin(title)
    rep.info("$ " + " ".join(shlex.quote(c) for c in [os.path.join("ops", script), *argv]))
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        rep.crit(f"{script} did not finish in {timeout:.0f}s")
        return CRITICAL
    verdict = ""
    for line in cp.stdout.splitlines():
        if line.startswith("VERDICT:"):
            verdict = line[len("VERDICT:") :].strip()
        elif line.strip() and not line.startswith("==="):
            rep.info("  " + line)
    code = cp.returncode if cp.returncode in LEVELS else UNKNOWN
    if cp.stderr.strip() and code:
        rep.info("  stderr: " + cp.stderr.strip().splitlines()[-1])
    rep.add(code, f"{script}: {verdict or LEVELS[code]}")
    return code
