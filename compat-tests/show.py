"""Run some cases on the available targets and print their observations.

    python compat-tests/show.py 'objects.key[*' [--targets s3gw,minio] [--diff]

A development aid: it starts the targets like the suite does (COMPAT_TARGETS,
MINIO_BIN, ... apply), runs each matching case once per target, prints each
observation (or only the differences with --diff) and the expectation problems.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import pprint
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from s3compat import cases as _cases  # noqa: E402,F401
from s3compat import core, targets  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("patterns", nargs="+")
    ap.add_argument("--targets", default="")
    ap.add_argument("--diff", action="store_true", help="print only cases whose observations differ")
    a = ap.parse_args()
    if a.targets:
        os.environ["COMPAT_TARGETS"] = a.targets
    avail = [t for t, (ok, _) in targets.availability().items() if ok]
    ids = [i for i in core.REGISTRY if any(i == p or fnmatch.fnmatchcase(i, p) for p in a.patterns)]
    pool = targets.Pool()
    token = secrets.token_hex(3)
    try:
        for cid in ids:
            c = core.REGISTRY[cid]
            obs = {}
            for t in avail:
                try:
                    target = pool.get(t, tls=c.tls)
                except targets.TLSUnavailable:
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    obs[t] = core.run(c, target, token, Path(tmp))
            vals = list(obs.values())
            same = all(v == vals[0] for v in vals)
            if a.diff and same:
                continue
            print(f"=== {cid}  ({c.op}, {c.client})  {'same' if same else 'DIFFERENT'}")
            for t, o in obs.items():
                probs = core.check(o, c.expect)
                print(f"--- {t}" + (f"  expectation problems: {probs}" if probs else ""))
                print(pprint.pformat(o, width=120, compact=True))
            if len(vals) == 2 and not same:
                print("--- diff: " + "\n    ".join(core.diff(vals[0], vals[1])))
    finally:
        pool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
