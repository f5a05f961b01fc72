"""The customer segment stamped on every read-model row, so satisfaction, voice, campaign and
SERVQUAL measures can be cut by segment although only `customer.identified` events carry it.

A row gets the segment its customer had when the event was projected: the latest
`customer.identified` before it in the customer's partition (events of one customer share a
partition, so they are projected in log order). Segments seen recently are kept in memory
(bounded); the others are read from the profile once per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from touchstream.services.projector import Projector

_KNOWN_SEGMENTS = """
SELECT customer_id, argMaxIfMerge(segment) AS segment
FROM cx.customer_profile_state
WHERE customer_id IN {ids:Array(String)}
GROUP BY customer_id
"""


class SegmentBook:
    def __init__(self, projector: Projector, capacity: int = 200_000) -> None:
        self.projector = projector
        self.capacity = capacity
        self._segments: OrderedDict[str, str] = OrderedDict()

    def forget(self, customers: Iterable[str]) -> None:
        """Drop what is held about these customers (they are erased)."""
        for customer in customers:
            self._segments.pop(customer, None)

    async def stamp(self, rows: Sequence[dict[str, Any]]) -> None:
        """Fill in the `segment` of every row of a batch, in log order."""
        customers = {r["customer_id"] for r in rows if r["customer_id"]}
        current = {c: self._segments[c] for c in customers if c in self._segments}
        missing = customers - current.keys()
        if missing:
            stored = await self.projector.query(_KNOWN_SEGMENTS, {"ids": sorted(missing)})
            found = {r["customer_id"]: r["segment"] for r in stored}
            current.update((customer, found.get(customer, "")) for customer in missing)
        carry_segments(rows, current)
        for customer, segment in current.items():
            self._segments[customer] = segment
            self._segments.move_to_end(customer)
        while len(self._segments) > self.capacity:
            self._segments.popitem(last=False)


def carry_segments(rows: Sequence[dict[str, Any]], current: dict[str, str]) -> None:
    """Stamp rows in log order with their customer's segment as known so far (`current`, updated
    as rows state a segment); rows without a customer are left alone."""
    for row in rows:
        customer = row["customer_id"]
        if not customer:
            continue
        if row["segment"]:
            current[customer] = row["segment"]
        else:
            row["segment"] = current.get(customer, "")
