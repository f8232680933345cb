"""Shared plumbing of the ops/ runbook scripts (standard library only, and s3gw's own
standard-library ``s3gw/credentials.py`` for the root credentials).

Every script takes its target the same way:

* ``--endpoint`` / ``S3GW_ENDPOINT`` (default ``http://127.0.0.1:8080``) with
  ``S3GW_ROOT_USER`` / ``S3GW_ROOT_PASSWORD`` (read as the gateway reads them:
  ``MINIO_ROOT_USER`` / ``MINIO_ROOT_PASSWORD`` and the ``*_FILE`` forms too;
  then ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``), or
* ``--alias`` / ``S3GW_MC_ALIAS``: an ``mc`` alias, whose URL and keys are read
  with ``mc alias list ALIAS --json``.

and reports the same way: one line per check, ``[OK]``, ``[WARNING]``,
``[CRITICAL]`` or ``[UNKNOWN]``, then a ``VERDICT:`` line, and the Nagios plugin
exit code of the worst check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), so any
monitoring system that runs Nagios-style checks can run these unchanged.
``--json`` prints the same report as one JSON document instead.

Three ways to talk to s3gw, each used where it is the natural one:

* plain HTTP for the unauthenticated health endpoints (``/health/live``,
  ``/health/ready``, ``/minio/health/*``), as a load balancer sees them;
* ``s3gw admin ... --json`` (the command from ``S3GW_BIN``, else ``s3gw`` on
  PATH, else ``python3 -m s3gw.cli``) for cluster state, heal, maintenance,
  users and backups;
* ``mc`` (``MC_BIN``, else on PATH, else ``$GOPATH/bin/mc``) for what an
  operator does with mc anyway (``mc ready``, ``mc du``, ``mc ls --versions``),
  and a small SigV4 client here for timed canary and benchmark requests, so
  that latencies measure s3gw and not the start-up of a client process.

The modules, by concern (the scripts ``import s3gwops as ops`` and use the
names re-exported here):

* ``report``: levels, the report and its verdict, number formatting;
* ``target``: the endpoint and credentials, the SigV4 client, ``s3gw admin`` and ``mc`` calls;
* ``metrics``: scraping and reading Prometheus series;
* ``checks``: checks several scripts share (endpoints, canary, cluster, drives);
* ``tools``: finding s3gw, mc and kubectl; the state directory;
* ``cli``: the common options and exit codes, and running one script as a runbook step.
"""

from __future__ import annotations

from .checks import canary, check_cluster, check_endpoints, drive_usage, first_ok
from .cli import EPILOG_COMMON, OPS_DIR, Parser, parser, run, run_step, target_args
from .metrics import metric_sum, metrics, parse_prometheus, prometheus_jwt
from .report import CRITICAL, LEVELS, OK, UNKNOWN, WARNING, Check, Report, fmt_bytes, ms
from .target import DEFAULT_ENDPOINT, MC_ALIAS, Response, Target, credentials, describe, gateway_list, target_from
from .tools import Unavailable, kubectl, mc_cmd, s3gw_cmd, state_dir, which

__all__ = [
    "canary",
    "check_cluster",
    "check_endpoints",
    "drive_usage",
    "first_ok",
    "EPILOG_COMMON",
    "OPS_DIR",
    "Parser",
    "parser",
    "run",
    "run_step",
    "target_args",
    "metric_sum",
    "metrics",
    "parse_prometheus",
    "prometheus_jwt",
    "CRITICAL",
    "LEVELS",
    "OK",
    "UNKNOWN",
    "WARNING",
    "Check",
    "Report",
    "fmt_bytes",
    "ms",
    "DEFAULT_ENDPOINT",
    "MC_ALIAS",
    "Response",
    "Target",
    "credentials",
    "describe",
    "gateway_list",
    "target_from",
    "Unavailable",
    "kubectl",
    "mc_cmd",
    "s3gw_cmd",
    "state_dir",
    "which",
]
