"""Ordered, idempotent schema migrations, applied at start-up.

Migrations are the `.sql` files in `projections/migrations/`, applied in file-name order. Every
statement is written to be safe to re-run (`IF NOT EXISTS`), and applied versions are recorded
in `cx.schema_migrations`, so a second start finds the existing warehouse and changes nothing.
The same text runs on chDB and on a ClickHouse server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from touchstream.projections.warehouse import Warehouse

_LEDGER = """
CREATE TABLE IF NOT EXISTS cx.schema_migrations
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        without_comments = re.sub(r"--[^\n]*", "", self.sql)
        return [s.strip() for s in without_comments.split(";") if s.strip()]


def available() -> list[Migration]:
    folder = Path(__file__).with_name("migrations")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(warehouse: Warehouse) -> list[Migration]:
    """Apply the migrations not yet recorded; return the ones applied now."""
    warehouse.command("CREATE DATABASE IF NOT EXISTS cx")
    warehouse.command(_LEDGER)
    done = {row["version"] for row in warehouse.query("SELECT version FROM cx.schema_migrations")}
    applied = []
    for migration in available():
        if migration.version in done:
            continue
        for statement in migration.statements():
            warehouse.command(statement)
        warehouse.insert(
            "cx.schema_migrations", [{"version": migration.version, "name": migration.name}]
        )
        applied.append(migration)
    return applied
