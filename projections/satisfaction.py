"""Survey measures on common scales: the NPS band, the CSAT top-two box, effort on a 1-7 scale,
and one 0-1 satisfaction score per answer.

The satisfaction read models (migration 0004) store counts and sums of what these functions
return, never ratios, so that a BI tool re-aggregating over any dimension gets the right NPS,
CSAT and CES. The definitions (docs/bi.md):

- NPS: promoters answer 9-10, passives 7-8, detractors 0-6; NPS = % promoters - % detractors.
- CSAT: the share of answers in the top two boxes of a 1-5 scale. An answer on a 7- or 10-point
  scale is mapped linearly onto 1-5 first (1 -> 1, top -> 5) and counts as top-two when it lands
  at 4 or above: 6-7 of 7, 8-10 of 10.
- CES: mean effort on a 1-7 scale (higher = harder); a 1-5 answer is mapped linearly onto 1-7.
- Satisfaction: each answered measure mapped onto 0-1 (1 = best: NPS / 10, CSAT's position on its
  scale, and effort inverted), then averaged. It lets channels and touchpoints be compared when
  they ask different questions (cross-channel consistency); the touchpoint score leaves NPS out
  because NPS is the outcome that key-driver analysis explains.
"""

from __future__ import annotations

from statistics import fmean

NPS_PROMOTER_MIN = 9
NPS_PASSIVE_MIN = 7
CSAT_TOP_TWO_MIN = 4  # on the 1-5 scale
CES_SCALE = 7


def nps_band(score: int) -> str:
    if score >= NPS_PROMOTER_MIN:
        return "promoter"
    return "passive" if score >= NPS_PASSIVE_MIN else "detractor"


def _rescale(value: float, scale: int, onto: int) -> float:
    """A 1..scale answer mapped linearly onto 1..onto."""
    return 1 + (value - 1) * (onto - 1) / (scale - 1)


def csat_top_two(csat: int, scale: int) -> bool:
    return _rescale(csat, scale, 5) >= CSAT_TOP_TWO_MIN


def ces_on_seven(ces: int, scale: int) -> float:
    return _rescale(ces, scale, CES_SCALE)


def _position(value: float, scale: int) -> float:
    """Where a 1..scale answer sits between the worst (0) and the best (1)."""
    return (value - 1) / (scale - 1)


def _touchpoint_parts(
    csat: int | None, csat_scale: int, ces: int | None, ces_scale: int
) -> list[float]:
    parts = []
    if csat is not None:
        parts.append(_position(csat, csat_scale))
    if ces is not None:
        parts.append(1 - _position(ces, ces_scale))
    return parts


def _mean(parts: list[float]) -> float | None:
    return round(fmean(parts), 4) if parts else None


def touchpoint_score(
    csat: int | None, csat_scale: int, ces: int | None, ces_scale: int
) -> float | None:
    """0-1 satisfaction with the touchpoint from CSAT and effort (None when neither)."""
    return _mean(_touchpoint_parts(csat, csat_scale, ces, ces_scale))


def satisfaction_score(
    nps: int | None, csat: int | None, csat_scale: int, ces: int | None, ces_scale: int
) -> float | None:
    """0-1 satisfaction from every measure the answer carries (None when none)."""
    nps_part = [nps / 10] if nps is not None else []
    return _mean(nps_part + _touchpoint_parts(csat, csat_scale, ces, ces_scale))
