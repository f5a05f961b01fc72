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
--   cx.satisfaction_hourly      SummingMergeTree       cityHash64(hour, touchpoint, channel, stage, segment)
--   cx.voice_hourly             SummingMergeTree       cityHash64(hour, touchpoint, channel, kind, language, segment)
--   cx.complaint_topics_daily   SummingMergeTree       cityHash64(day, touchpoint, language, topic)
--   cx.touchpoint_hourly        SummingMergeTree       cityHash64(hour, touchpoint, channel)
--   cx.campaign_response_state  AggregatingMergeTree   cityHash64(campaign_id, segment)
--   cx.servqual_daily           SummingMergeTree       cityHash64(day, touchpoint, segment, dimension)
--   cx.alert_revisions          ReplacingMergeTree     cityHash64(if(customer_id != '', customer_id, alert_id))
--   cx.alert_actions            ReplacingMergeTree     cityHash64(if(customer_id != '', customer_id, alert_id))
--   cx.value_models             ReplacingMergeTree     cityHash64(fitted_at)
--   cx.customer_value           ReplacingMergeTree     cityHash64(customer_id)
--   cx.stream_progress          ReplacingMergeTree     cityHash64(stream, partition)
--   cx.erasures                 ReplacingMergeTree     cityHash64(subject_sha256, erasure_id)

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

-- ==================== 0004_experience_analytics ====================
ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS csat_top2 Nullable(UInt8);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS csat_top2 Nullable(UInt8);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS ces_7 Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS ces_7 Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS servqual Array(Tuple(dimension String, expectation Float32, perception Float32));

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS servqual Array(Tuple(dimension String, expectation Float32, perception Float32));

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS valence Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS valence Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS matter String;

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS matter String;

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS campaign_id String;

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS campaign_id String;

ALTER TABLE cx.ingest_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS response LowCardinality(String);

ALTER TABLE cx.ingest ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS response LowCardinality(String);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS segment LowCardinality(String);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS segment LowCardinality(String);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS valence Nullable(Float32);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS valence Nullable(Float32);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);

ALTER TABLE cx.timeline_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS matter String;

ALTER TABLE cx.timeline ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS matter String;

DROP VIEW IF EXISTS cx.timeline_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv ON CLUSTER '{cluster}'
TO cx.timeline_local AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id,
       language, sentiment, sentiment_label, topics,
       segment, satisfaction, touchpoint_score, valence, wait_seconds, matter
FROM cx.ingest_local
WHERE customer_id != '';

CREATE TABLE IF NOT EXISTS cx.satisfaction_hourly_local ON CLUSTER '{cluster}'
(
    hour DateTime('UTC'),
    touchpoint LowCardinality(String),
    channel LowCardinality(String),
    stage LowCardinality(String),
    segment LowCardinality(String),
    surveys UInt64,
    nps_responses UInt64,
    promoters UInt64,
    passives UInt64,
    detractors UInt64,
    csat_responses UInt64,
    csat_top2 UInt64,
    ces_responses UInt64,
    ces_sum Float64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (hour, touchpoint, channel, stage, segment);

CREATE TABLE IF NOT EXISTS cx.satisfaction_hourly ON CLUSTER '{cluster}'
AS cx.satisfaction_hourly_local
ENGINE = Distributed('{cluster}', cx, satisfaction_hourly_local, cityHash64(hour, touchpoint, channel, stage, segment));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.satisfaction_hourly_mv ON CLUSTER '{cluster}'
TO cx.satisfaction_hourly_local AS
SELECT
    toStartOfHour(time) AS hour,
    touchpoint,
    if(channel = '', 'unknown', channel) AS channel,
    if(stage = '', 'unknown', stage) AS stage,
    if(segment = '', 'unknown', segment) AS segment,
    count() AS surveys,
    countIf(nps IS NOT NULL) AS nps_responses,
    countIf(nps >= 9) AS promoters,
    countIf(nps BETWEEN 7 AND 8) AS passives,
    countIf(nps <= 6) AS detractors,
    countIf(csat IS NOT NULL) AS csat_responses,
    countIf(csat_top2 = 1) AS csat_top2,
    countIf(ces_7 IS NOT NULL) AS ces_responses,
    sum(ifNull(ces_7, 0)) AS ces_sum
FROM cx.ingest_local
WHERE type = 'cx.feedback.survey.v1'
GROUP BY hour, touchpoint, channel, stage, segment;

CREATE VIEW IF NOT EXISTS cx.satisfaction_by_hour ON CLUSTER '{cluster}' AS
SELECT
    hour, touchpoint, channel, stage, segment,
    sum(surveys) AS surveys,
    sum(nps_responses) AS nps_responses,
    sum(promoters) AS promoters,
    sum(passives) AS passives,
    sum(detractors) AS detractors,
    if(nps_responses = 0, NULL, round(100 * (promoters - detractors) / nps_responses, 2)) AS nps,
    sum(csat_responses) AS csat_responses,
    sum(csat_top2) AS csat_top2,
    if(csat_responses = 0, NULL, round(100 * csat_top2 / csat_responses, 2)) AS csat,
    sum(ces_responses) AS ces_responses,
    sum(ces_sum) AS ces_sum,
    if(ces_responses = 0, NULL, round(ces_sum / ces_responses, 3)) AS ces
FROM cx.satisfaction_hourly
GROUP BY hour, touchpoint, channel, stage, segment;

CREATE VIEW IF NOT EXISTS cx.satisfaction_by_day ON CLUSTER '{cluster}' AS
SELECT
    toDate(hour) AS day, touchpoint, channel, stage, segment,
    sum(surveys) AS surveys,
    sum(nps_responses) AS nps_responses,
    sum(promoters) AS promoters,
    sum(passives) AS passives,
    sum(detractors) AS detractors,
    if(nps_responses = 0, NULL, round(100 * (promoters - detractors) / nps_responses, 2)) AS nps,
    sum(csat_responses) AS csat_responses,
    sum(csat_top2) AS csat_top2,
    if(csat_responses = 0, NULL, round(100 * csat_top2 / csat_responses, 2)) AS csat,
    sum(ces_responses) AS ces_responses,
    sum(ces_sum) AS ces_sum,
    if(ces_responses = 0, NULL, round(ces_sum / ces_responses, 3)) AS ces
FROM cx.satisfaction_hourly
GROUP BY day, touchpoint, channel, stage, segment;

CREATE TABLE IF NOT EXISTS cx.voice_hourly_local ON CLUSTER '{cluster}'
(
    hour DateTime('UTC'),
    touchpoint LowCardinality(String),
    channel LowCardinality(String),
    kind LowCardinality(String),
    language LowCardinality(String),
    segment LowCardinality(String),
    texts UInt64,
    positive UInt64,
    neutral UInt64,
    negative UInt64,
    sentiment_sum Float64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (hour, touchpoint, channel, kind, language, segment);

CREATE TABLE IF NOT EXISTS cx.voice_hourly ON CLUSTER '{cluster}'
AS cx.voice_hourly_local
ENGINE = Distributed('{cluster}', cx, voice_hourly_local, cityHash64(hour, touchpoint, channel, kind, language, segment));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.voice_hourly_mv ON CLUSTER '{cluster}'
TO cx.voice_hourly_local AS
SELECT
    toStartOfHour(time) AS hour,
    touchpoint,
    if(channel = '', 'unknown', channel) AS channel,
    if(feedback_kind = '', 'survey_comment', feedback_kind) AS kind,
    language,
    if(segment = '', 'unknown', segment) AS segment,
    count() AS texts,
    countIf(sentiment_label = 'positive') AS positive,
    countIf(sentiment_label = 'neutral') AS neutral,
    countIf(sentiment_label = 'negative') AS negative,
    sum(ifNull(sentiment, 0)) AS sentiment_sum
FROM cx.ingest_local
WHERE sentiment IS NOT NULL
GROUP BY hour, touchpoint, channel, kind, language, segment;

CREATE TABLE IF NOT EXISTS cx.complaint_topics_daily_local ON CLUSTER '{cluster}'
(
    day Date,
    touchpoint LowCardinality(String),
    language LowCardinality(String),
    topic LowCardinality(String),
    mentions UInt64,
    complaints UInt64,
    negative UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (day, touchpoint, language, topic);

CREATE TABLE IF NOT EXISTS cx.complaint_topics_daily ON CLUSTER '{cluster}'
AS cx.complaint_topics_daily_local
ENGINE = Distributed('{cluster}', cx, complaint_topics_daily_local, cityHash64(day, touchpoint, language, topic));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.complaint_topics_daily_mv ON CLUSTER '{cluster}'
TO cx.complaint_topics_daily_local AS
SELECT
    toDate(time) AS day,
    touchpoint,
    language,
    topic,
    count() AS mentions,
    countIf(feedback_kind = 'complaint') AS complaints,
    countIf(sentiment_label = 'negative') AS negative
FROM cx.ingest_local
ARRAY JOIN topics AS topic
GROUP BY day, touchpoint, language, topic;

CREATE TABLE IF NOT EXISTS cx.touchpoint_hourly_local ON CLUSTER '{cluster}'
(
    hour DateTime('UTC'),
    touchpoint LowCardinality(String),
    channel LowCardinality(String),
    contacts UInt64,
    complaints UInt64,
    waits UInt64,
    wait_seconds_sum Float64,
    resolved UInt64,
    unresolved UInt64,
    escalated UInt64,
    transferred UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (hour, touchpoint, channel);

CREATE TABLE IF NOT EXISTS cx.touchpoint_hourly ON CLUSTER '{cluster}'
AS cx.touchpoint_hourly_local
ENGINE = Distributed('{cluster}', cx, touchpoint_hourly_local, cityHash64(hour, touchpoint, channel));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.touchpoint_hourly_mv ON CLUSTER '{cluster}'
TO cx.touchpoint_hourly_local AS
SELECT
    toStartOfHour(time) AS hour,
    touchpoint,
    if(channel = '', 'unknown', channel) AS channel,
    countIf(is_contact = 1) AS contacts,
    countIf(feedback_kind = 'complaint') AS complaints,
    countIf(wait_seconds IS NOT NULL) AS waits,
    sum(ifNull(wait_seconds, 0)) AS wait_seconds_sum,
    countIf(outcome = 'resolved') AS resolved,
    countIf(outcome = 'unresolved') AS unresolved,
    countIf(outcome = 'escalated') AS escalated,
    countIf(outcome = 'transferred') AS transferred
FROM cx.ingest_local
WHERE touchpoint != '' AND is_contact = 1
GROUP BY hour, touchpoint, channel;

CREATE VIEW IF NOT EXISTS cx.touchpoint_by_hour ON CLUSTER '{cluster}' AS
SELECT
    hour, touchpoint, channel,
    sum(contacts) AS contacts,
    sum(complaints) AS complaints,
    if(contacts = 0, NULL, round(complaints / contacts, 4)) AS complaint_rate,
    sum(waits) AS waits,
    sum(wait_seconds_sum) AS wait_seconds_sum,
    if(waits = 0, NULL, round(wait_seconds_sum / waits, 1)) AS mean_wait_seconds,
    sum(resolved) AS resolved,
    sum(unresolved) AS unresolved,
    sum(escalated) AS escalated,
    sum(transferred) AS transferred
FROM cx.touchpoint_hourly
GROUP BY hour, touchpoint, channel;

CREATE TABLE IF NOT EXISTS cx.campaign_response_state_local ON CLUSTER '{cluster}'
(
    campaign_id String,
    segment LowCardinality(String),
    first_sent SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    recipients AggregateFunction(uniqExactIf, String, UInt8),
    responders AggregateFunction(uniqExactIf, String, UInt8),
    opened AggregateFunction(uniqExactIf, String, UInt8),
    clicked AggregateFunction(uniqExactIf, String, UInt8),
    replied AggregateFunction(uniqExactIf, String, UInt8),
    converted AggregateFunction(uniqExactIf, String, UInt8),
    unsubscribed AggregateFunction(uniqExactIf, String, UInt8)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (campaign_id, segment);

CREATE TABLE IF NOT EXISTS cx.campaign_response_state ON CLUSTER '{cluster}'
AS cx.campaign_response_state_local
ENGINE = Distributed('{cluster}', cx, campaign_response_state_local, cityHash64(campaign_id, segment));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.campaign_response_mv ON CLUSTER '{cluster}'
TO cx.campaign_response_state_local AS
SELECT
    campaign_id,
    if(segment = '', 'unknown', segment) AS segment,
    minIf(time, type = 'cx.campaign.sent.v1') AS first_sent,
    uniqExactIfState(customer_id, type = 'cx.campaign.sent.v1') AS recipients,
    uniqExactIfState(customer_id, response NOT IN ('', 'unsubscribed')) AS responders,
    uniqExactIfState(customer_id, response = 'opened') AS opened,
    uniqExactIfState(customer_id, response = 'clicked') AS clicked,
    uniqExactIfState(customer_id, response = 'replied') AS replied,
    uniqExactIfState(customer_id, response = 'converted') AS converted,
    uniqExactIfState(customer_id, response = 'unsubscribed') AS unsubscribed
FROM cx.ingest_local
WHERE campaign_id != ''
GROUP BY campaign_id, segment;

CREATE VIEW IF NOT EXISTS cx.campaign_response ON CLUSTER '{cluster}' AS
SELECT
    campaign_id, segment,
    min(first_sent) AS first_sent,
    uniqExactIfMerge(recipients) AS recipients,
    uniqExactIfMerge(responders) AS responders,
    if(recipients = 0, NULL, round(responders / recipients, 4)) AS response_rate,
    uniqExactIfMerge(opened) AS opened,
    uniqExactIfMerge(clicked) AS clicked,
    uniqExactIfMerge(replied) AS replied,
    uniqExactIfMerge(converted) AS converted,
    if(recipients = 0, NULL, round(converted / recipients, 4)) AS conversion_rate,
    uniqExactIfMerge(unsubscribed) AS unsubscribed
FROM cx.campaign_response_state
GROUP BY campaign_id, segment;

CREATE TABLE IF NOT EXISTS cx.servqual_daily_local ON CLUSTER '{cluster}'
(
    day Date,
    touchpoint LowCardinality(String),
    segment LowCardinality(String),
    dimension LowCardinality(String),
    responses UInt64,
    expectation_sum Float64,
    perception_sum Float64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (day, touchpoint, segment, dimension);

CREATE TABLE IF NOT EXISTS cx.servqual_daily ON CLUSTER '{cluster}'
AS cx.servqual_daily_local
ENGINE = Distributed('{cluster}', cx, servqual_daily_local, cityHash64(day, touchpoint, segment, dimension));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.servqual_daily_mv ON CLUSTER '{cluster}'
TO cx.servqual_daily_local AS
SELECT
    toDate(time) AS day,
    touchpoint,
    if(segment = '', 'unknown', segment) AS segment,
    item.dimension AS dimension,
    count() AS responses,
    sum(item.expectation) AS expectation_sum,
    sum(item.perception) AS perception_sum
FROM cx.ingest_local
ARRAY JOIN servqual AS item
GROUP BY day, touchpoint, segment, dimension;

CREATE VIEW IF NOT EXISTS cx.servqual_gaps ON CLUSTER '{cluster}' AS
SELECT
    touchpoint, segment, dimension,
    sum(responses) AS responses,
    round(sum(expectation_sum) / responses, 3) AS expectation,
    round(sum(perception_sum) / responses, 3) AS perception,
    round((sum(perception_sum) - sum(expectation_sum)) / responses, 3) AS gap,
    min(day) AS first_day,
    max(day) AS last_day
FROM cx.servqual_daily
GROUP BY touchpoint, segment, dimension;

CREATE VIEW IF NOT EXISTS cx.journey_moments ON CLUSTER '{cluster}' AS
SELECT
    customer_id, episode_start, event_id, time, type, summary, touchpoint, channel, segment,
    stage, current_stage, valence,
    if(next_time < time, 0, dateDiff('second', time, next_time)) AS dwell_seconds
FROM
(
    SELECT
        *,
        last_value(nullIf(stage, '')) OVER byTime AS current_stage,
        leadInFrame(time, 1, toDateTime64(0, 3, 'UTC')) OVER (
            PARTITION BY customer_id, episode_start ORDER BY time, event_id
            ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_time
    FROM
    (
        SELECT
            *,
            max(if(starts, time, toDateTime64(0, 3, 'UTC'))) OVER (
                PARTITION BY customer_id ORDER BY time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode_start
        FROM
        (
            SELECT
                customer_id, event_id, time, type, summary, touchpoint, channel, segment,
                stage, valence,
                dateDiff('second',
                         lagInFrame(time, 1, toDateTime64(0, 3, 'UTC')) OVER (
                             PARTITION BY customer_id ORDER BY time, event_id
                             ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                         time) > 30 * 86400 AS starts
            FROM cx.timeline
        )
    )
    WINDOW byTime AS (PARTITION BY customer_id, episode_start ORDER BY time, event_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
);

CREATE VIEW IF NOT EXISTS cx.journeys ON CLUSTER '{cluster}' AS
SELECT
    customer_id,
    episode_start,
    max(time) AS episode_end,
    count() AS events,
    anyLast(segment) AS segment,
    arrayCompact(arrayMap(m -> m.2,
        arraySort(groupArrayIf((time, current_stage), current_stage IS NOT NULL)))) AS stage_path,
    sumIf(dwell_seconds, current_stage = 'pre_purchase') AS pre_purchase_seconds,
    sumIf(dwell_seconds, current_stage = 'purchase') AS purchase_seconds,
    sumIf(dwell_seconds, current_stage = 'post_purchase') AS post_purchase_seconds,
    countIf(valence IS NOT NULL) AS moments,
    argMaxIf(valence, (abs(valence), time, event_id), valence IS NOT NULL) AS peak_valence,
    argMaxIf(event_id, (abs(valence), time, event_id), valence IS NOT NULL) AS peak_event_id,
    argMaxIf(valence, (time, event_id), valence IS NOT NULL) AS end_valence,
    argMaxIf(event_id, (time, event_id), valence IS NOT NULL) AS end_event_id,
    if(moments = 0, NULL, round((peak_valence + end_valence) / 2, 4)) AS peak_end_score,
    if(moments = 0, NULL, round(avgIf(valence, valence IS NOT NULL), 4)) AS mean_valence
FROM cx.journey_moments
GROUP BY customer_id, episode_start;

CREATE VIEW IF NOT EXISTS cx.repeat_contacts ON CLUSTER '{cluster}' AS
SELECT
    customer_id, matter, touchpoint, channel, segment, event_id, time,
    previous_event_id, previous_time,
    round(dateDiff('second', previous_time, time) / 3600, 2) AS hours_since_previous
FROM
(
    SELECT
        customer_id, matter, touchpoint, channel, segment, event_id, time,
        lagInFrame(event_id) OVER byMatter AS previous_event_id,
        lagInFrame(time, 1, toDateTime64(0, 3, 'UTC')) OVER byMatter AS previous_time
    FROM cx.timeline
    WHERE matter != ''
    WINDOW byMatter AS (PARTITION BY customer_id, matter ORDER BY time, event_id
                        ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE previous_event_id != '' AND dateDiff('second', previous_time, time) <= 7 * 86400;

CREATE VIEW IF NOT EXISTS cx.repeat_contact_rate ON CLUSTER '{cluster}' AS
SELECT
    toDate(time) AS day, touchpoint,
    count() AS contacts,
    countIf(is_repeat) AS repeat_contacts,
    round(repeat_contacts / contacts, 4) AS repeat_rate
FROM
(
    SELECT
        time, touchpoint,
        dateDiff('second',
                 lagInFrame(time, 1, toDateTime64(0, 3, 'UTC')) OVER (
                     PARTITION BY customer_id, matter ORDER BY time, event_id
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                 time) <= 7 * 86400 AS is_repeat
    FROM cx.timeline
    WHERE matter != ''
)
GROUP BY day, touchpoint;

CREATE VIEW IF NOT EXISTS cx.channel_consistency ON CLUSTER '{cluster}' AS
SELECT
    customer_id,
    any(segment) AS segment,
    count() AS channels,
    sum(responses) AS responses,
    round(stddevPop(mean_satisfaction), 4) AS spread,
    round(max(mean_satisfaction) - min(mean_satisfaction), 4) AS satisfaction_range,
    argMax(channel, mean_satisfaction) AS best_channel,
    argMin(channel, mean_satisfaction) AS worst_channel,
    CAST(groupArray((channel, round(mean_satisfaction, 4))) AS Map(String, Float64))
        AS satisfaction_by_channel
FROM
(
    SELECT customer_id, channel, anyLast(if(segment = '', 'unknown', segment)) AS segment,
           avg(satisfaction) AS mean_satisfaction, count() AS responses
    FROM cx.timeline
    WHERE satisfaction IS NOT NULL AND channel != ''
    GROUP BY customer_id, channel
)
GROUP BY customer_id
HAVING channels >= 2;

CREATE VIEW IF NOT EXISTS cx.channel_consistency_by_segment ON CLUSTER '{cluster}' AS
SELECT
    s.segment AS segment,
    c.customers AS customers,
    c.mean_customer_spread AS mean_customer_spread,
    s.channel_spread AS channel_spread,
    s.best_channel AS best_channel,
    s.worst_channel AS worst_channel
FROM
(
    SELECT segment,
           round(stddevPop(mean_satisfaction), 4) AS channel_spread,
           argMax(channel, mean_satisfaction) AS best_channel,
           argMin(channel, mean_satisfaction) AS worst_channel
    FROM
    (
        SELECT if(segment = '', 'unknown', segment) AS segment, channel,
               avg(satisfaction) AS mean_satisfaction
        FROM cx.timeline
        WHERE satisfaction IS NOT NULL AND channel != ''
        GROUP BY segment, channel
    )
    GROUP BY segment
) AS s
LEFT JOIN
(
    SELECT if(segment = '', 'unknown', segment) AS segment, count() AS customers,
           round(avg(spread), 4) AS mean_customer_spread
    FROM cx.channel_consistency
    GROUP BY segment
) AS c ON c.segment = s.segment;

CREATE VIEW IF NOT EXISTS cx.driver_inputs ON CLUSTER '{cluster}' AS
SELECT
    r.customer_id AS customer_id,
    r.touchpoint AS touchpoint,
    r.mean_score AS touchpoint_score,
    r.ratings AS ratings,
    o.latest_nps AS latest_nps,
    o.churned AS churned
FROM
(
    SELECT customer_id, touchpoint, round(avg(touchpoint_score), 4) AS mean_score,
           count() AS ratings
    FROM cx.timeline
    WHERE touchpoint_score IS NOT NULL
    GROUP BY customer_id, touchpoint
) AS r
INNER JOIN
(
    SELECT customer_id,
           argMaxIf(nps, time, nps IS NOT NULL) AS latest_nps,
           toUInt8(countIf(type = 'cx.customer.churned.v1') > 0) AS churned
    FROM cx.timeline
    GROUP BY customer_id
) AS o ON o.customer_id = r.customer_id;

INSERT INTO cx.schema_migrations (version, name) VALUES (4, 'experience_analytics');

-- ==================== 0005_alert_lifecycle ====================
ALTER TABLE cx.alerts_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'open';

ALTER TABLE cx.alerts ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS status LowCardinality(String) DEFAULT 'open';

ALTER TABLE cx.alerts_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS score Nullable(Float32);

ALTER TABLE cx.alerts ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS score Nullable(Float32);

ALTER TABLE cx.alerts_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS previous_score Nullable(Float32);

ALTER TABLE cx.alerts ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS previous_score Nullable(Float32);

ALTER TABLE cx.alerts_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sla_hours Nullable(Float32);

ALTER TABLE cx.alerts ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS sla_hours Nullable(Float32);

ALTER TABLE cx.alerts_local ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS channel LowCardinality(String);

ALTER TABLE cx.alerts ON CLUSTER '{cluster}'
ADD COLUMN IF NOT EXISTS channel LowCardinality(String);

CREATE TABLE IF NOT EXISTS cx.alert_revisions_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (alert_id, revision);

CREATE TABLE IF NOT EXISTS cx.alert_revisions ON CLUSTER '{cluster}'
AS cx.alert_revisions_local
ENGINE = Distributed('{cluster}', cx, alert_revisions_local, cityHash64(if(customer_id != '', customer_id, alert_id)));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.alert_revisions_mv ON CLUSTER '{cluster}'
TO cx.alert_revisions_local AS
SELECT alert_id, revision, event_id, kind, priority, status, title, score, previous_score,
       sla_hours,
       customer_id, touchpoint, channel, reason_codes, evidence, raised_at
FROM cx.alerts_local;

CREATE TABLE IF NOT EXISTS cx.alert_actions_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (alert_id, time, event_id);

CREATE TABLE IF NOT EXISTS cx.alert_actions ON CLUSTER '{cluster}'
AS cx.alert_actions_local
ENGINE = Distributed('{cluster}', cx, alert_actions_local, cityHash64(if(customer_id != '', customer_id, alert_id)));

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.alert_actions_mv ON CLUSTER '{cluster}'
TO cx.alert_actions_local AS
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
FROM cx.ingest_local
WHERE type IN ('cx.loop.alert_acknowledged.v1', 'cx.loop.alert_assigned.v1',
               'cx.loop.alert_resolved.v1', 'cx.loop.recovery_offered.v1');

CREATE VIEW IF NOT EXISTS cx.alert_lifecycle ON CLUSTER '{cluster}' AS
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

CREATE VIEW IF NOT EXISTS cx.recovery_outcomes ON CLUSTER '{cluster}' AS
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

INSERT INTO cx.schema_migrations (version, name) VALUES (5, 'alert_lifecycle');

-- ==================== 0006_customer_value ====================
CREATE TABLE IF NOT EXISTS cx.value_models_local ON CLUSTER '{cluster}'
(
    fitted_at DateTime64(3, 'UTC'),
    computed_at DateTime64(3, 'UTC'),
    customers UInt32,
    repeat_customers UInt32,
    bgnbd_r Float64,
    bgnbd_alpha Float64,
    bgnbd_a Float64,
    bgnbd_b Float64,
    bgnbd_log_likelihood Float64,
    gg_p Float64,
    gg_q Float64,
    gg_v Float64,
    tier_top_clv Float64,
    tier_high_clv Float64,
    tier_medium_clv Float64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY fitted_at;

CREATE TABLE IF NOT EXISTS cx.value_models ON CLUSTER '{cluster}'
AS cx.value_models_local
ENGINE = Distributed('{cluster}', cx, value_models_local, cityHash64(fitted_at));

CREATE TABLE IF NOT EXISTS cx.customer_value_local ON CLUSTER '{cluster}'
(
    customer_id String,
    fitted_at DateTime64(3, 'UTC'),
    repeat_purchases UInt32,
    recency_weeks Float64,
    age_weeks Float64,
    p_alive Float64,
    expected_purchases_year Float64,
    expected_spend Float64,
    clv Float64,
    tier LowCardinality(String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', fitted_at)
ORDER BY customer_id;

CREATE TABLE IF NOT EXISTS cx.customer_value ON CLUSTER '{cluster}'
AS cx.customer_value_local
ENGINE = Distributed('{cluster}', cx, customer_value_local, cityHash64(customer_id));

INSERT INTO cx.schema_migrations (version, name) VALUES (6, 'customer_value');

-- ==================== 0007_stream_progress ====================
CREATE TABLE IF NOT EXISTS cx.stream_progress_local ON CLUSTER '{cluster}'
(
    stream LowCardinality(String),
    partition UInt32,
    position DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY (stream, partition);

CREATE TABLE IF NOT EXISTS cx.stream_progress ON CLUSTER '{cluster}'
AS cx.stream_progress_local
ENGINE = Distributed('{cluster}', cx, stream_progress_local, cityHash64(stream, partition));

INSERT INTO cx.schema_migrations (version, name) VALUES (7, 'stream_progress');

-- ==================== 0008_erasures ====================
CREATE TABLE IF NOT EXISTS cx.erasures_local ON CLUSTER '{cluster}'
(
    subject_sha256 String,
    erasure_id String,
    requested_by String,
    reason String,
    requested_at DateTime64(3, 'UTC'),
    executed_at DateTime64(3, 'UTC'),
    status LowCardinality(String),
    rows_removed Map(String, UInt64)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', executed_at)
ORDER BY (subject_sha256, erasure_id);

CREATE TABLE IF NOT EXISTS cx.erasures ON CLUSTER '{cluster}'
AS cx.erasures_local
ENGINE = Distributed('{cluster}', cx, erasures_local, cityHash64(subject_sha256, erasure_id));

INSERT INTO cx.schema_migrations (version, name) VALUES (8, 'erasures');
