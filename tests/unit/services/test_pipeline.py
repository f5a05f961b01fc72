"""The processors' batch pipeline without faust: a fake `send` that records what would be
published, and a real projector over an in-process chDB warehouse."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from tests.unit.projections.conftest import (
    T0,
    alert_acknowledged,
    churn_alerts_of,
    contact,
    happy_journey,
    identified,
    purchase,
    survey,
    unhappy_journey,
    voice,
)
from touchstream.events.alerts import AlertRaised
from touchstream.events.dead_letter import DeadLetter
from touchstream.events.kafka_binding import decode_record, encode_binary, encode_structured
from touchstream.projections.migrations import migrate
from touchstream.projections.warehouse import Warehouse, open_warehouse
from touchstream.services.processor import INBOUND_TYPES, Pipeline, Record, decode_all, until_done
from touchstream.services.projector import Projector
from touchstream.services.settings import Settings

TOUCHPOINTS, ALERTS, DEADLETTER = "cx.touchpoints.v1", "cx.alerts.v1", "cx.deadletter.v1"


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass
class Harness:
    pipeline: Pipeline
    warehouse: Warehouse
    sent: list[Sent] = field(default_factory=list)

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]

    def count(self, sql: str) -> int:
        return self.warehouse.query(sql)[0]["n"]


def run(coro) -> None:
    """Run one pipeline step; a projector stuck retrying fails the test instead of hanging it."""
    asyncio.run(asyncio.wait_for(coro, timeout=15))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    warehouse = open_warehouse(f"chdb://{tmp_path / 'warehouse'}")
    migrate(warehouse)
    projector = Projector(warehouse, retry_max_s=0.5)
    settings = Settings(
        touchpoints_topic=TOUCHPOINTS,
        alerts_topic=ALERTS,
        deadletter_topic=DEADLETTER,
    )
    sent: list[Sent] = []

    async def send(topic, key, value, headers) -> None:
        sent.append(Sent(topic, key, value, list(headers)))

    yield Harness(Pipeline(settings, projector, send), warehouse, sent)
    projector.close()
    warehouse.close()


def record(event=None, offset=0, *, topic=TOUCHPOINTS, key=None, value=None, headers=()):
    """A record as read from `topic`: an event in binary mode, or the raw parts given."""
    if event is not None:
        encoded = encode_binary(event)
        key, value, headers = encoded.key, encoded.value, encoded.headers
    return Record(topic, 0, offset, key, value, tuple(headers))


def republished(sent: Sent, offset: int) -> Record:
    """What a consumer of `sent.topic` reads back."""
    return Record(sent.topic, 0, offset, sent.key, sent.value, tuple(sent.headers))


# ---- decode_all -------------------------------------------------------------------------------


def test_valid_records_decode_to_their_events():
    event = contact()
    structured = encode_structured(purchase())
    valid, letters = decode_all(
        [record(event, 0), record(key=structured.key, value=structured.value, offset=1)],
        INBOUND_TYPES,
    )
    assert letters == []
    assert [(e, r.offset) for e, r in valid] == [(event, 0), (purchase(), 1)]


BROKEN = {
    "not-json": (b'{"customer_id": ', "not valid JSON"),
    "not-utf8": (b'{"customer_id": "\xff"}', "not valid UTF-8"),
    "no-value": (None, "empty record"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_undecodable_records_become_dead_letters_with_position_and_reason(case):
    value, expected = BROKEN[case]
    headers = (("ce_id", b"ev-1"), ("ce_type", b"cx.touchpoint.contact.v1"), ("trace", b"\xfe"))
    broken = Record(TOUCHPOINTS, 2, 77, b"c-1001", value, headers)
    valid, (letter,) = decode_all([broken], INBOUND_TYPES)
    assert valid == []
    assert expected in letter.reason
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        TOUCHPOINTS,
        2,
        77,
    )
    assert (letter.key, letter.value, letter.headers) == (b"c-1001", value, headers)
    assert letter.failed_at.endswith("Z")


def test_invalid_events_are_dead_lettered_naming_the_field():
    encoded = encode_binary(survey())
    data = orjson.loads(encoded.value)
    data["nps"] = 11
    valid, (letter,) = decode_all(
        [record(key=encoded.key, value=orjson.dumps(data), headers=encoded.headers, offset=5)],
        INBOUND_TYPES,
    )
    assert valid == []
    assert "nps" in letter.reason and letter.source_offset == 5


def test_an_alert_on_the_touchpoints_topic_is_dead_lettered():
    """Outbound types are refused on the input topic, so nobody can forge an alert there."""
    alert = churn_alerts_of(unhappy_journey())[0]
    valid, (letter,) = decode_all([record(alert, 9)], INBOUND_TYPES)
    assert valid == []
    assert "cx.alert.raised.v1" in letter.reason and TOUCHPOINTS in letter.reason


# ---- Pipeline.touchpoints ---------------------------------------------------------------------


def test_refused_records_are_published_as_dead_letters_and_projected_once(harness):
    alert = churn_alerts_of(unhappy_journey())[0]
    batch = [record(value=b"\xff\xfe", offset=3), record(alert, 4), record(contact(), 5)]
    run(harness.pipeline.touchpoints(batch))

    published = harness.to(DEADLETTER)
    letters = [DeadLetter.from_record(s.key, s.value, s.headers) for s in published]
    assert [(d.source_topic, d.source_offset) for d in letters] == [
        (TOUCHPOINTS, 3),
        (TOUCHPOINTS, 4),
    ]
    assert letters[0].value == b"\xff\xfe" and "UTF-8" in letters[0].reason
    assert harness.count("SELECT count() AS n FROM cx.events") == 1

    dead_topic = [republished(s, offset) for offset, s in enumerate(published)]
    run(harness.pipeline.dead_letters(dead_topic))
    run(harness.pipeline.dead_letters(dead_topic))
    rows = harness.warehouse.query(
        "SELECT source_offset, event_type FROM cx.dead_letters ORDER BY source_offset"
    )
    assert rows == [
        {"source_offset": 3, "event_type": ""},
        {"source_offset": 4, "event_type": "cx.alert.raised.v1"},
    ]


def test_a_batch_accounts_its_time_to_its_stages(harness):
    from prometheus_client import REGISTRY

    stages = ("decode", "enrich", "erasures", "segments", "project", "churn_risk")

    def spent() -> dict[str, float]:
        return {
            stage: REGISTRY.get_sample_value(
                "touchstream_batch_stage_seconds_total", {"topic": TOUCHPOINTS, "stage": stage}
            )
            or 0.0
            for stage in stages
        }

    before = spent()
    run(harness.pipeline.touchpoints([record(e, i) for i, e in enumerate(unhappy_journey())]))
    after = spent()
    assert all(after[stage] > before[stage] for stage in stages), (before, after)


def test_each_event_is_projected_exactly_once_despite_duplicates_and_replays(harness):
    batch = [
        record(contact("ev-1"), 0),
        record(purchase("ev-2"), 1),
        record(contact("ev-1"), 2),  # the producer retried: the same event again
    ]
    run(harness.pipeline.touchpoints(batch))
    run(harness.pipeline.touchpoints(batch))  # the whole batch replayed after a restart

    assert harness.count("SELECT count() AS n FROM cx.events") == 2
    assert harness.count("SELECT count() AS n FROM cx.timeline") == 2
    first = harness.warehouse.query("SELECT kafka_offset FROM cx.events WHERE id = 'ev-1'")
    assert first == [{"kafka_offset": 0}]
    assert harness.count("SELECT sum(events) AS n FROM cx.customer_profile") == 2
    assert harness.to(DEADLETTER) == []


def test_an_unhappy_journey_raises_one_churn_alert_whatever_the_batches(harness):
    journey = [record(event, offset) for offset, event in enumerate(unhappy_journey())]
    run(harness.pipeline.touchpoints(journey[:2]))
    run(harness.pipeline.touchpoints(journey[2:]))
    expected = churn_alerts_of(unhappy_journey())
    assert [s.value for s in harness.to(ALERTS)] == [encode_binary(a).value for a in expected]

    run(harness.pipeline.touchpoints(journey))  # the whole journey replayed in one batch
    sent = harness.to(ALERTS)
    assert {dict(s.headers)["ce_id"] for s in sent} == {a.id.encode() for a in expected}

    run(harness.pipeline.alerts([republished(s, offset) for offset, s in enumerate(sent)]))
    rows = harness.warehouse.query(
        "SELECT alert_id, revision, status, priority, evidence FROM cx.alerts FINAL"
    )
    assert rows == [
        {
            "alert_id": expected[0].data.alert_id,
            "revision": 1,
            "status": "open",
            "priority": expected[-1].data.priority,
            "evidence": expected[-1].data.evidence,
        }
    ]
    revisions = harness.count("SELECT count() AS n FROM cx.alert_revisions")
    assert revisions == len(expected) == 1


def test_satisfied_customers_raise_no_alert(harness):
    happy = [record(event, offset) for offset, event in enumerate(happy_journey())]
    run(harness.pipeline.touchpoints(happy))
    assert harness.to(ALERTS) == []


def test_a_touchpoint_event_on_the_alerts_topic_is_dead_lettered_not_projected(harness):
    run(harness.pipeline.alerts([record(contact(), 8, topic=ALERTS)]))
    (letter,) = harness.to(DEADLETTER)
    read = DeadLetter.from_record(letter.key, letter.value, letter.headers)
    assert (read.source_topic, read.source_offset) == (ALERTS, 8)
    assert harness.count("SELECT count() AS n FROM cx.alerts") == 0


def test_an_event_whose_row_cannot_be_built_is_dead_lettered_not_lost(harness, monkeypatch):
    import touchstream.services.processor as processor

    good, cursed = contact("c-1"), contact("c-2")
    real_row = processor.ingest_row

    def flaky_row(event, origin, received_at):
        if event.id == cursed.id:
            raise ZeroDivisionError("a bug in a summary")
        return real_row(event, origin, received_at)

    monkeypatch.setattr(processor, "ingest_row", flaky_row)
    run(harness.pipeline.touchpoints([record(good, 0), record(cursed, 1)]))

    assert harness.count(f"SELECT count() AS n FROM cx.events WHERE id = '{good.id}'") == 1
    [letter] = [DeadLetter.from_record(s.key, s.value, s.headers) for s in harness.to(DEADLETTER)]
    assert letter.source_offset == 1
    assert "internal error while projecting" in letter.reason and "a bug" in letter.reason


def test_an_unexpected_decoding_error_parks_the_record(monkeypatch):
    import touchstream.services.processor as processor

    def broken(value, headers, key):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(processor, "decode_record", broken)
    valid, letters = decode_all([record(contact("c-1"), 7)], INBOUND_TYPES)
    assert valid == []
    assert letters[0].source_offset == 7 and "decoder bug" in letters[0].reason


def test_a_failing_batch_is_retried_until_it_succeeds_never_raised():
    from touchstream.services.processor import until_done

    calls: list[int] = []

    async def handler(records) -> None:
        calls.append(len(records))
        if len(calls) < 3:
            raise ConnectionError("broker away")

    run(until_done(handler, [record(contact("c-1"))], retry_max_s=0.3))
    assert calls == [1, 1, 1]


# ---- segments -----------------------------------------------------------------------------------


def test_every_row_carries_the_segment_its_customer_had_when_it_was_projected(harness, tmp_path):
    run(harness.pipeline.touchpoints([record(survey("s-before", 1), 0)]))  # not identified yet
    run(harness.pipeline.touchpoints([record(identified("id-1", 2, segment="vip"), 1)]))
    run(harness.pipeline.touchpoints([record(survey("s-vip", 3), 2)]))
    # same batch: the segment changes between two answers
    changed = [
        record(identified("id-2", 4, segment="regular"), 3),
        record(survey("s-regular", 5), 4),
    ]
    run(harness.pipeline.touchpoints(changed))
    # a restarted processor (an empty book) reads the last segment back from the profile
    restarted = Pipeline(
        harness.pipeline.settings, harness.pipeline.projector, harness.pipeline.send
    )
    run(restarted.touchpoints([record(survey("s-after-restart", 6), 5)]))
    by_event = {
        r["event_id"]: r["segment"]
        for r in harness.warehouse.query("SELECT event_id, segment FROM cx.timeline")
    }
    assert by_event == {
        "s-before": "",
        "id-1": "vip",
        "s-vip": "vip",
        "id-2": "regular",
        "s-regular": "regular",
        "s-after-restart": "regular",
    }
    cuts = harness.warehouse.query(
        "SELECT segment, sum(surveys) AS n FROM cx.satisfaction_by_day GROUP BY segment"
        " ORDER BY segment"
    )
    assert cuts == [
        {"segment": "regular", "n": 2},
        {"segment": "unknown", "n": 1},
        {"segment": "vip", "n": 1},
    ]


# ---- touchpoint incidents -----------------------------------------------------------------------


def a_day_at_delivery(spike_hours: range) -> list:
    """30 app contacts an hour at delivery for 32 hours, one of them a complaint, except in the
    spike hours, when 12 are; then one event to close the last hour."""
    events = []
    for hour in range(32):
        complaints = 12 if hour in spike_hours else 1
        for n in range(30):
            minute = hour * 60 + n
            customer = f"c-{hour}-{n}"
            if n < complaints:
                events.append(
                    voice(
                        f"v-{hour}-{n}",
                        minute,
                        customer_id=customer,
                        channel="app",
                        touchpoint="delivery",
                        text="Parcel late again, nobody answers",
                        case_id=None,
                    )
                )
            else:
                events.append(
                    contact(
                        f"k-{hour}-{n}",
                        minute,
                        customer_id=customer,
                        channel="app",
                        touchpoint="delivery",
                        outcome="resolved",
                        wait_seconds=30,
                        case_id=None,
                    )
                )
    events.append(contact("closing", 33 * 60, channel="web", touchpoint="website"))
    return events


def incident_revisions(harness) -> list[AlertRaised]:
    alerts = [decode_record(s.value, s.headers, s.key) for s in harness.to(ALERTS)]
    return [a for a in alerts if a.data.kind == "touchpoint.incident"]


def test_a_spike_of_complaints_raises_one_incident_that_resolves_after_it(harness):
    events = a_day_at_delivery(spike_hours=range(24, 27))
    for start in range(0, len(events), 300):
        batch = [record(e, start + i) for i, e in enumerate(events[start : start + 300])]
        run(harness.pipeline.touchpoints(batch))
    revisions = incident_revisions(harness)
    assert len({a.data.alert_id for a in revisions}) == 1
    first, last = revisions[0].data, revisions[-1].data
    assert (first.touchpoint, str(first.channel), first.status) == ("delivery", "app", "open")
    assert first.raised_at == T0 + timedelta(hours=25)  # the end of the first spike hour
    assert "complaint" in first.title.lower()
    assert set(first.evidence) <= {e.id for e in events} and first.evidence
    assert last.status == "resolved" and last.revision == len(revisions)


def test_steady_complaints_raise_no_incident(harness):
    events = a_day_at_delivery(spike_hours=range(0))
    for start in range(0, len(events), 300):
        batch = [record(e, start + i) for i, e in enumerate(events[start : start + 300])]
        run(harness.pipeline.touchpoints(batch))
    assert incident_revisions(harness) == []


def _day_in_batches(size: int = 300) -> list[list[Record]]:
    events = a_day_at_delivery(spike_hours=range(24, 27))
    return [
        [record(e, start + i) for i, e in enumerate(events[start : start + size])]
        for start in range(0, len(events), size)
    ]


def _replica(harness, **kwargs) -> Pipeline:
    """Another processor process over the same warehouse, publishing through the same send."""
    pipeline = harness.pipeline
    return Pipeline(pipeline.settings, pipeline.projector, pipeline.send, **kwargs)


def test_a_restarted_judge_rebuilds_the_baseline_and_publishes_only_what_is_new(harness):
    batches = _day_in_batches()
    for batch in batches:
        run(harness.pipeline.touchpoints(batch))
    unbroken = [a.id for a in incident_revisions(harness)]
    assert len(unbroken) >= 2
    # again, as if from scratch (the rows are there, the progress is not), until the spike's
    # first revision is published; then the process stops and another starts
    harness.warehouse.query("TRUNCATE TABLE cx.stream_progress")
    harness.sent.clear()
    first = _replica(harness)
    for cut in range(len(batches)):
        run(first.touchpoints(batches[cut]))
        if incident_revisions(harness):
            break
    restarted = _replica(harness)
    for batch in batches[cut:]:  # the last batch was not committed: it is read again
        run(restarted.touchpoints(batch))
    assert [a.id for a in incident_revisions(harness)] == unbroken  # each published once


def test_with_two_replicas_only_the_reader_of_partition_zero_judges_once_both_delivered(harness):
    """Each replica projects its own partitions; the hour's counts come from the warehouse, so
    the judge must wait until the other replica has delivered the hour too."""
    events = a_day_at_delivery(spike_hours=range(24, 27))
    spike = [e for e in events if e.time >= T0 + timedelta(hours=24)]
    before = [e for e in events if e.time < T0 + timedelta(hours=24)]
    every = lambda: [0, 1]  # noqa: E731
    judge = _replica(harness, assigned=lambda: [0], partitions=every)
    other = _replica(harness, assigned=lambda: [1], partitions=every)
    run(other.touchpoints([Record(TOUCHPOINTS, 1, 0, *_parts(before[0]))]))  # it has begun
    run(judge.touchpoints([Record(TOUCHPOINTS, 0, i, *_parts(e)) for i, e in enumerate(before)]))
    complaints = [e for e in spike if e.id.startswith("v-")]
    contacts = [e for e in spike if not e.id.startswith("v-")]
    run(
        judge.touchpoints(
            [Record(TOUCHPOINTS, 0, 10_000 + i, *_parts(e)) for i, e in enumerate(contacts)]
        )
    )
    assert judge.health.watermark < T0 + timedelta(hours=24)  # partition 1 not delivered yet
    assert incident_revisions(harness) == []
    run(
        other.touchpoints([Record(TOUCHPOINTS, 1, i, *_parts(e)) for i, e in enumerate(complaints)])
    )
    assert incident_revisions(harness) == []  # the other replica projects, never judges
    run(other.escalate())
    assert incident_revisions(harness) == []
    run(judge.escalate())  # the judge's timer: its own partitions are quiet
    revisions = incident_revisions(harness)
    assert revisions and revisions[0].data.raised_at == T0 + timedelta(hours=25)


# ---- SLA breaches -------------------------------------------------------------------------------


def project_alerts(harness) -> None:
    sent = harness.to(ALERTS)
    run(harness.pipeline.alerts([republished(s, offset) for offset, s in enumerate(sent)]))


def test_an_alert_nobody_acknowledges_in_time_is_escalated_once(harness):
    journey = [record(event, offset) for offset, event in enumerate(unhappy_journey())]
    run(harness.pipeline.touchpoints(journey))
    project_alerts(harness)
    (churn,) = harness.warehouse.query("SELECT alert_id, sla_hours FROM cx.alerts FINAL")
    later = contact("ev-next-day", 60 * (2 + churn["sla_hours"]) + 1, customer_id="c-other")
    run(harness.pipeline.touchpoints([record(later, 10)]))
    run(harness.pipeline.escalate())
    project_alerts(harness)
    run(harness.pipeline.escalate())  # checked again: escalated already
    alerts = [decode_record(s.value, s.headers, s.key) for s in harness.to(ALERTS)]
    (breach,) = [a for a in alerts if a.data.kind == "alert.sla_breach"]  # sent once
    assert breach.data.evidence == [churn["alert_id"]]
    assert breach.data.priority == "P1"  # one step up from the churn alert's P2
    # opened at the detractor answer (two hours in), dated when it fell due
    assert breach.time == T0 + timedelta(hours=2 + churn["sla_hours"])


def test_an_acknowledged_alert_is_not_escalated(harness):
    journey = [record(event, offset) for offset, event in enumerate(unhappy_journey())]
    run(harness.pipeline.touchpoints(journey))
    project_alerts(harness)
    (churn,) = harness.warehouse.query("SELECT alert_id, sla_hours FROM cx.alerts FINAL")
    ack = alert_acknowledged("ev-ack", 180, alert_id=churn["alert_id"])
    later = contact("ev-next-day", 60 * (2 + churn["sla_hours"]) + 1, customer_id="c-other")
    run(harness.pipeline.touchpoints([record(ack, 10), record(later, 11)]))
    run(harness.pipeline.escalate())
    alerts = [decode_record(s.value, s.headers, s.key) for s in harness.to(ALERTS)]
    assert [a for a in alerts if a.data.kind == "alert.sla_breach"] == []
    (life,) = harness.warehouse.query(
        "SELECT state, seconds_to_acknowledge, sla_breached FROM cx.alert_lifecycle"
    )
    assert life == {"state": "acknowledged", "seconds_to_acknowledge": 3600, "sla_breached": 0}


def test_alerts_are_raised_again_when_publishing_them_failed(harness):
    """The detectors move on only once their alerts are published: a batch retried after the
    broker refused an alert raises the same alerts again."""
    failures = {"left": 1}
    send = harness.pipeline.send

    async def flaky(topic, key, value, headers):
        if topic == ALERTS and failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("broker away")
        await send(topic, key, value, headers)

    harness.pipeline.send = flaky
    journey = [record(event, offset) for offset, event in enumerate(unhappy_journey())]
    run(until_done(harness.pipeline.touchpoints, journey, retry_max_s=0.01))
    expected = churn_alerts_of(unhappy_journey())
    assert [s.value for s in harness.to(ALERTS)] == [encode_binary(a).value for a in expected]


def test_an_hour_waits_for_every_partition_before_it_is_judged(harness):
    """Partitions are consumed at their own pace: one running ahead must not close an hour
    whose events another partition has not delivered yet."""
    events = a_day_at_delivery(spike_hours=range(24, 27))
    spike_hour = [e for e in events if e.time >= T0 + timedelta(hours=24)]
    before = [e for e in events if e.time < T0 + timedelta(hours=24)]
    slow = [e for e in spike_hour if e.id.startswith("v-")]  # the complaints come late
    fast = [e for e in spike_hour if not e.id.startswith("v-")]
    watch = harness.pipeline.health
    watch.partitions = lambda: [0, 1]
    run(harness.pipeline.touchpoints([record(e, i) for i, e in enumerate(before)]))
    batch = [Record(TOUCHPOINTS, 1, i, *_parts(e)) for i, e in enumerate(fast)]
    run(harness.pipeline.touchpoints(batch))  # partition 1 is days ahead; 0 is not
    assert watch.watermark < T0 + timedelta(hours=24)
    late = [Record(TOUCHPOINTS, 0, 10_000 + i, *_parts(e)) for i, e in enumerate(slow)]
    run(harness.pipeline.touchpoints(late))
    revisions = incident_revisions(harness)
    assert revisions and revisions[0].data.raised_at == T0 + timedelta(hours=25)


def _parts(event) -> tuple:
    encoded = encode_binary(event)
    return encoded.key, encoded.value, tuple(encoded.headers)
