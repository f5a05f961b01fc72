"""The soak summary: what it says about memory growth and the backlog, from samples alone."""

from __future__ import annotations

import pytest

from touchstream.services.bench import SoakSample, summarise_soak

RATE = 500  # events/s published


def samples(rss: list[float], projected_share: float = 1.0, saw: int = 0) -> list[SoakSample]:
    """One sample every 10 s; `saw` events of micro-batch lag on every other sample."""
    return [
        SoakSample(
            t_s=10.0 * i,
            published=RATE * 10 * i,
            projected=int(RATE * 10 * i * projected_share) - (saw if i % 2 else 0),
            rss_mib={"up": mib},
        )
        for i, mib in enumerate(rss)
    ]


def test_slope_is_mib_per_minute_after_the_warmup_and_the_max_includes_the_warmup() -> None:
    # a start-up spike to 900 MiB, then 500 MiB growing 1 MiB every 10 s: 6 MiB a minute
    rss = [300, 900, 700, 600, 550, 520, *(500 + k for k in range(12))]
    _, processes = summarise_soak(samples(rss), warmup_s=60)
    up = processes["up"]
    assert up["slope_mib_per_min"] == pytest.approx(6.0)
    assert (up["start_rss_mib"], up["end_rss_mib"], up["max_rss_mib"]) == (500, 511, 900)


def test_flat_memory_has_zero_slope() -> None:
    _, processes = summarise_soak(samples([400, 600, *([480] * 15)]), warmup_s=20)
    assert processes["up"]["slope_mib_per_min"] == pytest.approx(0.0)


def test_a_pipeline_that_keeps_up_with_saw_toothed_lag_has_a_bounded_backlog() -> None:
    results, _ = summarise_soak(samples([400] * 20, saw=2000), warmup_s=60)
    assert results["backlog_bounded"] is True
    assert results["backlog_max_after_warmup"] == 2000


def test_a_pipeline_projecting_90_percent_of_the_rate_does_not() -> None:
    results, _ = summarise_soak(samples([400] * 20, projected_share=0.9), warmup_s=60)
    assert results["backlog_bounded"] is False
    assert results["backlog_slope_per_min"] == pytest.approx(0.1 * RATE * 60)


def test_too_few_samples_after_the_warmup_is_an_error() -> None:
    with pytest.raises(ValueError, match="two samples"):
        summarise_soak(samples([400] * 6), warmup_s=60)
