"""`touchstream up`: one process running the whole pipeline.

In order: take the data-directory lock, check the HTTP port, start the embedded broker (if
configured), create the topics, open the warehouse and apply migrations, then run the faust
worker with the HTTP server as one of its services. Ctrl-C (SIGINT) or SIGTERM stops it all;
`runtime.json` in the data directory tells other commands (`sql`, `demo`) where it listens.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import faust

from touchstream.projections.migrations import migrate
from touchstream.projections.warehouse import open_warehouse
from touchstream.services.broker import (
    BrokerError,
    EmbeddedBroker,
    ensure_port_free,
    ensure_topics,
)
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import HttpService, build_http_app
from touchstream.services.processor import build_app
from touchstream.services.projector import Projector
from touchstream.services.settings import Settings

log = logging.getLogger(__name__)


class RuntimeBusy(RuntimeError):
    """Another process already runs on this data directory."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[IO[str]]:
    """Exclusive lock: chDB allows one process per data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = read_runtime(data_dir / "runtime.json")
        where = f" (pid {running['pid']}, {running['http_url']})" if running else ""
        raise RuntimeBusy(
            f"another touchstream process is using {data_dir}{where}; stop it or set "
            "TOUCHSTREAM_DATA_DIR to another directory"
        ) from None
    try:
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def read_runtime(path: Path) -> dict | None:
    """The running process's ports, if one is alive."""
    try:
        info = json.loads(path.read_text())
        os.kill(info["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return info


def run(settings: Settings) -> None:
    """Run the embedded (or production-configured) pipeline until stopped."""
    with data_dir_lock(settings.data_dir):
        ensure_port_free(settings.http_host, settings.http_port, "HTTP", "TOUCHSTREAM_HTTP_PORT")
        broker = None
        if settings.embedded_broker:
            broker = EmbeddedBroker(settings.kafka_bootstrap, settings.data_dir / "broker.log")
            broker.start()
        try:
            _serve(settings)
        finally:
            if broker is not None:
                broker.stop()


def _serve(settings: Settings) -> None:
    topics = {
        settings.touchpoints_topic: settings.topic_partitions,
        settings.alerts_topic: settings.topic_partitions,
        settings.deadletter_topic: settings.topic_partitions,
    }
    ensure_topics(settings.kafka_bootstrap, topics)
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
        app = build_app(settings, projector)

        def health() -> dict[str, bool]:
            consumer = app.consumer if app.started else None
            return {"processors_assigned": bool(consumer and consumer.assignment())}

        http = HttpService(
            build_http_app(settings, gateway, projector, health),
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
            f"touchstream up: HTTP {http_url}  Kafka {settings.kafka_bootstrap}  "
            f"warehouse {settings.resolved_warehouse_url}  (Ctrl-C to stop)",
            flush=True,
        )
        worker = faust.Worker(app, http, loglevel=settings.log_level, quiet=True)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
    finally:
        runtime_file.unlink(missing_ok=True)
        gateway.close()
        projector.close()
        warehouse.close()


__all__ = ["BrokerError", "RuntimeBusy", "data_dir_lock", "read_runtime", "run"]
