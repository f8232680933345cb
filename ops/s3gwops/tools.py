"""The tools the checks run: the s3gw command, mc, kubectl; and where the scripts keep their state."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

from .report import Report


class Unavailable(RuntimeError):
    """A tool or an s3gw command the check needs is not there."""


def _split_cmd(env_name: str, *fallbacks: list[str]) -> list[str] | None:
    if os.environ.get(env_name):
        return shlex.split(os.environ[env_name])
    for cmd in fallbacks:
        if cmd and (os.path.isabs(cmd[0]) and os.access(cmd[0], os.X_OK) or shutil.which(cmd[0])):
            return cmd
    return None


def s3gw_cmd() -> list[str]:
    cmd = _split_cmd("S3GW_BIN", ["s3gw"])
    if cmd:
        return cmd
    try:  # a source checkout or an installed package without the console script on PATH
        import importlib.util

        if importlib.util.find_spec("s3gw.cli") is not None:
            return [sys.executable, "-m", "s3gw.cli"]
    except (ImportError, ValueError):
        pass
    raise Unavailable("the s3gw command is not installed (set S3GW_BIN, or put s3gw on PATH)")


def mc_cmd() -> list[str]:
    gopath = os.environ.get("GOPATH") or os.path.expanduser("~/go")
    cmd = _split_cmd("MC_BIN", ["mc"], [os.path.join(gopath, "bin", "mc")])
    if cmd is None:
        raise Unavailable("mc is not installed (set MC_BIN; scripts/go-tools.sh mc builds the pinned one)")
    return cmd


def which(name: str) -> str | None:
    return shutil.which(name)


def state_dir() -> str:
    d = os.environ.get("S3GW_OPS_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "s3gw-ops"
    )
    os.makedirs(d, exist_ok=True)
    return d


def kubectl(rep: Report, *args: str, timeout: float = 60) -> str | None:
    """Run kubectl; its output, or None (reported as UNKNOWN) when it cannot."""
    if not which("kubectl"):
        rep.unknown("kubectl not installed: Kubernetes checks not run")
        return None
    cp = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout)
    if cp.returncode != 0:
        rep.unknown(f"kubectl {' '.join(args[:3])}: {cp.stderr.strip()[-300:]}")
        return None
    return cp.stdout
