"""Touchpoint health: which windows make an incident, how it lives and ends, and its alert.

The histories are realistic: Poisson volumes, binomial counts and exponential waits, around
rates that themselves drift from window to window (staffing, time of day), all from a seed.
Window `i` starts `i` hours after `T0`; the first `NORMAL` windows are ordinary.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from touchstream.events.kafka_binding import encode_binary
from touchstream.projections.alert_ids import alert_id
from touchstream.projections.touchpoint_health import (
    HealthModel,
    IncidentChange,
    TouchpointMonitor,
    WindowCounts,
    incident_alert,
    replay,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
NORMAL = 60
CLEAR = HealthModel().clear_windows


def at(i: int) -> datetime:
    return T0 + i * HOUR


def history(
    windows: int,
    *,
    seed: int = 7,
    touchpoint: str = "delivery",
    channel: str = "app",
    contacts: int = 300,
    variation: float = 0.1,
    changed: dict[int, dict[str, float]] | None = None,
) -> list[WindowCounts]:
    """`windows` hourly windows of one touchpoint × channel. `changed[i]` overrides true rates
    of window i: complaint_rate, negative_share, detractor_share, low_csat_share,
    repeat_contact_rate, or wait (mean seconds)."""
    rng = np.random.RandomState(seed)  # the legacy generator: its streams never change
    normal = {"complaint_rate": 0.04, "negative_share": 0.2, "detractor_share": 0.15}
    normal |= {"low_csat_share": 0.1, "repeat_contact_rate": 0.08, "wait": 120.0}
    out = []
    for i in range(windows):
        rates = normal | (changed or {}).get(i, {})

        def drawn(name: str, n: int, rates: dict[str, float] = rates) -> int:
            return int(rng.binomial(n, min(0.99, rates[name] * rng.lognormal(0, variation))))

        n = int(rng.poisson(contacts))
        texts, nps, csat = (int(rng.poisson(v)) for v in (contacts * 0.4, 40, 40))
        waits = rng.exponential(rates["wait"] * rng.lognormal(0, variation), size=n)
        out.append(
            WindowCounts(
                touchpoint=touchpoint,
                channel=channel,
                window_start=at(i),
                contacts=n,
                complaints=drawn("complaint_rate", n),
                texts=texts,
                negative_texts=drawn("negative_share", texts),
                nps_responses=nps,
                detractors=drawn("detractor_share", nps),
                csat_responses=csat,
                csat_low=drawn("low_csat_share", csat),
                wait_count=n,
                wait_sum_seconds=float(waits.sum()),
                repeat_contacts=drawn("repeat_contact_rate", n),
                sample_event_ids=(
                    f"ev-{touchpoint}-{channel}-{i}-1",
                    f"ev-{touchpoint}-{channel}-{i}-2",
                ),
            )
        )
    return out


def spike(first: int, last: int, **rates: float) -> dict[int, dict[str, float]]:
    return {i: dict(rates) for i in range(first, last + 1)}


def changes_of(windows: list[WindowCounts]) -> list[IncidentChange]:
    return replay(windows)[1]


def story(changes: list[IncidentChange]) -> list[tuple[str, int, int]]:
    """Each change as (kind, window index, revision)."""
    return [(c.kind, (c.window_start - T0) // HOUR, c.revision) for c in changes]


def observe_all(monitor: TouchpointMonitor, windows: list[WindowCounts]) -> list[IncidentChange]:
    return [change for window in windows for change in monitor.observe(window)]


# ------------------------------------------------------------------------------ no alerts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_steady_noisy_touchpoint_raises_nothing_in_200_windows(seed):
    windows = history(200, seed=seed)
    monitor, changes = replay(windows)
    assert changes == []
    baseline = monitor.baseline("delivery", "app")
    assert baseline["complaint_rate"] == pytest.approx(0.04, abs=0.008)
    assert baseline["mean_wait"] == pytest.approx(120, rel=0.1)
    assert set(baseline) == {
        "complaint_rate",
        "negative_share",
        "detractor_share",
        "low_csat_share",
        "mean_wait",
        "repeat_contact_rate",
    }


def test_a_busy_touchpoint_whose_rates_drift_more_than_the_binomial_raises_nothing():
    """5,000 contacts an hour and a complaint rate that drifts ±15% from hour to hour: the
    plain binomial z calls many of these hours 3σ events; the learnt dispersion does not."""
    windows = history(200, seed=11, contacts=5000, variation=0.15)
    naive = [
        (w.complaints - 0.04 * w.contacts) / np.sqrt(w.contacts * 0.04 * 0.96) for w in windows
    ]
    assert sum(z >= 3 for z in naive) >= 10
    assert changes_of(windows) == []


def test_windows_too_small_to_judge_never_alert_even_at_a_100_percent_complaint_rate():
    small = WindowCounts(
        "delivery", "app", at(0), contacts=2, complaints=2, texts=2, negative_texts=2,
        nps_responses=2, detractors=2, csat_responses=2, csat_low=2, wait_count=2,
        wait_sum_seconds=7200.0, repeat_contacts=2, sample_event_ids=("ev-small",),
    )  # fmt: skip
    tiny = [replace(small, window_start=at(i)) for i in range(NORMAL, NORMAL + 10)]
    assert changes_of(history(NORMAL) + tiny + history(100)[NORMAL + 10 :]) == []


def test_one_moderate_window_alone_is_not_an_incident():
    windows = history(100)
    windows[NORMAL] = replace(windows[NORMAL], contacts=300, complaints=28)
    assert changes_of(windows) == []


def test_a_touchpoint_that_never_had_a_complaint_alerts_on_a_burst_not_on_the_first_one():
    calm = [replace(w, complaints=0) for w in history(100)]
    one = [*calm[:NORMAL], replace(calm[NORMAL], complaints=1), *calm[NORMAL + 1 :]]
    assert changes_of(one) == []
    burst = [*calm[:NORMAL], replace(calm[NORMAL], complaints=20), *calm[NORMAL + 1 :]]
    assert story(changes_of(burst)) == [("opened", NORMAL, 1), ("resolved", NORMAL + CLEAR, 2)]


def test_four_complaints_in_twenty_contacts_twice_is_not_an_incident_at_a_4_percent_baseline():
    """The normal approximation calls 4 of 20 against 4% z = 3.65, and twice in a row an
    incident; the exact binomial tail knows it happens once in 135 windows. Seven of twenty
    (once in 125,000) twice in a row is one."""
    steady = [WindowCounts("delivery", "app", at(i), contacts=25, complaints=1) for i in range(100)]

    def twice(complaints: int) -> list[WindowCounts]:
        bad = [replace(steady[i], contacts=20, complaints=complaints) for i in (NORMAL, NORMAL + 1)]
        return [*steady[:NORMAL], *bad, *steady[NORMAL + 2 :]]

    assert changes_of(twice(4)) == []
    opened = changes_of(twice(7))[0]
    assert (opened.kind, opened.window_start, opened.opened_at) == ("opened", at(61), at(60))
    assert opened.metrics[0].z == pytest.approx(4.31, abs=0.01)


# ------------------------------------------------------------------------------ incidents


def test_a_complaint_spike_is_one_incident_opened_updated_and_resolved():
    """Four hours at 18% against 4%: opened in the first, updated in the next three, resolved
    after the `CLEAR` normal hours that follow (this seed's are normal from the first)."""
    windows = history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18))
    changes = changes_of(windows)
    assert story(changes) == [
        ("opened", NORMAL, 1),
        ("updated", NORMAL + 1, 2),
        ("updated", NORMAL + 2, 3),
        ("updated", NORMAL + 3, 4),
        ("resolved", NORMAL + 3 + CLEAR, 5),
    ]
    ident = alert_id("touchpoint.incident", "delivery", "app", at(NORMAL).isoformat())
    assert {c.alert_id for c in changes} == {ident}
    assert all(c.opened_at == at(NORMAL) for c in changes)
    assert all(c.affected == ("complaint_rate",) for c in changes)
    opened, resolved = changes[0], changes[-1]
    assert re.fullmatch(
        r"Complaint rate at delivery/app is 1\d% vs 4\.\d% baseline \(z=\d+\.\d\)", opened.title
    ), opened.title
    assert opened.metrics[0].z >= 5 and opened.raised_at == at(NORMAL + 1)
    assert opened.evidence == ("ev-delivery-app-60-1", "ev-delivery-app-60-2")
    assert "ev-delivery-app-63-2" in resolved.evidence
    assert resolved.title.startswith("Resolved: complaint rate at delivery/app is back to ")
    assert resolved.metrics[0].z < 1.5 and resolved.metrics[0].threshold == 1.5
    assert resolved.worst_z == max(c.metrics[0].z for c in changes[:-1])


def test_a_moderate_rise_needs_two_windows_in_a_row_and_the_incident_dates_from_the_first():
    windows = history(100)
    for i in (NORMAL, NORMAL + 1):
        windows[i] = replace(windows[i], contacts=300, complaints=28)
    changes = changes_of(windows)
    assert story(changes) == [("opened", NORMAL + 1, 1), ("resolved", NORMAL + 1 + CLEAR, 2)]
    opened = changes[0]
    assert 3 <= opened.metrics[0].z < 5
    assert opened.opened_at == at(NORMAL)
    assert opened.alert_id == alert_id(
        "touchpoint.incident", "delivery", "app", at(NORMAL).isoformat()
    )
    assert (
        opened.evidence[0] == "ev-delivery-app-60-1" and "ev-delivery-app-61-1" in opened.evidence
    )


def test_a_wait_time_surge_is_detected_as_such():
    windows = history(100, changed=spike(NORMAL, NORMAL + 2, wait=400.0))
    changes = changes_of(windows)
    assert story(changes) == [
        ("opened", NORMAL, 1),
        ("updated", NORMAL + 1, 2),
        ("updated", NORMAL + 2, 3),
        ("resolved", NORMAL + 2 + CLEAR, 4),
    ]
    opened = changes[0]
    assert opened.affected == ("mean_wait",)
    assert re.fullmatch(
        r"Mean wait at delivery/app is \d\.\d min vs 2\.\d min baseline \(z=\d+\.\d\)", opened.title
    ), opened.title
    assert "staff" in opened.suggested_action


def test_the_baseline_does_not_absorb_a_long_incident():
    """Thirty hours at 3.75 times the normal complaint rate: a plain EWMA would call that
    the new normal within a day; the incident stays one incident, open to its last hour."""
    windows = history(140, changed=spike(NORMAL, NORMAL + 29, complaint_rate=0.15))
    monitor = TouchpointMonitor()
    assert observe_all(monitor, windows[:NORMAL]) == []
    normal = monitor.baseline("delivery", "app")
    during = observe_all(monitor, windows[NORMAL : NORMAL + 30])
    assert monitor.baseline("delivery", "app") == normal
    assert [c.kind for c in during] == ["opened"] + ["updated"] * 29
    assert during[-1].metrics[0].z >= 3 and monitor.open_incident("delivery", "app")
    after = observe_all(monitor, windows[NORMAL + 30 :])
    assert story(after) == [("resolved", NORMAL + 29 + CLEAR, 31)]
    assert monitor.baseline("delivery", "app") != normal  # learning resumed afterwards


def test_a_quiet_spell_neither_resolves_nor_prolongs_an_incident():
    windows = history(100, changed=spike(NORMAL, NORMAL + 1, complaint_rate=0.18))
    quiet = range(NORMAL + 2, NORMAL + 12)
    for i in quiet:
        windows[i] = replace(windows[i], contacts=5, complaints=0, texts=2, negative_texts=0,
                             nps_responses=0, detractors=0, csat_responses=0, csat_low=0,
                             wait_count=5, wait_sum_seconds=600.0, repeat_contacts=0)  # fmt: skip
    monitor = TouchpointMonitor()
    changes = observe_all(monitor, windows[: NORMAL + 12])
    assert story(changes) == [("opened", NORMAL, 1), ("updated", NORMAL + 1, 2)]
    assert monitor.open_incident("delivery", "app") is not None
    assert story(observe_all(monitor, windows[NORMAL + 12 :])) == [
        ("resolved", NORMAL + 11 + CLEAR, 3)
    ]


def test_a_relapse_or_a_metric_still_raised_keeps_it_one_incident():
    short = spike(NORMAL, NORMAL + 1, complaint_rate=0.18)
    assert story(changes_of(history(100, changed=short))) == [
        ("opened", NORMAL, 1),
        ("updated", NORMAL + 1, 2),
        ("resolved", NORMAL + 1 + CLEAR, 3),
    ]
    relapse = short | spike(NORMAL + 4, NORMAL + 4, complaint_rate=0.18)
    assert story(changes_of(history(100, changed=relapse))) == [
        ("opened", NORMAL, 1),
        ("updated", NORMAL + 1, 2),
        ("updated", NORMAL + 4, 3),
        ("resolved", NORMAL + 4 + CLEAR, 4),
    ]
    still_raised = history(100, changed=short)
    # 20 of 300 against a 4.2% baseline: not anomalous (z < 3), not normal either (z >= 1.5)
    still_raised[NORMAL + 3] = replace(still_raised[NORMAL + 3], contacts=300, complaints=20)
    assert story(changes_of(still_raised)) == [
        ("opened", NORMAL, 1),
        ("updated", NORMAL + 1, 2),
        ("resolved", NORMAL + 3 + CLEAR, 3),
    ]


def test_several_metrics_at_once_make_one_p1_incident_that_names_them_all():
    rates = {"complaint_rate": 0.12, "negative_share": 0.45, "repeat_contact_rate": 0.2}
    changes = changes_of(history(100, changed=spike(NORMAL, NORMAL + 1, **rates)))
    assert [c.kind for c in changes] == ["opened", "updated", "resolved"]
    assert set(changes[0].affected) == set(rates)
    assert {c.priority for c in changes} == {"P1"}
    assert "; also " in changes[0].title
    assert [r.metric for r in changes[-1].metrics] == list(changes[0].affected)


def test_a_single_metric_incident_of_moderate_size_is_p2():
    windows = history(100)
    for i in (NORMAL, NORMAL + 1):
        windows[i] = replace(windows[i], contacts=300, complaints=28)
    assert {c.priority for c in changes_of(windows)} == {"P2"}


def test_incidents_belong_to_one_touchpoint_and_channel():
    app = history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18))
    phone = history(100, seed=8, channel="phone")
    monitor, changes = replay(app + phone)
    assert {(c.touchpoint, c.channel) for c in changes} == {("delivery", "app")}
    assert monitor.open_incident("delivery", "phone") is None


# ------------------------------------------------------------------ determinism and state


def test_two_runs_raise_the_very_same_alerts():
    windows = history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18))
    first, again = changes_of(windows), changes_of(list(windows))
    assert first == again
    alerts = [encode_binary(incident_alert(c)) for c in first]
    assert alerts == [encode_binary(incident_alert(c)) for c in again]
    later = history(100, changed=spike(NORMAL + 5, NORMAL + 8, complaint_rate=0.18))
    assert changes_of(later)[0].alert_id != first[0].alert_id


def test_a_window_delivered_twice_changes_nothing_the_second_time():
    windows = history(NORMAL + 2, changed=spike(NORMAL, NORMAL + 1, complaint_rate=0.18))
    monitor = TouchpointMonitor()
    observe_all(monitor, windows)
    state = monitor.to_dict()
    assert observe_all(monitor, windows[-3:]) == []
    assert monitor.to_dict() == state


def test_the_state_round_trips_through_json():
    windows = history(NORMAL + 2, changed=spike(NORMAL, NORMAL + 1, complaint_rate=0.18))
    windows += history(NORMAL, seed=8, channel="phone")
    monitor, _ = replay(windows)
    state = monitor.to_dict()
    restored = TouchpointMonitor.from_dict(json.loads(json.dumps(state)))
    assert restored.to_dict() == state
    assert restored.open_incident("delivery", "app") == monitor.open_incident("delivery", "app")
    assert restored.baseline("delivery", "phone") == monitor.baseline("delivery", "phone")


@pytest.mark.parametrize("cut", [NORMAL - 30, NORMAL + 1, NORMAL + 5])
def test_a_restored_checkpoint_carries_on_exactly_like_the_original(cut):
    windows = history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18))
    uninterrupted = changes_of(windows)
    monitor, before = replay(windows[:cut])
    restored = TouchpointMonitor.from_dict(json.loads(json.dumps(monitor.to_dict())))
    assert before + observe_all(restored, windows[cut:]) == uninterrupted


def test_a_state_from_another_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        TouchpointMonitor.from_dict({"version": 99, "keys": []})


def test_replay_gives_what_incremental_observation_gives():
    app = history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18))
    phone = history(100, seed=8, channel="phone", changed=spike(70, 72, wait=500.0))
    in_time_order = [w for pair in zip(app, phone, strict=True) for w in pair]
    monitor = TouchpointMonitor()
    incremental = observe_all(monitor, in_time_order)
    rebuilt, replayed = replay(app + phone)  # one touchpoint's history after the other
    assert replayed == incremental
    assert {c.channel for c in replayed} == {"app", "phone"}
    assert rebuilt.to_dict() == monitor.to_dict()


# -------------------------------------------------------------------------------- alerts


def test_each_change_is_one_revision_of_one_explained_alert():
    changes = changes_of(history(100, changed=spike(NORMAL, NORMAL + 3, complaint_rate=0.18)))
    alerts = [incident_alert(c) for c in changes]
    ident = changes[0].alert_id
    assert [a.id for a in alerts] == [f"{ident}.r{n}" for n in range(1, 6)]
    for alert, change in zip(alerts, changes, strict=True):
        d = alert.data
        assert (d.alert_id, d.kind, d.rule, d.revision) == (
            ident,
            "touchpoint.incident",
            "touchpoint-health",
            change.revision,
        )
        assert (d.touchpoint, d.channel, alert.subject) == ("delivery", "app", "delivery/app")
        assert d.status == ("resolved" if change.kind == "resolved" else "open")
        assert alert.time == d.raised_at == change.window_start + HOUR
        assert d.title == change.title and d.suggested_action == change.suggested_action
        assert d.evidence == list(change.evidence)
        status, *metrics = d.reasons
        assert (status.code, status.observed) == ("incident_status", change.kind)
        assert [(r.code, r.observed) for r in metrics] == [
            (m.metric, round(m.z, 2)) for m in change.metrics
        ]
        assert alert.key == ident
        encode_binary(alert)  # a valid event on the wire
    opened = alerts[0].data.reasons[1]
    assert opened.threshold == 3.0 and "contacts) vs 4." in opened.text and "≥ 3" in opened.text
    assert "resolved" in alerts[-1].data.reasons[0].text


def test_an_alert_without_sample_event_ids_points_at_its_window():
    windows = [
        replace(w, sample_event_ids=())
        for w in history(100, changed=spike(NORMAL, NORMAL, complaint_rate=0.18))
    ]
    alert = incident_alert(changes_of(windows)[0])
    assert alert.data.evidence == [f"window:delivery/app/{at(NORMAL).isoformat()}"]


def test_a_wait_that_collapses_to_nothing_still_gives_a_finite_score_on_the_wire():
    windows = history(100, changed=spike(NORMAL, NORMAL, wait=400.0))
    for i in range(NORMAL + 1, 100):
        windows[i] = replace(windows[i], wait_sum_seconds=0.0)
    resolved = changes_of(windows)[-1]
    assert resolved.kind == "resolved" and resolved.metrics[0].z == -40.0
    assert (
        json.loads(encode_binary(incident_alert(resolved)).value)["reasons"][1]["observed"] == -40
    )


# ---------------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    "counts",
    [
        {"contacts": 10, "complaints": 11},
        {"texts": 3, "negative_texts": 4},
        {"nps_responses": 1, "detractors": 2},
        {"contacts": -1},
        {"wait_count": 3, "wait_sum_seconds": float("nan")},
    ],
)
def test_impossible_counts_are_refused(counts):
    with pytest.raises(ValueError):
        WindowCounts("delivery", "app", T0, **counts)


@pytest.mark.parametrize(("touchpoint", "channel"), [("delivery", "fax"), ("Delivery Desk", "app")])
def test_a_window_the_contract_could_not_name_is_refused(touchpoint, channel):
    with pytest.raises(ValueError):
        WindowCounts(touchpoint, channel, T0)


def test_a_window_without_a_timezone_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        WindowCounts("delivery", "app", datetime(2026, 3, 1))


@pytest.mark.parametrize(
    "settings", [{"clear_z": 3.5}, {"open_z": 6.0}, {"alpha": 0.0}, {"min_contacts": 0}]
)
def test_an_inconsistent_model_is_refused(settings):
    with pytest.raises(ValueError):
        HealthModel(**settings)


def test_a_copy_goes_its_own_way():
    monitor = TouchpointMonitor()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    quiet = [
        WindowCounts("delivery", "app", start + timedelta(hours=h), contacts=40, complaints=1)
        for h in range(25)
    ]
    for window in quiet:
        monitor.observe(window)
    twin = monitor.copy()
    spike = WindowCounts("delivery", "app", start + timedelta(hours=25), contacts=40, complaints=20)
    assert [c.kind for c in twin.observe(spike)] == ["opened"]
    assert monitor.open_incident("delivery", "app") is None  # the original saw nothing
    assert [c.kind for c in monitor.observe(spike)] == ["opened"]
