"""Rebuilding the read models from the event archive: which tables, and the statements that
build fresh copies beside the live ones and switch them in (services/replay.py runs them).

Every read model fed by a materialized view over `cx.ingest` (except the archive itself, the
source) is rebuilt: a `<table>__rebuild` copy of each, filled by copies of the views reading a
private `cx.ingest__rebuild`, then exchanged with the live table in one statement. The alert
tables are the projection of the alerts topic (facts Touchstream published), and the dead
letters that of the dead-letter topic: not of the archive, so not rebuilt from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUFFIX = "__rebuild"
INGEST = "cx.ingest"
ARCHIVE = "cx.events"

#: The materialized views of `cx`, with their DDL as the warehouse reports it.
VIEWS = """
SELECT name, create_table_query AS ddl
FROM system.tables
WHERE database = 'cx' AND engine = 'MaterializedView'
ORDER BY name
"""
#: Leftovers of an interrupted rebuild.
LEFTOVERS = f"""
SELECT name, engine FROM system.tables
WHERE database = 'cx' AND endsWith(name, '{SUFFIX}')
ORDER BY engine = 'MaterializedView' DESC, name
"""
#: One page of the archive in log order, after a position (keyset pagination). Aliases must
#: not shadow the columns the WHERE clause compares.
ARCHIVE_PAGE = """
SELECT id, type, source, subject, toString(time) AS event_time, specversion, datacontenttype,
       extensions, data, customer_id, kafka_topic, kafka_partition, kafka_offset,
       toString(received_at) AS received
FROM cx.events FINAL
WHERE (received_at, kafka_topic, kafka_partition, kafka_offset, id)
      > (toDateTime64({received_at:String}, 3, 'UTC'), {topic:String}, {partition:Int32},
         {offset:Int64}, {id:String})
ORDER BY received_at, kafka_topic, kafka_partition, kafka_offset, id
LIMIT {limit:UInt32}
"""
START = {
    "received_at": "1970-01-01 00:00:00.000",
    "topic": "",
    "partition": -1,
    "offset": -1,
    "id": "",
}

_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW cx\.(\w+) TO cx\.(\w+) ")


@dataclass(frozen=True)
class RebuildPlan:
    tables: tuple[str, ...]  # the live tables rebuilt, e.g. "timeline"
    create: tuple[str, ...]  # statements that build the empty copies and their feeding views
    views: tuple[str, ...]  # the feeding views' names (dropped before the switch)

    @property
    def switch(self) -> str:
        """One statement exchanging every live table with its rebuilt copy."""
        pairs = ", ".join(f"cx.{t} AND cx.{t}{SUFFIX}" for t in self.tables)
        return f"EXCHANGE TABLES {pairs}"

    @property
    def drop_feed(self) -> tuple[str, ...]:
        return (
            *(f"DROP VIEW IF EXISTS cx.{v}" for v in self.views),
            f"DROP TABLE IF EXISTS {INGEST}{SUFFIX}",
        )

    @property
    def drop_old(self) -> tuple[str, ...]:
        """After the switch the copies hold the old rows."""
        return tuple(f"DROP TABLE IF EXISTS cx.{t}{SUFFIX}" for t in self.tables)


def rebuild_plan(views: list[dict[str, str]]) -> RebuildPlan:
    """The plan for the warehouse's materialized views (rows of `VIEWS`)."""
    tables, create, names = [], [f"CREATE TABLE {INGEST}{SUFFIX} AS {INGEST}"], []
    for view in views:
        match = _VIEW.match(view["ddl"])
        if not match or f"FROM {INGEST} " not in view["ddl"] + " ":
            continue  # not fed by the ingest table (the alert revisions)
        name, table = match.groups()
        if f"cx.{table}" == ARCHIVE:
            continue  # the source of the rebuild
        copy = f"{name}{SUFFIX}"
        ddl = view["ddl"].replace(
            match.group(0), f"CREATE MATERIALIZED VIEW cx.{copy} TO cx.{table}{SUFFIX} ", 1
        )
        ddl = re.sub(rf"FROM {re.escape(INGEST)}\b", f"FROM {INGEST}{SUFFIX}", ddl)
        tables.append(table)
        names.append(copy)
        create.append(f"CREATE TABLE cx.{table}{SUFFIX} AS cx.{table}")
        create.append(ddl)
    return RebuildPlan(tuple(tables), tuple(create), tuple(names))
