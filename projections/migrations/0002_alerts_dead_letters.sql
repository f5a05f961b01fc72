-- Alerts (projected from cx.alerts.v1) and dead letters (projected from cx.deadletter.v1).

CREATE TABLE IF NOT EXISTS cx.alerts
(
    alert_id String,
    event_id String,
    revision UInt32,
    kind LowCardinality(String),
    rule LowCardinality(String),
    priority LowCardinality(String),
    title String,
    customer_id String,
    touchpoint LowCardinality(String),
    reason_codes Array(String),
    reasons String,
    evidence Array(String),
    suggested_action String,
    raised_at DateTime64(3, 'UTC'),
    projected_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY alert_id;

CREATE TABLE IF NOT EXISTS cx.dead_letters
(
    source_topic LowCardinality(String),
    source_partition Int32,
    source_offset Int64,
    dead_lettered_at DateTime64(3, 'UTC'),
    reason String,
    event_id String,
    event_type String,
    key String,
    headers Map(String, String),
    value_preview String,
    value_base64 String,
    value_sha256 String
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset, value_sha256);
