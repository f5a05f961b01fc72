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
