-- Experience analytics: satisfaction, voice of the customer, touchpoint activity, campaigns,
-- SERVQUAL gaps, journeys, repeat contacts, cross-channel consistency and key-driver inputs.
--
-- Additive measures are kept live by materialized views on cx.ingest into SummingMergeTree or
-- AggregatingMergeTree tables that store counts and sums, never ratios: the processor inserts
-- each event exactly once, so the counts are exact, and the views below derive NPS, CSAT and
-- CES from sums, so any re-aggregation is right (never an average of averages). Measures that
-- need a customer's events in order (episodes, peak-end, repeat contacts, consistency) are views
-- over cx.timeline computed when queried: always consistent with the timeline, nothing to
-- rebuild. Definitions and units: docs/bi.md.

ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS csat_top2 Nullable(UInt8);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS ces_7 Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS servqual Array(Tuple(dimension String, expectation Float32, perception Float32));
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS valence Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS matter String;
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS campaign_id String;
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS response LowCardinality(String);

ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS segment LowCardinality(String);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS satisfaction Nullable(Float32);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS touchpoint_score Nullable(Float32);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS valence Nullable(Float32);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS wait_seconds Nullable(Float32);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS matter String;

DROP VIEW IF EXISTS cx.timeline_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv TO cx.timeline AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id,
       language, sentiment, sentiment_label, topics,
       segment, satisfaction, touchpoint_score, valence, wait_seconds, matter
FROM cx.ingest
WHERE customer_id != '';

-- ---- Satisfaction: NPS, CSAT and CES counts by hour ----------------------------------------

CREATE TABLE IF NOT EXISTS cx.satisfaction_hourly
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
ENGINE = SummingMergeTree
ORDER BY (hour, touchpoint, channel, stage, segment);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.satisfaction_hourly_mv TO cx.satisfaction_hourly AS
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
FROM cx.ingest
WHERE type = 'cx.feedback.survey.v1'
GROUP BY hour, touchpoint, channel, stage, segment;

CREATE VIEW IF NOT EXISTS cx.satisfaction_by_hour AS
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

CREATE VIEW IF NOT EXISTS cx.satisfaction_by_day AS
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

-- ---- Voice of the customer: texts, sentiment and complaint topics ---------------------------

CREATE TABLE IF NOT EXISTS cx.voice_hourly
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
ENGINE = SummingMergeTree
ORDER BY (hour, touchpoint, channel, kind, language, segment);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.voice_hourly_mv TO cx.voice_hourly AS
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
FROM cx.ingest
WHERE sentiment IS NOT NULL
GROUP BY hour, touchpoint, channel, kind, language, segment;

CREATE TABLE IF NOT EXISTS cx.complaint_topics_daily
(
    day Date,
    touchpoint LowCardinality(String),
    language LowCardinality(String),
    topic LowCardinality(String),
    mentions UInt64,
    complaints UInt64,
    negative UInt64
)
ENGINE = SummingMergeTree
ORDER BY (day, touchpoint, language, topic);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.complaint_topics_daily_mv TO cx.complaint_topics_daily AS
SELECT
    toDate(time) AS day,
    touchpoint,
    language,
    topic,
    count() AS mentions,
    countIf(feedback_kind = 'complaint') AS complaints,
    countIf(sentiment_label = 'negative') AS negative
FROM cx.ingest
ARRAY JOIN topics AS topic
GROUP BY day, touchpoint, language, topic;

-- ---- Touchpoint activity: contacts, waits and outcomes by hour ------------------------------

CREATE TABLE IF NOT EXISTS cx.touchpoint_hourly
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
ENGINE = SummingMergeTree
ORDER BY (hour, touchpoint, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.touchpoint_hourly_mv TO cx.touchpoint_hourly AS
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
FROM cx.ingest
WHERE touchpoint != '' AND is_contact = 1
GROUP BY hour, touchpoint, channel;

CREATE VIEW IF NOT EXISTS cx.touchpoint_by_hour AS
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

-- ---- Campaign response ------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS cx.campaign_response_state
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
ENGINE = AggregatingMergeTree
ORDER BY (campaign_id, segment);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.campaign_response_mv TO cx.campaign_response_state AS
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
FROM cx.ingest
WHERE campaign_id != ''
GROUP BY campaign_id, segment;

CREATE VIEW IF NOT EXISTS cx.campaign_response AS
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

-- ---- SERVQUAL: expectation and perception per dimension -------------------------------------

CREATE TABLE IF NOT EXISTS cx.servqual_daily
(
    day Date,
    touchpoint LowCardinality(String),
    segment LowCardinality(String),
    dimension LowCardinality(String),
    responses UInt64,
    expectation_sum Float64,
    perception_sum Float64
)
ENGINE = SummingMergeTree
ORDER BY (day, touchpoint, segment, dimension);

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.servqual_daily_mv TO cx.servqual_daily AS
SELECT
    toDate(time) AS day,
    touchpoint,
    if(segment = '', 'unknown', segment) AS segment,
    item.dimension AS dimension,
    count() AS responses,
    sum(item.expectation) AS expectation_sum,
    sum(item.perception) AS perception_sum
FROM cx.ingest
ARRAY JOIN servqual AS item
GROUP BY day, touchpoint, segment, dimension;

CREATE VIEW IF NOT EXISTS cx.servqual_gaps AS
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

-- ---- Journeys: episodes, stages and the peak-end rule ---------------------------------------

-- Every timeline event with its episode: a new episode starts after 30 days without events
-- (projections/journeys.py EPISODE_GAP_DAYS), and with the journey stage carried forward from
-- the last event that had one, and the time until the next event of the episode (dwell).
CREATE VIEW IF NOT EXISTS cx.journey_moments AS
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

CREATE VIEW IF NOT EXISTS cx.journeys AS
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

-- ---- Repeat contacts --------------------------------------------------------------------------

-- An inbound contact or voice message about the same matter (the case, else the touchpoint)
-- within 7 days of the customer's previous one (projections/journeys.py REPEAT_WINDOW_DAYS).
CREATE VIEW IF NOT EXISTS cx.repeat_contacts AS
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

CREATE VIEW IF NOT EXISTS cx.repeat_contact_rate AS
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

-- ---- Cross-channel consistency ----------------------------------------------------------------

-- Per customer who answered surveys about two or more channels: the spread (population standard
-- deviation) and range of their mean 0-1 satisfaction between channels.
CREATE VIEW IF NOT EXISTS cx.channel_consistency AS
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

-- Per segment: the mean of its customers' spreads (how consistent one customer's experience
-- is), and the spread between the segment's channel means (how far apart the channels are).
CREATE VIEW IF NOT EXISTS cx.channel_consistency_by_segment AS
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

-- ---- Key-driver inputs --------------------------------------------------------------------------

-- One row per customer and touchpoint rated: the mean touchpoint score (CSAT and effort on 0-1,
-- NPS left out), with the customer's latest NPS and whether they churned: the input of
-- `touchstream drivers` (projections/key_drivers.py).
CREATE VIEW IF NOT EXISTS cx.driver_inputs AS
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
