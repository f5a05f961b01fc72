-- Alerts with their scores and status, every revision kept, and the closed loop: what
-- operations staff did about each alert (acknowledged, assigned, resolved, recovery offered),
-- how long it took against the SLA of its priority, and what happened after a recovery.

ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'open';
ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS score Nullable(Float32);
ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS previous_score Nullable(Float32);
ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS sla_hours Nullable(Float32);
ALTER TABLE cx.alerts ADD COLUMN IF NOT EXISTS channel LowCardinality(String);

-- cx.alerts keeps the latest revision of each alert; this keeps them all.
CREATE TABLE IF NOT EXISTS cx.alert_revisions
(
    alert_id String,
    revision UInt32,
    event_id String,
    kind LowCardinality(String),
    priority LowCardinality(String),
    status LowCardinality(String),
    title String,
    score Nullable(Float32),
    previous_score Nullable(Float32),
    sla_hours Nullable(Float32),
    customer_id String,
    touchpoint LowCardinality(String),
    channel LowCardinality(String),
    reason_codes Array(String),
    evidence Array(String),
    raised_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, revision);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.alert_revisions_mv TO cx.alert_revisions AS
SELECT alert_id, revision, event_id, kind, priority, status, title, score, previous_score,
       sla_hours,
       customer_id, touchpoint, channel, reason_codes, evidence, raised_at
FROM cx.alerts;

-- Closed-loop actions from the touchpoints topic (cx.loop.*), read from the event payload.
CREATE TABLE IF NOT EXISTS cx.alert_actions
(
    event_id String,
    alert_id String,
    action LowCardinality(String),
    actor String,
    assignee String,
    resolution LowCardinality(String),
    offer LowCardinality(String),
    customer_id String,
    time DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (alert_id, time, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.alert_actions_mv TO cx.alert_actions AS
SELECT
    id AS event_id,
    JSONExtractString(data, 'alert_id') AS alert_id,
    multiIf(type = 'cx.loop.alert_acknowledged.v1', 'acknowledged',
            type = 'cx.loop.alert_assigned.v1', 'assigned',
            type = 'cx.loop.alert_resolved.v1', 'resolved',
            'recovery_offered') AS action,
    JSONExtractString(data, 'actor') AS actor,
    JSONExtractString(data, 'assignee') AS assignee,
    JSONExtractString(data, 'resolution') AS resolution,
    JSONExtractString(data, 'offer') AS offer,
    customer_id,
    time
FROM cx.ingest
WHERE type IN ('cx.loop.alert_acknowledged.v1', 'cx.loop.alert_assigned.v1',
               'cx.loop.alert_resolved.v1', 'cx.loop.recovery_offered.v1');

-- One row per alert: when it opened, its SLA, and what was done about it. Times are event
-- times; `sla_breached` is 1 when the first acknowledgement came after `due_at`, or has not come
-- and the stream (the newest event projected) is past `due_at`.
CREATE VIEW IF NOT EXISTS cx.alert_lifecycle AS
WITH (SELECT max(time) FROM cx.events) AS stream_time
SELECT
    r.alert_id AS alert_id,
    r.kind AS kind,
    r.priority AS priority,
    r.customer_id AS customer_id,
    r.touchpoint AS touchpoint,
    r.opened_at AS opened_at,
    r.revisions AS revisions,
    r.score AS score,
    r.sla_hours AS sla_hours,
    r.opened_at + toIntervalSecond(toInt64(ifNull(r.sla_hours, 0) * 3600)) AS due_at,
    r.detector_resolved_at AS detector_resolved_at,
    a.acknowledged_at AS acknowledged_at,
    a.assignee AS assignee,
    a.resolved_at AS resolved_at,
    a.resolution AS resolution,
    a.recovery_offers AS recovery_offers,
    if(a.acknowledged_at IS NULL, NULL, dateDiff('second', r.opened_at, a.acknowledged_at))
        AS seconds_to_acknowledge,
    if(a.resolved_at IS NULL, NULL, dateDiff('second', r.opened_at, a.resolved_at))
        AS seconds_to_resolve,
    multiIf(a.resolved_at IS NOT NULL, 'resolved',
            r.detector_resolved_at IS NOT NULL, 'cleared',
            a.acknowledged_at IS NOT NULL, 'acknowledged',
            'open') AS state,
    toUInt8(r.sla_hours IS NOT NULL
            AND ifNull(a.acknowledged_at, stream_time) > due_at) AS sla_breached
FROM
(
    SELECT alert_id, any(kind) AS kind, argMax(priority, revision) AS priority,
           any(customer_id) AS customer_id, any(touchpoint) AS touchpoint,
           min(raised_at) AS opened_at, count() AS revisions,
           argMax(score, revision) AS score, argMin(sla_hours, revision) AS sla_hours,
           minIf(raised_at, status = 'resolved') AS first_resolved,
           if(countIf(status = 'resolved') = 0, NULL, first_resolved) AS detector_resolved_at
    FROM cx.alert_revisions
    GROUP BY alert_id
) AS r
LEFT JOIN
(
    SELECT alert_id,
           if(countIf(action = 'acknowledged') = 0, NULL, minIf(time, action = 'acknowledged'))
               AS acknowledged_at,
           argMaxIf(assignee, time, action = 'assigned') AS assignee,
           if(countIf(action = 'resolved') = 0, NULL, minIf(time, action = 'resolved'))
               AS resolved_at,
           argMaxIf(resolution, time, action = 'resolved') AS resolution,
           countIf(action = 'recovery_offered') AS recovery_offers
    FROM cx.alert_actions
    WHERE alert_id != ''
    GROUP BY alert_id
) AS a ON a.alert_id = r.alert_id
SETTINGS join_use_nulls = 1;

-- Each recovery offer with the customer's satisfaction in the 30 days before and after it, and
-- whether they churned afterwards: did making good work?
CREATE VIEW IF NOT EXISTS cx.recovery_outcomes AS
SELECT
    o.event_id AS event_id,
    o.customer_id AS customer_id,
    o.time AS offered_at,
    o.alert_id AS alert_id,
    o.offer AS offer,
    avgIf(t.satisfaction, t.time < o.time AND t.time >= o.time - INTERVAL 30 DAY
                          AND t.satisfaction IS NOT NULL) AS satisfaction_before,
    avgIf(t.satisfaction, t.time > o.time AND t.time <= o.time + INTERVAL 30 DAY
                          AND t.satisfaction IS NOT NULL) AS satisfaction_after,
    countIf(t.satisfaction IS NOT NULL AND t.time > o.time
            AND t.time <= o.time + INTERVAL 30 DAY) AS surveys_after,
    toUInt8(countIf(t.type = 'cx.customer.churned.v1' AND t.time > o.time) > 0)
        AS churned_after
FROM
(
    SELECT event_id, customer_id, time, alert_id, offer
    FROM cx.alert_actions
    WHERE action = 'recovery_offered'
) AS o
INNER JOIN cx.timeline AS t ON t.customer_id = o.customer_id
GROUP BY event_id, customer_id, offered_at, alert_id, offer;
