-- How far the stream processors have got, shared by every replica through the warehouse
-- (services/touchpoint_watch.py). Two kinds of rows, told apart by `stream`:
--   * a topic name (cx.touchpoints.v1): per partition, the newest event time projected and when
--     (wall clock) its processor last wrote; the judge of touchpoint health takes its watermark
--     from these, so an hour is judged only once every partition, whichever replica reads it,
--     has delivered it.
--   * 'touchpoint_health' (partition 0): the hour up to which incidents have been judged and
--     published, so a new judge (a restart, or another replica after a rebalance) publishes only
--     what the last one did not.
-- Read with max() per partition: positions only grow.

CREATE TABLE IF NOT EXISTS cx.stream_progress
(
    stream LowCardinality(String),
    partition UInt32,
    position DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (stream, partition);
