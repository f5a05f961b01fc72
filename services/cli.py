"""The `touchstream` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from touchstream.services import instance
from touchstream.services.client import ClientError, TouchstreamClient
from touchstream.services.settings import Settings

# Commands import what they need when they run: `touchstream sql` should not pay for faust.

app = typer.Typer(
    help="Touchstream: touchpoint events on Kafka → live customer-experience read models "
    "and explained alerts in ClickHouse.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(1)


def _running(settings: Settings) -> TouchstreamClient | None:
    info = instance.read_runtime(settings.runtime_file)
    if not info:
        return None
    return TouchstreamClient(info["http_url"], api_key=settings.api_key.get_secret_value())


@app.command()
def up() -> None:
    """Start the broker, the processors and the HTTP server; Ctrl-C stops everything."""
    from touchstream.projections.warehouse import WarehouseError
    from touchstream.services import runtime
    from touchstream.services.access import AccessConfigError
    from touchstream.services.broker import BrokerError
    from touchstream.services.webhooks import WebhookConfigError

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper().replace("WARN", "WARNING"))
    try:
        runtime.run(settings)
    except (
        BrokerError,
        instance.RuntimeBusy,
        WarehouseError,
        WebhookConfigError,
        runtime.RoleError,
        AccessConfigError,
    ) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _read(settings: Settings, query: str, fmt: str) -> bytes:
    """A read-only query's output, through the running `up` (whose query endpoint checks it) or
    the warehouse directly, as a read-only statement."""
    from touchstream.projections.read_only_sql import read_only_statement
    from touchstream.projections.warehouse import open_warehouse

    client = _running(settings)
    if client is not None:
        return client.query_raw(query, fmt)
    with instance.data_dir_lock(settings.data_dir):
        warehouse = open_warehouse(settings.resolved_warehouse_url)
        try:
            return warehouse.query_raw(read_only_statement(query), fmt)
        finally:
            warehouse.close()


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SELECT/SHOW/DESCRIBE/EXISTS/WITH statement.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="ClickHouse output format.")] = (
        "PrettyCompactMonoBlock"
    ),
) -> None:
    """Query the warehouse (through the running `up` if there is one)."""
    from touchstream.projections.read_only_sql import QueryRefused, read_only_statement
    from touchstream.projections.warehouse import WarehouseError

    settings = Settings()
    try:
        read_only_statement(query)  # refuse before starting anything
        output = _read(settings, query, fmt)
    except QueryRefused as exc:
        raise _fail(str(exc)) from None
    except (ClientError, WarehouseError, instance.RuntimeBusy) as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write(output.decode("utf-8", "replace"))


@app.command()
def publish(
    file: Annotated[str, typer.Argument(help="JSON lines of CloudEvents; '-' for stdin.")],
) -> None:
    """Validate and publish events to Kafka; prints one line per refused or failed event."""
    import orjson

    from touchstream.events.catalog import EventInvalid, parse_event
    from touchstream.events.publisher import BrokerUnavailable, Publisher

    settings = Settings()
    stream = sys.stdin if file == "-" else Path(file).open(encoding="utf-8")  # noqa: SIM115
    events, refused = [], 0
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                events.append(parse_event(orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                refused += 1
                err.print(f"line {number}: not JSON: {exc}")
            except EventInvalid as exc:
                refused += 1
                err.print(f"line {number}: {exc}")
    try:
        with Publisher(settings.kafka_bootstrap, settings.touchpoints_topic) as publisher:
            deliveries = publisher.publish(events)
    except BrokerUnavailable as exc:
        raise _fail(str(exc)) from None
    failed = [d for d in deliveries if not d.accepted]
    for delivery in failed:
        err.print(f"event {delivery.event_id}: not stored: {delivery.error}")
    console.print(
        f"published {len(deliveries) - len(failed)}, refused {refused}, failed {len(failed)}"
    )
    if refused or failed:
        raise typer.Exit(1)


@app.command()
def alerts(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new alerts.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many recent alerts to show first.")] = 20,
) -> None:
    """Show recent alerts, and with --follow every new one as it is raised."""
    from touchstream.services.alert_feed import follow_alerts, show_recent

    settings = Settings()
    client = _running(settings)
    if client is None:
        raise _fail("touchstream is not running here; start it with `touchstream up`")
    seen = show_recent(client, limit, console)
    if follow:
        follow_alerts(settings, seen, console)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="Synthetic customers to generate.")] = 400,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic journeys.")] = 7,
    keep_running: Annotated[bool, typer.Option(help="Leave `up` running afterwards.")] = False,
) -> None:
    """Generate realistic journeys, push them through the real pipeline, show what came out."""
    from touchstream.services.broker import BrokerError
    from touchstream.services.demo import run_demo

    try:
        run_demo(Settings(), customers=customers, seed=seed, keep_running=keep_running)
    except (BrokerError, ClientError, instance.RuntimeBusy, RuntimeError, TimeoutError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def bench(
    events: Annotated[int, typer.Option(help="Events to push through the pipeline.")] = 200_000,
    rate: Annotated[
        float | None,
        typer.Option(help="Fixed rate of the latency run or the soak (default: half max)."),
    ] = None,
    partitions: Annotated[int, typer.Option(help="Partitions of the bench topics.")] = 4,
    processors: Annotated[
        int,
        typer.Option(
            min=1, help="Processor processes (TOUCHSTREAM_PROCESSOR_PROCESSES): 1 runs them in up."
        ),
    ] = 1,
    gateway_events: Annotated[int, typer.Option(help="Events sent through HTTP.")] = 20_000,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    soak: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Instead: publish at a fixed rate this long, sampling memory and backlog.",
        ),
    ] = None,
) -> None:
    """Measure the embedded pipeline end to end against this machine's raw ceilings, or with
    --soak whether its memory and backlog stay flat at a fixed rate."""
    from touchstream.services.bench import (
        MIN_SOAK_S,
        render,
        render_soak,
        run_bench,
        run_soak,
        save,
    )

    if processors > partitions:
        raise _fail(f"--processors {processors} needs at least as many --partitions")
    if soak is not None:
        if soak < MIN_SOAK_S:
            raise _fail(f"--soak needs at least {MIN_SOAK_S:.0f} s (60 s of warm-up, then samples)")
        report = run_soak(soak, rate, partitions, processors=processors)
        console.print(render_soak(report))
    else:
        report = run_bench(events, rate, partitions, gateway_events, processors=processors)
        console.print(render(report))
    if json_out:
        save(report, json_out)
        console.print(f"report written to {json_out}")


@app.command()
def drivers(
    outcome: Annotated[
        str, typer.Option(help="nps, churn or both: what the touchpoints are ranked for.")
    ] = "both",
    min_respondents: Annotated[
        int, typer.Option(help="Leave out touchpoints rated by fewer customers.")
    ] = 30,
    bootstrap: Annotated[int, typer.Option(help="Resamples for the 95% intervals.")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Rank touchpoints by their relative importance for NPS and for churn (key drivers)."""
    import orjson

    from touchstream.projections import queries
    from touchstream.projections.warehouse import WarehouseError
    from touchstream.services.drivers import OUTCOMES, analyse, as_json, render

    outcomes = OUTCOMES if outcome == "both" else (outcome,)
    if not set(outcomes) <= set(OUTCOMES):
        raise _fail(f"--outcome must be nps, churn or both, not {outcome!r}")
    settings = Settings()
    try:
        raw = _read(settings, queries.DRIVER_INPUTS, "JSONEachRow")
    except (ClientError, WarehouseError, instance.RuntimeBusy) as exc:
        raise _fail(str(exc)) from None
    rows = [orjson.loads(line) for line in raw.splitlines() if line]
    if not rows:
        raise _fail("no touchpoint ratings (CSAT or effort) in the warehouse yet")
    results = analyse(rows, outcomes, min_respondents, bootstrap)
    if json_out:
        report = [r if isinstance(r, str) else as_json(r) for r in results]
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for result in results:
        if isinstance(result, str):
            err.print(result)
        else:
            console.print(render(result))


@app.command()
def value(
    fit: Annotated[
        bool, typer.Option("--fit", help="Refit the model now (else show the last).")
    ] = False,
) -> None:
    """The customer value model: BG/NBD, Gamma-Gamma, CLV tiers (refit with --fit)."""
    import orjson

    from touchstream.projections import queries
    from touchstream.projections.warehouse import WarehouseError
    from touchstream.services.value_refit import render_value

    settings = Settings()
    try:
        if fit:
            _fit_value_model(settings)
        model = _read(settings, queries.LATEST_VALUE_MODEL, "JSONEachRow")
        tiers = _read(settings, queries.VALUE_TIER_SUMMARY, "JSONEachRow")
    except (ClientError, WarehouseError, instance.RuntimeBusy, ValueError) as exc:
        raise _fail(str(exc)) from None
    rows = [orjson.loads(line) for line in model.splitlines() if line]
    if not rows:
        raise _fail(
            "no value model fitted yet: `touchstream value --fit`, or wait for the schedule "
            "(TOUCHSTREAM_VALUE_REFIT_INTERVAL_S)"
        )
    tier_rows = [orjson.loads(line) for line in tiers.splitlines() if line]
    console.print(render_value(rows[0], tier_rows))


def _fit_value_model(settings: Settings) -> None:
    """Refit through the running `up` (which owns the warehouse), or directly."""
    import asyncio

    from touchstream.projections.warehouse import open_warehouse
    from touchstream.services.projector import Projector
    from touchstream.services.value_refit import ValueBook

    client = _running(settings)
    if client is not None:
        status, body = client.post_json("/v1/value-model/fit", {})
        if status != 200:
            raise ValueError(body.get("error", f"HTTP {status}"))
        return
    with instance.data_dir_lock(settings.data_dir):
        warehouse = open_warehouse(settings.resolved_warehouse_url)
        projector = Projector(warehouse)
        try:
            asyncio.run(ValueBook(projector).refit())
        finally:
            projector.close()
            warehouse.close()


@app.command()
def replay() -> None:
    """Rebuild every read model from the event archive and switch it in (docs/runbook.md)."""
    from touchstream.projections.migrations import migrate
    from touchstream.projections.warehouse import WarehouseError, open_warehouse
    from touchstream.services.replay import ReplayReport, rebuild

    settings = Settings()
    client = _running(settings)
    try:
        if client is not None:  # `up` owns the warehouse: it rebuilds, its processors paused
            client.timeout = 6 * 3600
            with console.status("rebuilding inside the running touchstream (processing paused)…"):
                status, body = client.post_json("/v1/admin/replay", {})
            if status != 200:
                raise ValueError((body or {}).get("error", f"HTTP {status}"))
            report = ReplayReport(**body)
        else:
            with instance.data_dir_lock(settings.data_dir):
                warehouse = open_warehouse(settings.resolved_warehouse_url)
                try:
                    migrate(warehouse)
                    with console.status("rebuilding…") as status_line:

                        def progress(r: ReplayReport) -> None:
                            status_line.update(f"rebuilding… {r.events:,} archived events read")

                        report = rebuild(warehouse, progress)
                finally:
                    warehouse.close()
    except (ClientError, WarehouseError, instance.RuntimeBusy, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"rebuilt from {report.events:,} archived events in {report.seconds:.1f} s: "
        f"{report.projected:,} projected, {report.erased:,} erased (not projectable), "
        f"{report.invalid:,} no longer valid"
    )
    for table, rows in report.tables.items():
        console.print(f"  cx.{table}: {rows['before']:,} → {rows['after']:,} rows")


@app.command()
def schema(
    cluster: Annotated[
        str, typer.Option(help="Cluster name or macro for ON CLUSTER / Distributed.")
    ] = "{cluster}",
    since: Annotated[int, typer.Option(help="Only the migrations after this version.")] = 0,
) -> None:
    """Print the ClickHouse cluster DDL (Replicated + Distributed) generated from the migrations."""
    from touchstream.projections.cluster_schema import ClusterSchemaError, cluster_ddl

    try:
        sys.stdout.write(cluster_ddl(cluster, since))
    except ClusterSchemaError as exc:
        raise _fail(str(exc)) from None


keys_app = typer.Typer(
    help="API keys (hashed in TOUCHSTREAM_API_KEYS_FILE; see docs/operations.md).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
KeysFile = Annotated[
    Path | None, typer.Option("--file", help="Keys file (default: TOUCHSTREAM_API_KEYS_FILE).")
]


def _keys_file(given: Path | None) -> Path:
    path = given or Settings().api_keys_file
    if path is None:
        raise _fail("no keys file: pass --file or set TOUCHSTREAM_API_KEYS_FILE")
    return path


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who holds the key, e.g. crm-connector.")],
    scope: Annotated[
        list[str], typer.Option(help="publish, read or admin; repeat for several.")
    ] = ["publish"],  # noqa: B006 (typer reads the default, never mutates it)
    source: Annotated[
        list[str], typer.Option(help="Sources it may publish (shell patterns, e.g. '/crm/*').")
    ] = ["*"],  # noqa: B006
    type_: Annotated[
        list[str], typer.Option("--type", help="Event types it may publish ('cx.feedback.*').")
    ] = ["*"],  # noqa: B006
    rate: Annotated[float | None, typer.Option(help="Requests/s (default: settings).")] = None,
    burst: Annotated[int | None, typer.Option(help="Burst (default: settings).")] = None,
    file: KeysFile = None,
) -> None:
    """Create a key; it is printed once, only its SHA-256 is stored."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from touchstream.services.access import (
        AccessConfigError,
        KeyEntry,
        digest,
        new_key,
        read_keys,
        write_keys,
    )

    path = _keys_file(file)
    try:
        entries = read_keys(path) if path.exists() else []
        ident, key = new_key()
        entry = KeyEntry(
            id=ident,
            name=name,
            sha256=digest(key),
            scopes=frozenset(scope),  # type: ignore[arg-type]
            sources=tuple(source),
            types=tuple(type_),
            rate=rate,
            burst=burst,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(f"not a valid key: {problems}") from None
    write_keys(path, [*entries, entry])
    err.print(f"key {ident} ({name}) added to {path}; it is shown once, store it now:")
    print(key)


@keys_app.command("list")
def keys_list(file: KeysFile = None) -> None:
    """The keys in the file (ids, names, scopes, patterns; never the secrets)."""
    from touchstream.services.access import AccessConfigError, read_keys

    try:
        entries = read_keys(_keys_file(file))
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    for e in entries:
        scopes = ",".join(sorted(e.scopes))
        print(f"{e.id}\t{e.name}\t{scopes}\t{' '.join(e.sources)}\t{' '.join(e.types)}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id.")], file: KeysFile = None
) -> None:
    """Remove a key; a running `up` stops accepting it within a second."""
    from touchstream.services.access import AccessConfigError, read_keys, write_keys

    path = _keys_file(file)
    try:
        entries = read_keys(path)
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    kept = [e for e in entries if e.id != key_id]
    if len(kept) == len(entries):
        raise _fail(f"no key {key_id} in {path}")
    write_keys(path, kept)
    err.print(f"key {key_id} revoked")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
