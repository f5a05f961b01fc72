-- Touchstream schema for a ClickHouse cluster. GENERATED from projections/migrations/*.sql by
-- touchstream.projections.cluster_schema; do not edit by hand: change a migration, then run
--     python -m touchstream.projections.cluster_schema --write
-- A new cluster: apply it from any node before the first `touchstream up` against it:
--     clickhouse-client --multiquery < deploy/clickhouse/cluster.sql
-- A cluster that has an older schema: apply only the migrations it lacks, in order:
--     clickhouse-client --query "SELECT max(version) FROM cx.schema_migrations FINAL"   # say 2
--     python -m touchstream.projections.cluster_schema --since 2 | clickhouse-client --multiquery
-- (docs/runbook.md, "Schema migrations"). Each migration ends with its row in the replicated
-- ledger cx.schema_migrations, so `touchstream up` finds it applied and changes nothing.
-- Every server needs the macros {cluster}, {shard} and {replica}, a `remote_servers` entry
-- for the cluster and ClickHouse Keeper (docs/production.md).
--
-- Local tables (<name>_local: Replicated*MergeTree, or Null for ingest) hold each shard's
-- data; a Distributed table under the original name reads all shards and routes writes.
--   table                       local engine           Distributed sharding key
--   cx.ingest                   Null                   cityHash64(if(customer_id != '', customer_id, id))
--   cx.events                   ReplacingMergeTree     cityHash64(if(customer_id != '', customer_id, id))
--   cx.timeline                 ReplacingMergeTree     cityHash64(customer_id)
--   cx.customer_profile_state   AggregatingMergeTree   cityHash64(customer_id)
--   cx.alerts                   ReplacingMergeTree     cityHash64(if(customer_id != '', customer_id, alert_id))
--   cx.dead_letters             ReplacingMergeTree     cityHash64(source_topic, source_partition, source_offset, value_sha256)

-- ==================== database and migrations ledger ====================
CREATE DATABASE IF NOT EXISTS cx ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS cx.schema_migrations ON CLUSTER '{cluster}'
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}')
ORDER BY version;

-- ==================== 0001_events_timeline_profile ====================
CREATE DATABASE IF NOT EXISTS cx ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS cx.ingest_local ON CLUSTER '{cluster}'
(
    id String,
    type LowCardinality(String),
    source String,
    subject String,
    time DateTime64(3, 'UTC'),
    specversion LowCardinality(String),
    datacontenttype LowCardinality(String),
    extensions Map(String, String),
    data String,
    customer_id String,
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    received_at DateTime64(3, 'UTC'),
    summary String,
    is_contact UInt8,
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    stage LowCardinality(String),
    outcome LowCardinality(String),
    segment LowCardinality(String),
    locale LowCardinality(String),
    nps Nullable(UInt8),
    csat Nullable(UInt8),
    csat_scale Nullable(UInt8),
    ces Nullable(UInt8),
    ces_scale Nullable(UInt8),
    amount Nullable(Decimal(18, 4)),
    currency LowCardinality(String),
    feedback_kind LowCardinality(String),
    case_id String
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS cx.ingest ON CLUSTER '{cluster}'
AS cx.ingest_local
ENGINE = Distributed('{cluster}', cx, ingest_local, cityHash64(if(customer_id != '', customer_id, id)));

CREATE TABLE IF NOT EXISTS cx.events_local ON CLUSTER '{cluster}'
(
    id String,
    type LowCardinality(String),
    source String,
    subject String,
    time DateTime64(3, 'UTC'),
    specversion LowCardinality(String),
    datacontenttype LowCardinality(String),
    extensions Map(String, String),
    data String,
    customer_id String,
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY id;

CREATE TABLE IF NOT EXISTS cx.events ON CLUSTER '{cluster}'
AS cx.events_local
ENGINE = Distributed('{cluster}', cx, events_local, cityHash64(if(customer_id != '', customer_id, id)));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.events_mv ON CLUSTER '{cluster}'
TO cx.events_local AS
SELECT id, type, source, subject, time, specversion, datacontenttype, extensions, data,
       customer_id, kafka_topic, kafka_partition, kafka_offset, received_at
FROM cx.ingest_local;

CREATE TABLE IF NOT EXISTS cx.timeline_local ON CLUSTER '{cluster}'
(
    customer_id String,
    time DateTime64(3, 'UTC'),
    event_id String,
    type LowCardinality(String),
    summary String,
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    stage LowCardinality(String),
    outcome LowCardinality(String),
    nps Nullable(UInt8),
    csat Nullable(UInt8),
    csat_scale Nullable(UInt8),
    ces Nullable(UInt8),
    ces_scale Nullable(UInt8),
    amount Nullable(Decimal(18, 4)),
    currency LowCardinality(String),
    feedback_kind LowCardinality(String),
    case_id String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (customer_id, time, event_id);

CREATE TABLE IF NOT EXISTS cx.timeline ON CLUSTER '{cluster}'
AS cx.timeline_local
ENGINE = Distributed('{cluster}', cx, timeline_local, cityHash64(customer_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv ON CLUSTER '{cluster}'
TO cx.timeline_local AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id
FROM cx.ingest_local
WHERE customer_id != '';

CREATE TABLE IF NOT EXISTS cx.customer_profile_state_local ON CLUSTER '{cluster}'
(
    customer_id String,
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    first_contact AggregateFunction(minIf, DateTime64(3, 'UTC'), UInt8),
    last_contact AggregateFunction(maxIf, DateTime64(3, 'UTC'), UInt8),
    contacts_by_channel SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    events SimpleAggregateFunction(sum, UInt64),
    segment AggregateFunction(argMaxIf, String, DateTime64(3, 'UTC'), UInt8),
    locale AggregateFunction(argMaxIf, String, DateTime64(3, 'UTC'), UInt8),
    latest_nps AggregateFunction(argMaxIf, Nullable(UInt8), DateTime64(3, 'UTC'), UInt8),
    latest_csat AggregateFunction(argMaxIf, Nullable(UInt8), DateTime64(3, 'UTC'), UInt8),
    latest_csat_scale AggregateFunction(argMaxIf, Nullable(UInt8), DateTime64(3, 'UTC'), UInt8),
    latest_ces AggregateFunction(argMaxIf, Nullable(UInt8), DateTime64(3, 'UTC'), UInt8),
    latest_ces_scale AggregateFunction(argMaxIf, Nullable(UInt8), DateTime64(3, 'UTC'), UInt8),
    purchases SimpleAggregateFunction(sum, UInt64),
    lifetime_spend SimpleAggregateFunction(sum, Decimal(38, 4)),
    spend_currency AggregateFunction(argMaxIf, String, DateTime64(3, 'UTC'), UInt8),
    complaints SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY customer_id;

CREATE TABLE IF NOT EXISTS cx.customer_profile_state ON CLUSTER '{cluster}'
AS cx.customer_profile_state_local
ENGINE = Distributed('{cluster}', cx, customer_profile_state_local, cityHash64(customer_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.customer_profile_mv ON CLUSTER '{cluster}'
TO cx.customer_profile_state_local AS
SELECT
    customer_id,
    min(time) AS first_seen,
    max(time) AS last_seen,
    minIfState(time, is_contact = 1) AS first_contact,
    maxIfState(time, is_contact = 1) AS last_contact,
    sumMap(if(is_contact = 1 AND channel != '', map(toString(channel), toUInt64(1)),
              map())) AS contacts_by_channel,
    toUInt64(count()) AS events,
    argMaxIfState(toString(segment), time, segment != '') AS segment,
    argMaxIfState(toString(locale), time, locale != '') AS locale,
    argMaxIfState(nps, time, nps IS NOT NULL) AS latest_nps,
    argMaxIfState(csat, time, csat IS NOT NULL) AS latest_csat,
    argMaxIfState(csat_scale, time, csat IS NOT NULL) AS latest_csat_scale,
    argMaxIfState(ces, time, ces IS NOT NULL) AS latest_ces,
    argMaxIfState(ces_scale, time, ces IS NOT NULL) AS latest_ces_scale,
    toUInt64(countIf(type = 'cx.commerce.purchase.v1')) AS purchases,
    toDecimal128(sumIf(ifNull(amount, 0), type = 'cx.commerce.purchase.v1'), 4) AS lifetime_spend,
    argMaxIfState(toString(currency), time, type = 'cx.commerce.purchase.v1') AS spend_currency,
    toUInt64(countIf(feedback_kind = 'complaint')) AS complaints
FROM cx.ingest_local
WHERE customer_id != ''
GROUP BY customer_id;

CREATE VIEW IF NOT EXISTS cx.customer_profile ON CLUSTER '{cluster}' AS
SELECT
    customer_id,
    argMaxIfMerge(segment) AS segment,
    argMaxIfMerge(locale) AS locale,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen,
    minIfMerge(first_contact) AS first_contact,
    maxIfMerge(last_contact) AS last_contact,
    sumMap(contacts_by_channel) AS contacts_by_channel,
    sum(events) AS events,
    argMaxIfMerge(latest_nps) AS latest_nps,
    argMaxIfMerge(latest_csat) AS latest_csat,
    argMaxIfMerge(latest_csat_scale) AS latest_csat_scale,
    argMaxIfMerge(latest_ces) AS latest_ces,
    argMaxIfMerge(latest_ces_scale) AS latest_ces_scale,
    sum(purchases) AS purchases,
    sum(lifetime_spend) AS lifetime_spend,
    argMaxIfMerge(spend_currency) AS spend_currency,
    sum(complaints) AS complaints
FROM cx.customer_profile_state
GROUP BY customer_id;

INSERT INTO cx.schema_migrations (version, name) VALUES (1, 'events_timeline_profile');

-- ==================== 0002_alerts_dead_letters ====================
CREATE TABLE IF NOT EXISTS cx.alerts_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', revision)
ORDER BY alert_id;

CREATE TABLE IF NOT EXISTS cx.alerts ON CLUSTER '{cluster}'
AS cx.alerts_local
ENGINE = Distributed('{cluster}', cx, alerts_local, cityHash64(if(customer_id != '', customer_id, alert_id)));

CREATE TABLE IF NOT EXISTS cx.dead_letters_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (source_topic, source_partition, source_offset, value_sha256);

CREATE TABLE IF NOT EXISTS cx.dead_letters ON CLUSTER '{cluster}'
AS cx.dead_letters_local
ENGINE = Distributed('{cluster}', cx, dead_letters_local, cityHash64(source_topic, source_partition, source_offset, value_sha256));

INSERT INTO cx.schema_migrations (version, name) VALUES (2, 'alerts_dead_letters');

-- ==================== 0003_voice_enrichment ====================
ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS language LowCardinality(String);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS language LowCardinality(String);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS language LowCardinality(String);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS language LowCardinality(String);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

DROP VIEW IF EXISTS cx.timeline_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv ON CLUSTER '{cluster}'
TO cx.timeline_local AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id,
       language, sentiment, sentiment_label, topics
FROM cx.ingest_local
WHERE customer_id != '';

INSERT INTO cx.schema_migrations (version, name) VALUES (3, 'voice_enrichment');
