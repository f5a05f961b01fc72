"""`touchstream alerts [--follow]`: a readable terminal view of the alert stream."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from rich.console import Console
from rich.text import Text

from touchstream.events.alerts import AlertRaised
from touchstream.events.catalog import EventInvalid
from touchstream.events.kafka_binding import decode_record
from touchstream.services.client import TouchstreamClient
from touchstream.services.settings import Settings

log = logging.getLogger(__name__)
_PRIORITY_STYLE = {"P1": "bold white on red", "P2": "bold red", "P3": "yellow", "P4": "dim"}


def render(alert: dict[str, Any]) -> Text:
    """One alert as two lines: what and why (reasons, evidence, suggested action)."""
    priority = alert["priority"]
    line = Text()
    line.append(f" {priority} ", style=_PRIORITY_STYLE.get(priority, ""))
    line.append(f" {alert['raised_at'][:16]}  {alert['kind']}  ", style="dim")
    line.append(alert["title"], style="bold")
    reasons = "; ".join(r["text"] for r in alert["reasons"])
    line.append(f"\n      why: {reasons}  evidence: {', '.join(alert['evidence'])}")
    if alert.get("suggested_action"):
        line.append(f"\n      do:  {alert['suggested_action']}", style="green")
    return line


def show_recent(client: TouchstreamClient, limit: int, console: Console) -> set[str]:
    status, body = client.get_json(f"/v1/alerts?limit={limit}")
    alerts = body["alerts"] if status == 200 else []
    for alert in reversed(alerts):
        console.print(render(alert))
    if not alerts:
        console.print("no alerts yet", style="dim")
    return {a["alert_id"] for a in alerts}


def follow_alerts(settings: Settings, seen: set[str], console: Console) -> None:
    """Print each new alert from the alerts topic until Ctrl-C (any Kafka client could)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    partitions = consumer.partitions_for_topic(settings.alerts_topic) or {0}
    assigned = [TopicPartition(settings.alerts_topic, p) for p in partitions]
    consumer.assign(assigned)
    consumer.seek_to_end(*assigned)
    for partition in assigned:  # resolve the end now: alerts raised from here on are shown
        consumer.position(partition)
    console.print(f"following {settings.alerts_topic} (Ctrl-C to stop)", style="dim")
    # Ctrl-C sets a flag checked between polls rather than raising inside the Kafka client,
    # which can swallow it or hang closing half-way through a request.
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    _print_record(record, seen, console)
    finally:
        signal.signal(signal.SIGINT, previous)
        consumer.close(autocommit=False)


def alert_of(record: Any, reader: str) -> AlertRaised | None:
    """The alert a record of the alerts topic carries, or None (logged) for one that is not a
    valid alert: the processors dead-letter those, and no reader of the topic may stop on one."""
    try:
        event = decode_record(record.value, record.headers, record.key)
    except EventInvalid as exc:
        log.warning("%s skips record %s/%s: %s", reader, record.partition, record.offset, exc)
        return None
    except Exception:  # a decoding bug must not stop the reader
        log.exception("%s: decoding record %s/%s failed", reader, record.partition, record.offset)
        return None
    if not isinstance(event, AlertRaised):
        log.warning("%s skips record %s/%s: not an alert", reader, record.partition, record.offset)
        return None
    return event


def _print_record(record: Any, seen: set[str], console: Console) -> None:
    event = alert_of(record, "alerts --follow")
    if event is None:
        console.print(f"unreadable record at offset {record.offset} (not an alert)", style="red")
        return
    if event.data.alert_id in seen:
        return
    seen.add(event.data.alert_id)
    console.print(
        render(event.data.model_dump(mode="json") | {"raised_at": event.data.raised_at.isoformat()})
    )
