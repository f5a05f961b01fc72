-- The event archive, the customer timeline and the customer profile.
--
-- The processor inserts one row per new event into cx.ingest (a Null table: it stores nothing).
-- Materialized views fan each inserted block out to the read models, so one INSERT statement
-- feeds them all from the same rows.

CREATE DATABASE IF NOT EXISTS cx;

CREATE TABLE IF NOT EXISTS cx.ingest
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
    -- facets extracted by the projector (projections/timeline.py)
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

-- Immutable archive: every valid event exactly once by id. The durable copy of the log in the
-- embedded mode, and the source of `replay`.
CREATE TABLE IF NOT EXISTS cx.events
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
ENGINE = ReplacingMergeTree
ORDER BY id;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.events_mv TO cx.events AS
SELECT id, type, source, subject, time, specversion, datacontenttype, extensions, data,
       customer_id, kafka_topic, kafka_partition, kafka_offset, received_at
FROM cx.ingest;

-- Customer timeline: one row per event, ordered for fast reads of one customer.
CREATE TABLE IF NOT EXISTS cx.timeline
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
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, time, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv TO cx.timeline AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id
FROM cx.ingest
WHERE customer_id != '';

-- Customer profile: aggregate states, merged on read by the cx.customer_profile view.
CREATE TABLE IF NOT EXISTS cx.customer_profile_state
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
ENGINE = AggregatingMergeTree
ORDER BY customer_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.customer_profile_mv TO cx.customer_profile_state AS
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
FROM cx.ingest
WHERE customer_id != ''
GROUP BY customer_id;

CREATE VIEW IF NOT EXISTS cx.customer_profile AS
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
