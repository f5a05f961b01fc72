"""`touchstream up`: one process running the whole pipeline.

In order: take the data-directory lock, check the HTTP port, start the embedded broker (if
configured), create the topics, open the warehouse and apply migrations, then run the faust
worker with the HTTP server (and the webhook delivery, when webhook URLs are set) as its
services. Ctrl-C (SIGINT) or SIGTERM stops it all; with the embedded broker, whose log is in
memory only, the gateway first stops taking events and the processors project what the broker
holds (`drain`; a second signal stops at once). `runtime.json` in the data directory tells
other commands (`sql`, `demo`) where it listens, and holds the token of its warehouse relay.

With `TOUCHSTREAM_ROLE=processors` on the embedded stack, `up` attaches more processors to the
`up` already running on the same data directory: it joins the consumer group on that `up`'s
broker and uses that `up`'s chDB through the warehouse relay (services/warehouse_relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from functools import partial

import faust
import mode

from touchstream.projections.migrations import migrate
from touchstream.projections.sentiment import warm_up as warm_up_sentiment
from touchstream.projections.warehouse import open_warehouse
from touchstream.services import metrics
from touchstream.services.access import KeyRing, key_ring
from touchstream.services.broker import (
    EmbeddedBroker,
    ensure_port_free,
    ensure_topics,
    free_port,
)
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import HttpService, build_http_app
from touchstream.services.instance import data_dir_lock, read_runtime
from touchstream.services.processor import Activity, build_app
from touchstream.services.projector import Projector
from touchstream.services.replay import Replayer
from touchstream.services.settings import Settings
from touchstream.services.value_refit import ValueBook
from touchstream.services.warehouse_relay import (
    AttachedProcessors,
    OwnerWatch,
    Relay,
    RelayWarehouse,
)
from touchstream.services.webhooks import WebhookConfig, WebhookService

log = logging.getLogger(__name__)


class RoleError(ValueError):
    """A role that cannot run with these settings."""


#: Settings an attached processor process takes from the `up` it attaches to (runtime.json).
SHARED_WITH_ATTACHED = (
    "kafka_bootstrap",
    "touchpoints_topic",
    "alerts_topic",
    "deadletter_topic",
    "topic_partitions",
    "consumer_group",
)


def attaches(settings: Settings) -> bool:
    """Whether this `up` attaches processors to the embedded `up` that owns the chDB."""
    return settings.role == "processors" and settings.chdb_warehouse


def check_role(settings: Settings) -> None:
    """`all` runs anywhere; on the embedded stack (one process owns chDB and the Tansu child),
    `processors` attaches to a running `up` and `gateway` cannot run. More than one processor
    process is for the embedded warehouse, one partition at least for each."""
    if settings.processor_processes > 1 and not attaches(settings):
        if settings.role != "all" or not settings.chdb_warehouse:
            raise RoleError(
                "TOUCHSTREAM_PROCESSOR_PROCESSES is for the embedded warehouse (chDB) with "
                "TOUCHSTREAM_ROLE=all; with a ClickHouse server, run processor replicas "
                "(TOUCHSTREAM_ROLE=processors) instead"
            )
        if settings.processor_processes > settings.topic_partitions:
            raise RoleError(
                f"TOUCHSTREAM_PROCESSOR_PROCESSES={settings.processor_processes} exceeds "
                f"TOUCHSTREAM_TOPIC_PARTITIONS={settings.topic_partitions}: a processor process "
                "without a partition would have nothing to do"
            )
    if settings.role == "all" or attaches(settings):
        return
    if settings.embedded_broker or settings.chdb_warehouse:
        raise RoleError(
            f"TOUCHSTREAM_ROLE={settings.role} splits the pipeline over processes, which needs a "
            "Kafka cluster and a ClickHouse server: set TOUCHSTREAM_EMBEDDED_BROKER=false and "
            "TOUCHSTREAM_WAREHOUSE_URL=http(s)://..., or run TOUCHSTREAM_ROLE=all "
            "(TOUCHSTREAM_ROLE=processors beside a running `up` adds processor processes to it)"
        )


def run(settings: Settings) -> None:
    """Run the embedded (or production-configured) pipeline until stopped."""
    check_role(settings)
    webhooks = WebhookConfig.from_settings(settings)  # a bad webhook setting fails first
    keys = key_ring(settings.api_keys_file, settings.http_host, settings.allow_anonymous)
    if attaches(settings):
        _attach(settings, webhooks, keys)
        return
    with data_dir_lock(settings.data_dir):
        ensure_port_free(settings.http_host, settings.http_port, "HTTP", "TOUCHSTREAM_HTTP_PORT")
        broker = None
        if settings.embedded_broker:
            broker = EmbeddedBroker(settings.kafka_bootstrap, settings.data_dir / "broker.log")
            broker.start()
            pid = broker.pid
            if pid is not None:
                metrics.EMBEDDED_BROKER_RSS.set_function(lambda: metrics.resident_bytes(pid))
        try:
            _serve(settings, webhooks, keys)
        finally:
            if broker is not None:
                broker.stop()


def _attach(settings: Settings, webhooks: WebhookConfig | None, keys: KeyRing | None) -> None:
    """Processors attached to the `up` that owns this data directory: its broker, its chDB."""
    owner = read_runtime(settings.runtime_file)
    if owner is None or "relay_token" not in owner:
        raise RoleError(
            f"no touchstream up is running on the data directory {settings.data_dir}: start it "
            "first; TOUCHSTREAM_ROLE=processors adds processor processes to a running up"
        )
    owner_port = int(owner["http_url"].rsplit(":", 1)[1])
    port = settings.http_port
    if "http_port" not in settings.model_fields_set or port == owner_port:
        port = free_port(settings.http_host)
    ensure_port_free(settings.http_host, port, "HTTP", "TOUCHSTREAM_HTTP_PORT")
    # the stream as the owner sees it: its broker, topics, partitions and consumer group
    shared = {name: owner[name] for name in SHARED_WITH_ATTACHED}
    _serve(settings.model_copy(update={**shared, "http_port": port}), webhooks, keys, owner)


def _serve(
    settings: Settings,
    webhooks: WebhookConfig | None,
    keys: KeyRing | None,
    owner: dict | None = None,
) -> None:
    """Run the process's part of the pipeline; `owner`: the runtime.json of the `up` whose
    broker and chDB these attached processors use."""
    if owner is None:
        topics = {
            settings.touchpoints_topic: settings.topic_partitions,
            settings.alerts_topic: settings.topic_partitions,
            settings.deadletter_topic: settings.topic_partitions,
        }
        ensure_topics(settings.kafka_bootstrap, topics, settings.topic_replication)
        warehouse = open_warehouse(
            settings.resolved_warehouse_url,
            settings.warehouse_user,
            settings.warehouse_password.get_secret_value(),
        )
    else:
        warehouse = RelayWarehouse(owner["relay_url"], owner["relay_token"])
    projector = Projector(warehouse, settings.write_retry_max_s)
    gateway = Gateway(settings)
    runtime_file = settings.runtime_file
    relay = None
    try:
        if owner is None and (applied := migrate(warehouse)):
            log.info("applied migrations %s", [m.name for m in applied])
        value = ValueBook(projector)  # one value model for the processors and the HTTP server
        # more than one processor process: `up` keeps the rest, they attach to it
        spread = owner is None and settings.processor_processes > 1
        processing = settings.role in ("all", "processors") and not spread
        app = None
        activity = Activity()
        attached = None
        if spread:
            attached = AttachedProcessors(settings.processor_processes, settings.http_host)
        # chDB lives in this process: attached processors use it through the relay
        if owner is None and settings.chdb_warehouse:
            relay = Relay(warehouse, activity)
        # a rebuild inside `up` pauses its processors; with replicas, the others would write on
        replayer = None
        if settings.role == "all":
            replayer = (
                Replayer(projector, relay.attached, relay.gate) if relay else Replayer(projector)
            )
        if processing:
            warm_up_sentiment()  # load the Chinese segmenter now, not on the first complaint
            app = build_app(settings, projector, value, replayer, activity)

        def health() -> dict[str, bool]:
            if attached is not None:
                return {"processors_assigned": attached.ready}
            if app is None:  # the gateway serves as soon as it listens
                return {"gateway_listening": True}
            consumer = app.consumer if app.started else None
            return {"processors_assigned": bool(consumer and consumer.assignment())}

        http = HttpService(
            build_http_app(
                settings,
                gateway if settings.role != "processors" else None,
                projector,
                health,
                value,
                keys,
                replayer,
            ),
            settings.http_host,
            settings.http_port,
        )
        http_url = f"http://{settings.http_host}:{settings.http_port}"
        if owner is None:
            _write_runtime(settings, http_url, relay, attached)
        role = settings.role
        if owner is not None:
            role = f"processors attached to pid {owner['pid']}"
        elif attached is not None:
            role = f"gateway, broker and warehouse; processors in {len(attached.urls)} processes"
        print(
            f"touchstream up ({role}): HTTP {http_url}  Kafka {settings.kafka_bootstrap}  "
            f"warehouse {warehouse.url}  (Ctrl-C to stop)",
            flush=True,
        )
        services: list[mode.ServiceT] = [http]
        if relay is not None:
            services.append(relay)
        if webhooks is not None and processing:
            services.append(WebhookService(settings, webhooks))
        if owner is not None:
            services.append(OwnerWatch(owner["pid"], runtime_file))
        if attached is not None:
            services.append(attached)  # last: stopped first, while the relay still answers
        options = {"loglevel": settings.log_level, "quiet": True}
        drain_broker = partial(drain, gateway, activity, settings)
        draining = settings.embedded_broker and owner is None
        if app is not None and draining:
            worker = DrainingWorker(app, *services, drain=drain_broker, **options)
        elif app is not None:
            worker = faust.Worker(app, *services, **options)
        elif attached is not None and draining:
            worker = DrainingServices(*services, drain=drain_broker, **options)
        else:
            worker = mode.Worker(*services, **options)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
    finally:
        if owner is None:
            runtime_file.unlink(missing_ok=True)
        if relay is not None:
            relay.close()
        gateway.close()
        projector.close()
        warehouse.close()


def _write_runtime(
    settings: Settings,
    http_url: str,
    relay: Relay | None,
    attached: AttachedProcessors | None,
) -> None:
    """runtime.json, readable by this user only: it holds the warehouse relay's token."""
    info = {
        "pid": os.getpid(),
        "http_url": http_url,
        "kafka_bootstrap": settings.kafka_bootstrap,
        "warehouse_url": settings.resolved_warehouse_url,
        "started_at": time.time(),
    }
    if relay is not None:
        info |= {"relay_url": relay.url, "relay_token": relay.token}
        info |= {name: getattr(settings, name) for name in SHARED_WITH_ATTACHED}
    if attached is not None:
        info["processor_urls"] = attached.urls
    path = settings.runtime_file
    path.unlink(missing_ok=True)  # a file left by a killed `up` may have other permissions
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out)


class _DrainsFirst(mode.Worker):
    """A worker that, on SIGINT or SIGTERM, runs `drain` before it stops; a second signal stops
    it at once."""

    def __init__(self, *args: object, drain: Callable[[], Awaitable[None]], **kwargs: object):
        super().__init__(*args, **kwargs)
        self._drain = drain
        self._draining: asyncio.Future[None] | None = None

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain_then_stop(signum), loop=self.loop)
        else:
            super()._schedule_shutdown(signum)

    async def _drain_then_stop(self, signum: signal.Signals) -> None:
        try:
            await self._drain()
        except Exception:
            log.exception("draining failed; stopping anyway")
        super()._schedule_shutdown(signum)


class DrainingWorker(_DrainsFirst, faust.Worker):
    """The faust worker of `up` with the embedded broker."""


class DrainingServices(_DrainsFirst):
    """`up` with the embedded broker and its processors in processes of their own."""


async def drain(gateway: Gateway, activity: Activity, settings: Settings) -> None:
    """Before the embedded broker goes (and its log with it): take no more events, and let the
    processors project what it holds, until no records have arrived for a few fetch waits or
    `drain_timeout_s` has passed."""
    gateway.stop_accepting()
    quiet_s = max(2.0, 10 * settings.consumer_fetch_wait_s, 2 * settings.batch_max_wait_s)
    started, received = time.monotonic(), activity.records
    print(
        "stopping: the gateway takes no more events; projecting what the broker holds "
        f"(at most {settings.drain_timeout_s:g} s; Ctrl-C again to stop now)",
        flush=True,
    )
    reported = started
    while activity.quiet_for() < quiet_s:
        now = time.monotonic()
        if now - started >= settings.drain_timeout_s:
            print(
                f"stopping: gave up draining after {settings.drain_timeout_s:g} s; records still "
                "on the broker and not projected are lost with it (replay them from their source)",
                flush=True,
            )
            return
        if now - reported >= 5:
            print(f"stopping: {activity.records - received:,} records projected so far", flush=True)
            reported = now
        await asyncio.sleep(0.1)
    print(
        f"stopping: drained ({activity.records - received:,} records projected in "
        f"{time.monotonic() - started:.1f} s)",
        flush=True,
    )
