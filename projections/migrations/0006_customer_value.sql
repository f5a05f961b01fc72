-- The value model of the customer base (projections/value_model.py), refitted on a schedule:
-- one row per fit in cx.value_models, and each customer's value from the latest fit in
-- cx.customer_value (ReplacingMergeTree on the fit time: read with FINAL).

CREATE TABLE IF NOT EXISTS cx.value_models
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
ENGINE = ReplacingMergeTree
ORDER BY fitted_at;

CREATE TABLE IF NOT EXISTS cx.customer_value
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
ENGINE = ReplacingMergeTree(fitted_at)
ORDER BY customer_id;
