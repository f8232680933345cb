"""Numbered migrations shared by every SQL backend.

``migrations/NNNN_name.sql`` files are applied in order; each backend fills in
the few type names that differ (``{{BLOB}}``, ``{{ID}}``) and records the number
in ``schema_version``. A store whose schema is newer than the newest file here
is refused (``SchemaTooNew``): an old binary must not write a newer schema.
"""

from __future__ import annotations

import re
from importlib import resources

DIALECTS = {
    "sqlite": {"BLOB": "BLOB", "ID": "INTEGER PRIMARY KEY"},
    "postgres": {"BLOB": "BYTEA", "ID": "BIGSERIAL PRIMARY KEY"},
}


def migrations(dialect: str) -> list[tuple[int, str]]:
    """(number, SQL text) for every migration, in order, for ``dialect``."""
    subst = DIALECTS[dialect]
    out = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = re.match(r"(\d{4})_.*\.sql$", entry.name)
        if not m:
            continue
        sql = entry.read_text()
        for name, value in subst.items():
            sql = sql.replace("{{" + name + "}}", value)
        out.append((int(m.group(1)), sql))
    return sorted(out)


def latest_version() -> int:
    return migrations("sqlite")[-1][0]


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our literals)."""
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]
