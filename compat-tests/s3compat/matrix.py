"""The compatibility matrix: operation x client x target -> pass / fail / divergence.

Each test result lands in one cell: ``test_expect`` (the case's expectations)
on its target, and ``test_same`` (equal to the reference) on the compared
target. A cell is ``fail`` if any of its results failed (a strict xfail that
passed counts as a failure: the divergence is fixed, remove it from the table),
else ``div`` if any is a known divergence, else ``pass``; ``skip`` only when
every result skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

ORDER = ("fail", "xpass", "div", "pass", "skip")


class Matrix:
    def __init__(self) -> None:
        self.meta: dict[str, tuple[str, str, str, str, str]] = {}  # nodeid -> (case, op, client, target, test)
        self.results: dict[str, tuple[str, str]] = {}  # nodeid -> (outcome, detail)
        self.targets: dict[str, str] = {}  # name -> "up" / reason unavailable
        self.reference: str | None = None
        self.started = dt.datetime.now(dt.UTC)

    def record(self, nodeid: str, outcome: str, detail: str = "") -> None:
        prev = self.results.get(nodeid)
        # keep the worst outcome across setup/call/teardown
        if prev is None or ORDER.index(outcome) < ORDER.index(prev[0]):
            self.results[nodeid] = (outcome, detail)

    def build(self) -> dict[str, Any]:
        cells: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        cases: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
        details: list[dict[str, str]] = []
        for nodeid, (case_id, op, client, target, test) in self.meta.items():
            if nodeid not in self.results:
                continue
            outcome, detail = self.results[nodeid]
            cells[(op, client)][target][outcome] += 1
            cases[case_id][target][test] = outcome
            if outcome in ("fail", "xpass", "div"):
                details.append({"case": case_id, "target": target, "test": test, "outcome": outcome, "detail": detail})
        targets = [t for t, s in self.targets.items() if s == "up"]
        rows = []
        for op, client in sorted(cells):
            row: dict[str, Any] = {"op": op, "client": client, "cells": {}}
            for t in targets:
                counts = dict(cells[(op, client)].get(t, {}))
                if not counts:
                    continue
                status = next(o for o in ORDER if counts.get(o))
                if status == "xpass":
                    status = "fail"
                row["cells"][t] = {"status": status, **counts}
            rows.append(row)
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (outcome, _), (_c, _o, _cl, target, _t) in (
            (self.results[n], m) for n, m in self.meta.items() if n in self.results
        ):
            totals[target][outcome] += 1
        return {
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seconds": round((dt.datetime.now(dt.UTC) - self.started).total_seconds(), 1),
            "targets": self.targets,
            "reference": self.reference,
            "totals": {t: dict(v) for t, v in totals.items()},
            "rows": rows,
            "cases": {c: {t: dict(v) for t, v in per.items()} for c, per in sorted(cases.items())},
            "details": details,
        }

    @staticmethod
    def markdown(m: dict[str, Any], reasons: list[tuple[str, str, str, tuple[str, ...]]] | None = None) -> str:
        targets = [t for t, s in m["targets"].items() if s == "up"]
        lines = [
            f"Compatibility matrix ({m['generated']}, {m['seconds']} s; reference: {m['reference'] or 'none'})",
            "",
        ]
        for t, s in m["targets"].items():
            if s != "up":
                lines.append(f"- target `{t}` not run: {s}")
        if any(s != "up" for s in m["targets"].values()):
            lines.append("")
        tot = "; ".join(
            f"{t}: " + ", ".join(f"{n} {o}" for o, n in sorted(m["totals"].get(t, {}).items())) for t in targets
        )
        lines += [f"Results per target (expectation and comparison tests): {tot}", ""]
        lines.append("| operation | client | " + " | ".join(targets) + " |")
        lines.append("|---|---|" + "---|" * len(targets))
        for row in m["rows"]:
            cells = []
            for t in targets:
                c = row["cells"].get(t)
                if not c:
                    cells.append("")
                    continue
                n = sum(v for k, v in c.items() if k != "status")
                bad = c.get("fail", 0) + c.get("xpass", 0)
                if c["status"] == "pass":
                    cells.append(f"pass {n}")
                elif c["status"] == "fail":
                    cells.append(f"**FAIL** {bad}/{n}")
                elif c["status"] == "div":
                    cells.append(f"div {c.get('div', 0)}/{n}")
                else:
                    cells.append(f"skip {n}")
            lines.append(f"| {row['op']} | {row['client']} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(
            "`pass N`: all N results pass; `div K/N`: K are known divergences "
            "(compat-tests/divergences.py); `FAIL K/N`: K fail."
        )
        return "\n".join(lines) + "\n"

    @staticmethod
    def divergences_markdown(m: dict[str, Any]) -> str:
        """Each known divergence seen in this run, with the cases (and tests) it covers."""
        by_reason: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for d in m["details"]:
            if d["outcome"] == "div":
                by_reason[(d["target"], d["detail"])][d["case"]].append(d["test"])
        if not by_reason:
            return "No known divergences in this run.\n"
        lines = [
            f"Known divergences in this run ({sum(len(v) for v in by_reason.values())} cases, "
            f"{len(by_reason)} reasons), largest first:",
            "",
        ]
        for (target, reason), cases in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            lines.append(f"- **{target}**: {reason}  ")
            lines.append(
                "  cases: "
                + ", ".join(f"`{c}`" + ("" if len(t) == 2 else f" ({'/'.join(t)})") for c, t in sorted(cases.items()))
            )
        return "\n".join(lines) + "\n"

    def write(self, out: Path, reasons: list | None = None) -> tuple[dict[str, Any], str]:
        m = self.build()
        md = self.markdown(m, reasons)
        out.mkdir(parents=True, exist_ok=True)
        (out / "matrix.json").write_text(json.dumps(m, indent=1, ensure_ascii=False, default=str) + "\n")
        (out / "matrix.md").write_text(md + "\n" + self.divergences_markdown(m))
        return m, md
