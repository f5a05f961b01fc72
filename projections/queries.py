"""Named, parameterised read queries over the read models (same text for chDB and server)."""

CUSTOMER_TIMELINE = """
SELECT event_id, toString(time) AS time, type, summary, channel, touchpoint, stage,
       language, sentiment, sentiment_label, topics
FROM cx.timeline
WHERE customer_id = {customer_id:String}
ORDER BY time DESC, event_id
LIMIT 1 BY event_id
LIMIT {limit:UInt32}
"""

CUSTOMER_PROFILE = """
SELECT customer_id, segment, locale,
       toString(first_seen) AS first_seen, toString(last_seen) AS last_seen,
       toString(first_contact) AS first_contact, toString(last_contact) AS last_contact,
       contacts_by_channel, events, latest_nps, latest_csat, latest_csat_scale,
       latest_ces, latest_ces_scale, purchases, toString(lifetime_spend) AS lifetime_spend,
       spend_currency, complaints
FROM cx.customer_profile
WHERE customer_id = {customer_id:String}
"""

RECENT_ALERTS = """
SELECT alert_id, kind, rule, priority, title, customer_id, touchpoint, reason_codes,
       reasons, evidence, suggested_action, toString(raised_at) AS raised_at
FROM cx.alerts FINAL
WHERE ({customer_id:String} = '' OR customer_id = {customer_id:String})
  AND ({priority:String} = '' OR priority = {priority:String})
ORDER BY raised_at DESC, alert_id
LIMIT {limit:UInt32}
"""

PIPELINE_COUNTS = """
SELECT
    (SELECT count() FROM cx.events) AS events,
    (SELECT uniqExact(customer_id) FROM cx.events WHERE customer_id != '') AS customers,
    (SELECT count() FROM cx.timeline) AS timeline_rows,
    (SELECT count() FROM cx.dead_letters) AS dead_letters,
    (SELECT count() FROM cx.alerts FINAL) AS alerts
"""

SATISFACTION_BY_TOUCHPOINT = """
SELECT touchpoint,
       sum(surveys) AS surveys,
       if(sum(nps_responses) = 0, NULL,
          round(100 * (sum(promoters) - sum(detractors)) / sum(nps_responses), 1)) AS nps,
       if(sum(csat_responses) = 0, NULL, round(100 * sum(csat_top2) / sum(csat_responses), 1))
           AS csat,
       if(sum(ces_responses) = 0, NULL, round(sum(ces_sum) / sum(ces_responses), 2)) AS ces
FROM cx.satisfaction_hourly
GROUP BY touchpoint
ORDER BY surveys DESC, touchpoint
"""

WORST_JOURNEYS = """
SELECT j.customer_id AS customer_id, j.segment AS segment, toString(j.episode_start) AS started,
       j.events AS events, j.stage_path AS stage_path, j.peak_end_score AS peak_end_score,
       p.summary AS peak, e.summary AS ending
FROM (SELECT * FROM cx.journeys WHERE moments > 0
      ORDER BY peak_end_score, customer_id LIMIT {limit:UInt32}) AS j
LEFT JOIN cx.timeline AS p ON p.customer_id = j.customer_id AND p.event_id = j.peak_event_id
LEFT JOIN cx.timeline AS e ON e.customer_id = j.customer_id AND e.event_id = j.end_event_id
ORDER BY peak_end_score, customer_id
"""

DRIVER_INPUTS = """
SELECT customer_id, touchpoint, touchpoint_score, latest_nps, churned
FROM cx.driver_inputs
"""

#: Customers' timelines, as churn-risk input (projections/churn_risk.py).
CUSTOMER_HISTORIES = """
SELECT customer_id, event_id, toString(time) AS time, type, touchpoint, nps, csat, csat_scale,
       ces, ces_scale, outcome, feedback_kind, case_id, sentiment, wait_seconds, matter
FROM cx.timeline
WHERE customer_id IN {ids:Array(String)}
"""

#: Per hour × touchpoint × channel in [{from}, {to}): what touchpoint health judges
#: (projections/touchpoint_health.py).
TOUCHPOINT_WINDOWS = """
SELECT toString(hour) AS hour, touchpoint, channel,
       sum(contacts) AS contacts, sum(complaints) AS complaints,
       sum(waits) AS waits, sum(wait_seconds_sum) AS wait_seconds_sum,
       sum(texts) AS texts, sum(negative) AS negative,
       sum(nps_responses) AS nps_responses, sum(detractors) AS detractors,
       sum(csat_responses) AS csat_responses, sum(csat_low) AS csat_low
FROM
(
    SELECT hour, touchpoint, channel, contacts, complaints, waits, wait_seconds_sum,
           toUInt64(0) AS texts, toUInt64(0) AS negative, toUInt64(0) AS nps_responses,
           toUInt64(0) AS detractors, toUInt64(0) AS csat_responses, toUInt64(0) AS csat_low
    FROM cx.touchpoint_hourly
    WHERE hour >= {from:DateTime('UTC')} AND hour < {to:DateTime('UTC')}
    UNION ALL
    SELECT hour, touchpoint, channel, toUInt64(0), toUInt64(0), toUInt64(0), toFloat64(0),
           texts, negative, toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0)
    FROM cx.voice_hourly
    WHERE hour >= {from:DateTime('UTC')} AND hour < {to:DateTime('UTC')} AND touchpoint != ''
    UNION ALL
    SELECT hour, touchpoint, channel, toUInt64(0), toUInt64(0), toUInt64(0), toFloat64(0),
           toUInt64(0), toUInt64(0), nps_responses, detractors, csat_responses,
           toUInt64(csat_responses - csat_top2)
    FROM cx.satisfaction_hourly
    WHERE hour >= {from:DateTime('UTC')} AND hour < {to:DateTime('UTC')}
)
GROUP BY hour, touchpoint, channel
ORDER BY hour, touchpoint, channel
"""

#: Per hour × touchpoint × channel: inbound contacts repeating one within 7 days, and a few ids
#: of the worst moments (the evidence of an incident).
TOUCHPOINT_WINDOW_DETAILS = """
SELECT toString(toStartOfHour(time)) AS hour, touchpoint,
       if(channel = '', 'unknown', channel) AS channel,
       countIf(matter != '' AND previous > toDateTime64(0, 3, 'UTC')
               AND dateDiff('second', previous, time) <= 7 * 86400) AS repeat_contacts,
       groupArrayIf(5)(event_id, feedback_kind = 'complaint' OR sentiment_label = 'negative'
                                 OR nps <= 6 OR wait_seconds >= 600) AS samples
FROM
(
    SELECT time, touchpoint, channel, event_id, feedback_kind, sentiment_label, nps,
           wait_seconds, matter,
           lagInFrame(time, 1, toDateTime64(0, 3, 'UTC')) OVER (
               PARTITION BY customer_id, matter ORDER BY time, event_id
               ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
    FROM cx.timeline
    WHERE time >= {from:DateTime('UTC')} - INTERVAL 7 DAY AND time < {to:DateTime('UTC')}
)
WHERE time >= {from:DateTime('UTC')} AND touchpoint != ''
GROUP BY hour, touchpoint, channel
"""

FIRST_ACTIVITY_HOUR = "SELECT toString(min(hour)) AS hour, count() AS n FROM cx.touchpoint_hourly"

#: Per partition of a stream (cx.stream_progress): the newest position and the last write.
STREAM_PROGRESS = """
SELECT partition, toString(max(position)) AS position, toString(max(updated_at)) AS updated_at
FROM cx.stream_progress
WHERE stream = {stream:String}
GROUP BY partition
"""

#: The value model's input: every purchase, and the stream's newest event time.
PURCHASES = """
SELECT customer_id, toString(time) AS time, toFloat64(amount) AS amount
FROM cx.timeline
WHERE type = 'cx.commerce.purchase.v1' AND customer_id != ''
"""
STREAM_TIME = "SELECT toString(max(time)) AS time, count() AS n FROM cx.events"
LATEST_VALUE_MODEL = """
SELECT toString(fitted_at) AS fitted_at, customers, repeat_customers, bgnbd_r, bgnbd_alpha,
       bgnbd_a, bgnbd_b, bgnbd_log_likelihood, gg_p, gg_q, gg_v, tier_top_clv, tier_high_clv,
       tier_medium_clv
FROM cx.value_models FINAL
ORDER BY fitted_at DESC
LIMIT 1
"""
VALUE_TIERS = """
SELECT customer_id, tier FROM cx.customer_value FINAL WHERE customer_id IN {ids:Array(String)}
"""
VALUE_TIER_SUMMARY = """
SELECT tier, count() AS customers, round(avg(clv), 2) AS mean_clv,
       round(min(clv), 2) AS min_clv, round(avg(p_alive), 3) AS mean_p_alive
FROM cx.customer_value FINAL
GROUP BY tier
ORDER BY mean_clv DESC
"""

#: Open alerts past their SLA without an acknowledgement, not yet escalated.
SLA_BREACHES = """
SELECT alert_id, kind, priority, customer_id, touchpoint, sla_hours,
       toString(opened_at) AS opened_at, toString(due_at) AS due_at
FROM cx.alert_lifecycle
WHERE sla_breached = 1 AND acknowledged_at IS NULL AND state = 'open'
  AND kind != 'alert.sla_breach'
  AND alert_id NOT IN (
      SELECT arrayJoin(evidence) FROM cx.alert_revisions WHERE kind = 'alert.sla_breach')
ORDER BY due_at, alert_id
"""
