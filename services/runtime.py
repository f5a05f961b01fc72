"""`touchstream up`: one process running the whole pipeline.

In order: take the data-directory lock, check the HTTP port, start the embedded broker (if
configured), create the topics, open the warehouse and apply migrations, then run the faust
worker with the HTTP server (and the webhook delivery, when webhook URLs are set) as its
services. Ctrl-C (SIGINT) or SIGTERM stops it all; with the embedded broker, whose log is in
memory only, the gateway first stops taking events and the processors project what the broker
holds (`drain`; a second signal stops at once). `runtime.json` in the data directory tells
other commands (`sql`, `demo`) where it listens.
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
)
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import HttpService, build_http_app
from touchstream.services.instance import data_dir_lock
from touchstream.services.processor import Activity, build_app
from touchstream.services.projector import Projector
from touchstream.services.replay import Replayer
from touchstream.services.settings import Settings
from touchstream.services.value_refit import ValueBook
from touchstream.services.webhooks import WebhookConfig, WebhookService

log = logging.getLogger(__name__)


class RoleError(ValueError):
    """A role that cannot run with these settings."""


def check_role(settings: Settings) -> None:
    """Only `all` runs on the embedded stack: one process owns chDB and the Tansu child."""
    if settings.role == "all":
        return
    if settings.embedded_broker or settings.resolved_warehouse_url.startswith("chdb://"):
        raise RoleError(
            f"TOUCHSTREAM_ROLE={settings.role} splits the pipeline over processes, which needs a "
            "Kafka cluster and a ClickHouse server: set TOUCHSTREAM_EMBEDDED_BROKER=false and "
            "TOUCHSTREAM_WAREHOUSE_URL=http(s)://..., or run TOUCHSTREAM_ROLE=all"
        )


def run(settings: Settings) -> None:
    """Run the embedded (or production-configured) pipeline until stopped."""
    check_role(settings)
    webhooks = WebhookConfig.from_settings(settings)  # a bad webhook setting fails first
    keys = key_ring(settings.api_keys_file, settings.http_host, settings.allow_anonymous)
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


def _serve(settings: Settings, webhooks: WebhookConfig | None, keys: KeyRing | None) -> None:
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
    projector = Projector(warehouse, settings.write_retry_max_s)
    gateway = Gateway(settings)
    runtime_file = settings.runtime_file
    try:
        applied = migrate(warehouse)
        if applied:
            log.info("applied migrations %s", [m.name for m in applied])
        value = ValueBook(projector)  # one value model for the processors and the HTTP server
        processing = settings.role in ("all", "processors")
        app = None
        # a rebuild inside `up` pauses its processors; with replicas, the others would write on
        replayer = Replayer(projector) if settings.role == "all" else None
        activity = Activity()
        if processing:
            warm_up_sentiment()  # load the Chinese segmenter now, not on the first complaint
            app = build_app(settings, projector, value, replayer, activity)

        def health() -> dict[str, bool]:
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
        runtime_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "http_url": http_url,
                    "kafka_bootstrap": settings.kafka_bootstrap,
                    "warehouse_url": settings.resolved_warehouse_url,
                    "started_at": time.time(),
                }
            )
        )
        print(
            f"touchstream up ({settings.role}): HTTP {http_url}  Kafka {settings.kafka_bootstrap}  "
            f"warehouse {settings.resolved_warehouse_url}  (Ctrl-C to stop)",
            flush=True,
        )
        services = [http]
        if webhooks is not None and processing:
            services.append(WebhookService(settings, webhooks))
        if app is None:
            worker = mode.Worker(*services, loglevel=settings.log_level, quiet=True)
        elif settings.embedded_broker:
            drain_broker = partial(drain, gateway, activity, settings)
            worker = DrainingWorker(
                app, *services, drain=drain_broker, loglevel=settings.log_level, quiet=True
            )
        else:
            worker = faust.Worker(app, *services, loglevel=settings.log_level, quiet=True)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
    finally:
        runtime_file.unlink(missing_ok=True)
        gateway.close()
        projector.close()
        warehouse.close()


class DrainingWorker(faust.Worker):
    """A faust worker that, on SIGINT or SIGTERM, runs `drain` before it stops; a second signal
    stops it at once."""

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
