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
