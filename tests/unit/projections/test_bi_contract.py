"""docs/bi.md is the analysts' contract: every table and view of `cx` is documented there, and
every example query in it runs against the real schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.projections.conftest import open_migrated

BI_DOC = Path(__file__).resolve().parents[3] / "docs" / "bi.md"
#: Plumbing an analyst never reads: the ingest Null table, the views that fill tables, the
#: migrations ledger, the processors' progress.
INTERNAL = re.compile(r"^(ingest|schema_migrations|stream_progress|.*_mv)$")


def example_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", BI_DOC.read_text(encoding="utf-8"), re.S)
    statements = [s.strip() for block in blocks for s in block.split(";")]
    return [
        s for s in statements if s and not all(line.startswith("--") for line in s.splitlines())
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    warehouse = open_migrated(tmp_path_factory.mktemp("bi") / "warehouse")
    yield warehouse
    warehouse.close()


def test_every_table_and_view_an_analyst_can_read_is_documented(warehouse):
    names = [
        r["name"] for r in warehouse.query("SELECT name FROM system.tables WHERE database = 'cx'")
    ]
    documented = BI_DOC.read_text(encoding="utf-8")
    missing = [n for n in names if not INTERNAL.match(n) and f"cx.{n}" not in documented]
    assert missing == []


def test_there_are_example_queries():
    assert len(example_queries()) >= 10


@pytest.mark.parametrize("query", example_queries(), ids=lambda q: q.splitlines()[0][:60])
def test_every_example_query_runs(warehouse, query):
    warehouse.query(query)  # raises on an unknown column, table or syntax error
