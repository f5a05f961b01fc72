-- Voice of the customer: every free text (voice events, survey comments) is enriched with its
-- language, a sentiment score in [-1, 1] with its label, and the topics it mentions
-- (projections/sentiment.py, projections/complaint_topics.py).

ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS language LowCardinality(String);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);
ALTER TABLE cx.ingest ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS language LowCardinality(String);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS sentiment Nullable(Float32);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS sentiment_label LowCardinality(String);
ALTER TABLE cx.timeline ADD COLUMN IF NOT EXISTS topics Array(LowCardinality(String));

-- The view lists its columns, so it is recreated to carry the new ones. Migrations run at
-- start-up before the processors consume, so no insert can pass while it is absent.
DROP VIEW IF EXISTS cx.timeline_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS cx.timeline_mv TO cx.timeline AS
SELECT customer_id, time, id AS event_id, type, summary, channel, touchpoint, stage, outcome,
       nps, csat, csat_scale, ces, ces_scale, amount, currency, feedback_kind, case_id,
       language, sentiment, sentiment_label, topics
FROM cx.ingest
WHERE customer_id != '';
