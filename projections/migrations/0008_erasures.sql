-- Erasure tombstones (projections/erasure.py): one row per executed erasure request, the
-- auditable record that a customer's personal data was removed, and the list the processors
-- check so that later events of that customer are projected anonymised. The customer is named
-- only by the SHA-256 of their id; `rows_removed` counts what was deleted, per table. A request
-- is recorded `erasing` before its statements run and `done` after (read with FINAL: the latest).

CREATE TABLE IF NOT EXISTS cx.erasures
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
ENGINE = ReplacingMergeTree(executed_at)
ORDER BY (subject_sha256, erasure_id);
