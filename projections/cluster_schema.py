"""The schema for a ClickHouse cluster, generated from the same migrations the single node runs.

`projections/migrations/*.sql` stays the one source of the schema. This module translates each
statement for a sharded and replicated cluster (existing ClickHouse engines, nothing home-made):

- `CREATE DATABASE` gets `ON CLUSTER`;
- every MergeTree-family table becomes `<name>_local`, a `Replicated*MergeTree` with the Keeper
  path `/clickhouse/tables/{shard}/{database}/{table}` and replica `{replica}` (macros each
  server defines), plus a `Distributed` table under the original name over those local tables;
- the `Null` ingest table becomes `<name>_local` on every node plus a `Distributed` table under
  the original name, so the processors' one INSERT per batch into `cx.ingest` is sharded and
  each shard's materialized views fan it out to that shard's local tables;
- materialized views read from and write to the local tables (a view fires on the node where the
  block lands), and plain views read the `Distributed` tables;
- `ALTER TABLE` of a sharded table changes the local table, and for column changes the
  `Distributed` table too; `DROP` drops both;
- the migrations ledger `cx.schema_migrations` is replicated to every node (one Keeper path for
  the whole cluster), and each migration's statements are followed by the ledger row that
  records it. `touchstream up` therefore finds every migration applied and leaves the cluster
  schema alone: on a cluster, schema changes come from this DDL, never from the single-node
  migrations.

So the application SQL does not change: it reads and writes the original names. The sharding key
of every `Distributed` table keeps together what must be merged or deduplicated together:
`cityHash64(customer_id)` when the table's sort key contains `customer_id`; when the table has a
`customer_id` but is keyed by its own id (the archive `cx.events`, `cx.alerts`),
`cityHash64(if(customer_id != '', customer_id, <id>))` — by customer where there is one, so the
archive row lands on the same shard as the customer's timeline and profile (the same ingest row
feeds them all), and by `cityHash64(id)` for events without a customer; tables without
`customer_id` use `cityHash64(<sort key>)`. A repeated event therefore always reaches the same
shard, where ReplacingMergeTree and insert deduplication can see it.

    python -m touchstream.projections.cluster_schema                 # the DDL, to stdout
    python -m touchstream.projections.cluster_schema --cluster prod  # ON CLUSTER 'prod'
    python -m touchstream.projections.cluster_schema --since 2       # migrations after 0002
    python -m touchstream.projections.cluster_schema --write         # deploy/clickhouse/cluster.sql
    python -m touchstream.projections.cluster_schema --check         # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from touchstream.projections.migrations import _LEDGER, Migration, available

DEFAULT_CLUSTER = "{cluster}"
LOCAL_SUFFIX = "_local"
KEEPER_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
#: Tables replicated to every node of every shard (the ledger) share one Keeper path, so their
#: replica name must be unique across shards too.
EVERYWHERE_PATH = "/clickhouse/tables/all/{database}/{table}"
EVERYWHERE_REPLICA = "{shard}-{replica}"
LEDGER = "cx.schema_migrations"
REPLICA = "{replica}"
CLUSTER_SQL = Path(__file__).resolve().parents[1] / "deploy" / "clickhouse" / "cluster.sql"

_FLAGS = re.IGNORECASE | re.DOTALL
_CREATE_DATABASE = re.compile(r"CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)(.*)", _FLAGS)
_CREATE_TABLE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s*(\(.*)", _FLAGS
)
_CREATE_MV = re.compile(
    r"CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s+"
    r"TO\s+(\w+)\.(\w+)\s+AS\s+(.*)",
    _FLAGS,
)
_CREATE_VIEW = re.compile(
    r"CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s+AS\s+(.*)", _FLAGS
)
_ALTER_TABLE = re.compile(r"ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(.*)", _FLAGS)
_DROP = re.compile(r"DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?(\w+)\.(\w+)(.*)", _FLAGS)
_COLUMN_ACTION = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.IGNORECASE)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(\w+)\s*(.*)", _FLAGS)
_ORDER_BY = re.compile(r"\bORDER\s+BY\s+(\([^()]*\)|\w+)", _FLAGS)
_MERGE_TREE = re.compile(
    r"(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree"
)
_NOT_COLUMNS = {"INDEX", "PROJECTION", "CONSTRAINT"}


class ClusterSchemaError(ValueError):
    """A migration statement this generator does not know how to translate."""


@dataclass(frozen=True)
class ClusterStatement:
    """One statement of the cluster DDL and where it came from."""

    kind: str  # database | local | distributed | materialized_view | view | alter | drop | ledger
    name: str  # database.table as created, altered or dropped
    sql: str
    migration: str  # e.g. 0001_events_timeline_profile
    source: str  # the migration statement it translates ('' for the ledger rows)


@dataclass(frozen=True)
class ShardedTable:
    database: str
    table: str
    engine: str
    sharding_key: str

    @property
    def local(self) -> str:
        return f"{self.table}{LOCAL_SUFFIX}"


def _balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group opening at `text[start]` (quotes understood)."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ClusterSchemaError(f"unbalanced parentheses in: {text[:80]}")


def _split_top_level(text: str) -> list[str]:
    """`text` split at commas outside parentheses and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _rename_tables(sql: str, renames: dict[str, str]) -> str:
    """`sql` with each `db.table` of `renames` replaced, outside string literals only."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in renames) + r")\b")
    pieces = re.split(r"('(?:[^'\\]|\\.)*')", sql)  # odd pieces are string literals
    return "".join(
        piece if index % 2 else pattern.sub(lambda m: renames[m[1]], piece)
        for index, piece in enumerate(pieces)
    )


def sharding_key(columns: Iterable[str], order_by: list[str]) -> str:
    """The Distributed sharding expression for a table (see the module docstring)."""
    columns = list(columns)
    if "customer_id" in order_by:
        return "cityHash64(customer_id)"
    if "customer_id" in columns:
        own_id = order_by[0] if order_by else ("id" if "id" in columns else "")
        if not own_id:
            raise ClusterSchemaError("a table with customer_id needs an id to shard the rest by")
        return f"cityHash64(if(customer_id != '', customer_id, {own_id}))"
    if not order_by:
        raise ClusterSchemaError(f"no customer_id and no ORDER BY to shard by: {columns}")
    return f"cityHash64({', '.join(order_by)})"


def _on_cluster(cluster: str) -> str:
    return f"ON CLUSTER '{cluster}'"


class _Translator:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.sharded: dict[str, ShardedTable] = {}

    def renames(self) -> dict[str, str]:
        return {f"{t.database}.{t.table}": f"{t.database}.{t.local}" for t in self.sharded.values()}

    def statement(self, sql: str, migration: str) -> list[ClusterStatement]:
        out = [
            ClusterStatement(kind, name, text, migration, sql)
            for kind, name, text in self._translate(sql, migration)
        ]
        return out

    def _translate(self, sql: str, migration: str) -> list[tuple[str, str, str]]:
        on = _on_cluster(self.cluster)
        if match := _CREATE_DATABASE.fullmatch(sql):
            name, rest = match[1], match[2].rstrip()
            return [("database", name, f"CREATE DATABASE IF NOT EXISTS {name} {on}{rest}")]
        if match := _CREATE_TABLE.fullmatch(sql):
            return self.table(match[1], match[2], match[3], migration)
        if match := _CREATE_MV.fullmatch(sql):
            return [self.materialized_view(match)]
        if match := _CREATE_VIEW.fullmatch(sql):
            database, name, select = match[1], match[2], match[3]
            text = f"CREATE VIEW IF NOT EXISTS {database}.{name} {on} AS\n{select}"
            return [("view", f"{database}.{name}", text)]
        if match := _ALTER_TABLE.fullmatch(sql):
            return self.alter(match[1], match[2], match[3], migration)
        if match := _DROP.fullmatch(sql):
            return self.drop(*match.groups())
        first_line = sql.strip().splitlines()[0]
        raise ClusterSchemaError(
            f"{migration}: no cluster translation for `{first_line}`; "
            "teach touchstream.projections.cluster_schema this kind of statement"
        )

    def alter(
        self, database: str, name: str, actions: str, migration: str
    ) -> list[tuple[str, str, str]]:
        on = _on_cluster(self.cluster)
        table = self.sharded.get(f"{database}.{name}")
        if table is None:
            return [
                ("alter", f"{database}.{name}", f"ALTER TABLE {database}.{name} {on}\n{actions}")
            ]
        kinds = {bool(_COLUMN_ACTION.match(action)) for action in _split_top_level(actions)}
        if kinds == {True, False}:
            raise ClusterSchemaError(
                f"{migration}: ALTER TABLE {database}.{name} mixes column changes with other "
                "changes; split it into two statements for the cluster translation"
            )
        local = f"{database}.{table.local}"
        statements = [("alter", local, f"ALTER TABLE {local} {on}\n{actions}")]
        if kinds == {True}:  # the Distributed table mirrors the columns, nothing else
            statements.append(
                ("alter", f"{database}.{name}", f"ALTER TABLE {database}.{name} {on}\n{actions}")
            )
        return statements

    def drop(
        self, what: str, if_exists: str | None, database: str, name: str, rest: str
    ) -> list[tuple[str, str, str]]:
        on, guard = _on_cluster(self.cluster), "IF EXISTS " if if_exists else ""
        names = [f"{database}.{name}"]
        table = self.sharded.pop(f"{database}.{name}", None)
        if table is not None:
            names.append(f"{database}.{table.local}")
        return [
            ("drop", target, f"DROP {what.upper()} {guard}{target} {on}{rest.rstrip()}")
            for target in names
        ]

    def table(
        self, database: str, name: str, body: str, migration: str
    ) -> list[tuple[str, str, str]]:
        end = _balanced(body, 0)
        # lines that held only a comment in the migration are dropped, not left blank
        column_list = "\n".join(line for line in body[:end].splitlines() if line.strip())
        rest = body[end:]
        columns = [
            item.split()[0].strip("`")
            for item in _split_top_level(column_list[1:-1])
            if item.split()[0].upper() not in _NOT_COLUMNS
        ]
        engine_match = _ENGINE.fullmatch(rest)
        if not engine_match:
            raise ClusterSchemaError(f"{migration}: {database}.{name} has no ENGINE clause")
        engine, after = engine_match[1], engine_match[2]
        args = ""
        if after.startswith("("):
            close = _balanced(after, 0)
            args, after = after[1 : close - 1].strip(), after[close:]
        after = after.strip()
        order = _ORDER_BY.search(after)
        order_by = [c.strip() for c in order[1].strip("()").split(",")] if order else []
        if engine == "Null":
            local_engine = "Null"
        elif _MERGE_TREE.fullmatch(engine):
            replicated = [f"'{KEEPER_PATH}'", f"'{REPLICA}'"] + ([args] if args else [])
            local_engine = f"Replicated{engine}({', '.join(replicated)})"
        else:
            raise ClusterSchemaError(
                f"{migration}: {database}.{name}: no cluster translation for engine {engine}"
            )
        table = ShardedTable(database, name, engine, sharding_key(columns, order_by))
        self.sharded[f"{database}.{name}"] = table
        on = _on_cluster(self.cluster)
        local = (
            f"CREATE TABLE IF NOT EXISTS {database}.{table.local} {on}\n"
            f"{column_list}\nENGINE = {local_engine}" + (f"\n{after}" if after else "")
        )
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {database}.{name} {on}\n"
            f"AS {database}.{table.local}\n"
            f"ENGINE = Distributed('{self.cluster}', {database}, {table.local}, "
            f"{table.sharding_key})"
        )
        return [
            ("local", f"{database}.{table.local}", local),
            ("distributed", f"{database}.{name}", distributed),
        ]

    def materialized_view(self, match: re.Match[str]) -> tuple[str, str, str]:
        database, name, target_db, target, select = match.groups()
        renames = self.renames()
        target_name = renames.get(f"{target_db}.{target}", f"{target_db}.{target}")
        text = (
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{name} "
            f"{_on_cluster(self.cluster)}\nTO {target_name} AS\n"
            f"{_rename_tables(select, renames) if renames else select}"
        )
        return ("materialized_view", f"{database}.{name}", text)

    def ledger(self) -> str:
        """The migrations ledger of migrations.py, replicated to every node of the cluster."""
        match = re.fullmatch(
            r"CREATE TABLE IF NOT EXISTS (\S+)\s*(\(.*\))\s*ENGINE = (\w+) (ORDER BY .*)",
            " ".join(_LEDGER.split()),
        )
        if not match or match[1] != LEDGER or not _MERGE_TREE.fullmatch(match[3]):
            raise ClusterSchemaError(f"unexpected migrations ledger: {_LEDGER}")
        return (
            f"CREATE TABLE IF NOT EXISTS {LEDGER} {_on_cluster(self.cluster)}\n{match[2]}\n"
            f"ENGINE = Replicated{match[3]}('{EVERYWHERE_PATH}', '{EVERYWHERE_REPLICA}')\n"
            f"{match[4]}"
        )


def cluster_statements(
    cluster: str = DEFAULT_CLUSTER,
    migrations: Iterable[Migration] | None = None,
    since: int = 0,
) -> list[ClusterStatement]:
    """Every migration statement translated for `cluster`, in migration order, each migration
    followed by its ledger row; `since` leaves out the migrations up to that version (a cluster
    that has them), after the database and the ledger, which are always there."""
    if not re.fullmatch(r"[\w{}.-]+", cluster):
        raise ClusterSchemaError(f"not a cluster name or macro: {cluster!r}")
    translator = _Translator(cluster)
    database = LEDGER.split(".")[0]
    out = [
        ClusterStatement(
            "database",
            database,
            f"CREATE DATABASE IF NOT EXISTS {database} {_on_cluster(cluster)}",
            "ledger",
            "",
        ),
        ClusterStatement("ledger", LEDGER, translator.ledger(), "ledger", _LEDGER.strip()),
    ]
    for migration in available() if migrations is None else migrations:
        label = f"{migration.version:04d}_{migration.name}"
        translated = [s for sql in migration.statements() for s in translator.statement(sql, label)]
        if migration.version <= since:
            continue  # translated all the same: later statements depend on what it created
        record = (
            f"INSERT INTO {LEDGER} (version, name) VALUES ({migration.version}, '{migration.name}')"
        )
        out.extend([*translated, ClusterStatement("ledger", LEDGER, record, label, "")])
    return out


def sharded_tables(migrations: Iterable[Migration] | None = None) -> list[ShardedTable]:
    """The tables that get a `_local` table and a Distributed table, with their sharding keys."""
    translator = _Translator(DEFAULT_CLUSTER)
    for migration in available() if migrations is None else migrations:
        for sql in migration.statements():
            translator.statement(sql, migration.name)
    return list(translator.sharded.values())


def cluster_ddl(cluster: str = DEFAULT_CLUSTER, since: int = 0) -> str:
    """The cluster DDL file: a header, then the statements separated by `;`, a comment line
    opening each migration's section."""
    keys = "\n".join(
        f"--   {t.database}.{t.table:<24} {t.engine:<22} {t.sharding_key}" for t in sharded_tables()
    )
    header = f"""\
-- Touchstream schema for a ClickHouse cluster. GENERATED from projections/migrations/*.sql by
-- touchstream.projections.cluster_schema; do not edit by hand: change a migration, then run
--     python -m touchstream.projections.cluster_schema --write
-- A new cluster: apply it from any node before the first `touchstream up` against it:
--     clickhouse-client --multiquery < deploy/clickhouse/cluster.sql
-- A cluster that has an older schema: apply only the migrations it lacks, in order:
--     clickhouse-client --query "SELECT max(version) FROM cx.schema_migrations FINAL"   # say 2
--     python -m touchstream.projections.cluster_schema --since 2 | clickhouse-client --multiquery
-- (docs/runbook.md, "Schema migrations"). Each migration ends with its row in the replicated
-- ledger cx.schema_migrations, so `touchstream up` finds it applied and changes nothing.
-- Every server needs the macros {{cluster}}, {{shard}} and {{replica}}, a `remote_servers` entry
-- for the cluster and ClickHouse Keeper (docs/production.md).
--
-- Local tables (<name>_local: Replicated*MergeTree, or Null for ingest) hold each shard's
-- data; a Distributed table under the original name reads all shards and routes writes.
--   table                       local engine           Distributed sharding key
{keys}
"""
    parts, section = [], None
    for statement in cluster_statements(cluster, since=since):
        if statement.migration != section:
            section = statement.migration
            title = "database and migrations ledger" if section == "ledger" else section
            parts.append(f"-- {'=' * 20} {title} {'=' * 20}\n")
        parts.append(f"{statement.sql};\n\n")
    return f"{header}\n{''.join(parts).rstrip()}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m touchstream.projections.cluster_schema",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--cluster", default=DEFAULT_CLUSTER, help="cluster name or macro")
    parser.add_argument(
        "--since", type=int, default=0, help="leave out the migrations up to this version"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {CLUSTER_SQL.name}")
    action.add_argument("--check", action="store_true", help="exit 1 if that file is stale")
    parser.add_argument("--output", type=Path, default=CLUSTER_SQL, help="file for --write/--check")
    args = parser.parse_args(argv)
    try:
        ddl = cluster_ddl(args.cluster, args.since)
    except ClusterSchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != ddl:
            print(
                f"stale: {args.output}; regenerate with "
                "python -m touchstream.projections.cluster_schema --write",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(ddl, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    sys.stdout.write(ddl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
