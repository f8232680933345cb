#!/usr/bin/env python3
"""Validate `helm template` output offline (called by scripts/helm-check.sh).

    validate_rendered.py RENDERED.yaml... --kube-version 1.28.0 --kube-version 1.34.0

For every manifest in every file:

* core kinds: kubernetes-validate's bundled JSON schemas, strict (unknown fields
  are errors), for each --kube-version;
* CRD kinds: a schema from helm/schemas/<kind>-<group>-<version>.json (the
  ServiceMonitor); a kind with no schema anywhere is an error, never a skip;
* no two manifests share kind/namespace/name, and the chart renders no Secret.

With --config-check, the ConfigMap's config.yaml (the file the gateway reads)
goes through `s3gw config check` too, with the /etc/s3gw/ paths it names
pointed at dummy files in a temporary directory (the check insists they exist).
Exit 0 when all is valid, 1 otherwise, with one line per problem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "schemas")


def crd_schema(doc: dict) -> dict | None:
    group_version = doc["apiVersion"].replace("/", "-")
    path = os.path.join(SCHEMAS, f"{doc['kind'].lower()}-{group_version}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def validate_doc(doc: dict, versions: list[str], where: str) -> list[str]:
    import jsonschema
    import kubernetes_validate as kv

    problems = []
    name = f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    for v in versions:
        try:
            kv.validate(doc, v, strict=True)
        except kv.SchemaNotFoundError:
            schema = crd_schema(doc)
            if schema is None:
                problems.append(
                    f"{name}: no schema for {doc['apiVersion']} {doc['kind']} in Kubernetes {v} nor in helm/schemas/"
                )
                break
            try:
                jsonschema.validate(doc, schema)
            except jsonschema.ValidationError as e:
                problems.append(f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            break  # a CRD schema does not depend on the Kubernetes version
        except kv.ValidationError as e:
            err = getattr(e, "caught_exc", e)
            path = "/".join(map(str, getattr(err, "absolute_path", []) or []))
            problems.append(f"{name} (Kubernetes {v}): {path}: {getattr(err, 'message', str(err))}")
    return problems


def config_check(doc: dict, cmd: list[str], where: str) -> list[str]:
    text = doc.get("data", {}).get("config.yaml")
    if text is None:
        return [f"{where}: ConfigMap {doc['metadata']['name']} has no config.yaml"]
    with tempfile.TemporaryDirectory() as tmp:
        # every absolute path under /etc/s3gw/ the config names must exist for the check
        for path in sorted(set(re.findall(r"(/etc/s3gw/[\w./-]+)", text))):
            local = os.path.join(tmp, path.lstrip("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "w") as f:
                f.write("dummy-value-for-the-config-check-0123456789\n")
        local_cfg = os.path.join(tmp, "config.yaml")
        with open(local_cfg, "w") as f:
            f.write(text.replace("/etc/s3gw/", tmp + "/etc/s3gw/"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3GW_", "MINIO_ROOT"))}
        cp = subprocess.run([*cmd, "config", "check", local_cfg], capture_output=True, text=True, env=env, timeout=120)
    out = (cp.stdout + cp.stderr).replace(local_cfg + ": ", "").replace(tmp, "").strip()
    if cp.returncode != 0:
        return [f"{where}: `s3gw config check` refuses the rendered config.yaml: {out}"]
    print(f"  config.yaml: {out.splitlines()[-1] if out else 'OK'}")
    for line in out.splitlines():
        if line.startswith("warning:"):
            print(f"  config.yaml {line}")
    return []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--kube-version", action="append", required=True)
    ap.add_argument("--config-check", metavar="CMD", help="the s3gw command, e.g. 'python3 -m s3gw.cli'")
    args = ap.parse_args()
    problems: list[str] = []
    for path in args.files:
        where = os.path.basename(path)
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        seen: set[tuple] = set()
        kinds: dict[str, int] = {}
        for doc in docs:
            meta = doc.get("metadata", {})
            ident = (doc.get("kind"), meta.get("namespace"), meta.get("name"))
            if ident in seen:
                problems.append(f"{where}: duplicate {ident}")
            seen.add(ident)
            kinds[doc.get("kind")] = kinds.get(doc.get("kind"), 0) + 1
            if doc.get("kind") == "Secret":
                problems.append(f"{where}: renders Secret {meta.get('name')}: the chart must only reference Secrets")
            problems += validate_doc(doc, args.kube_version, where)
            if doc.get("kind") == "ConfigMap" and args.config_check:
                problems += config_check(doc, shlex.split(args.config_check), where)
        print(
            f"  {where}: {len(docs)} manifests ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}) "
            f"checked against Kubernetes {', '.join(args.kube_version)}"
        )
    for p in problems:
        print(f"INVALID {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
