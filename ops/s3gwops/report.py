"""Report and output: one line per check, a VERDICT line, and the Nagios plugin exit code of the worst check."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LEVELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


@dataclass
class Check:
    level: int
    section: str
    message: str


@dataclass
class Report:
    """Collects checks, prints them as they come, and ends with one verdict."""

    title: str
    json_out: bool = False
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    section: str = ""

    def head(self, target: str) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.facts.update(target=target, generated=now)
        self._print(f"=== {self.title}: {target} ({now}) ===")

    def _print(self, line: str = "") -> None:
        if not self.json_out:
            print(line, flush=True)

    def begin(self, section: str) -> None:
        self.section = section
        self._print(f"\n-- {section}")

    def info(self, message: str) -> None:
        self._print(f"   {message}")

    def add(self, level: int, message: str) -> None:
        self.checks.append(Check(level, self.section, message))
        self._print(f"   [{LEVELS[level]}] {message}")

    def ok(self, message: str) -> None:
        self.add(OK, message)

    def warn(self, message: str) -> None:
        self.add(WARNING, message)

    def crit(self, message: str) -> None:
        self.add(CRITICAL, message)

    def unknown(self, message: str) -> None:
        self.add(UNKNOWN, message)

    def worst(self) -> int:
        # CRITICAL outranks UNKNOWN (something is known to be broken), UNKNOWN outranks WARNING
        order = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3}
        return max((c.level for c in self.checks), key=order.__getitem__, default=OK)

    def finish(self, actions: Iterable[str] = ()) -> int:
        level = self.worst()
        bad = [c for c in self.checks if c.level == level and level != OK]
        actions = list(actions)
        if self.json_out:
            print(
                json.dumps(
                    {
                        "title": self.title,
                        "verdict": LEVELS[level],
                        "exit_code": level,
                        **self.facts,
                        "checks": [
                            {"level": LEVELS[c.level], "section": c.section, "message": c.message} for c in self.checks
                        ],
                        "actions": actions,
                    },
                    indent=2,
                )
            )
            return level
        if actions:
            self._print("\n-- what to do")
            for a in actions:
                self._print(f"   - {a}")
        counts = ", ".join(
            f"{sum(c.level == lv for c in self.checks)} {LEVELS[lv].lower()}"
            for lv in (CRITICAL, UNKNOWN, WARNING)
            if any(c.level == lv for c in self.checks)
        )
        why = f" - {bad[0].message}" if bad else ""
        self._print(f"\nVERDICT: {LEVELS[level]}" + (f" ({counts})" if counts else "") + why)
        return level


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
