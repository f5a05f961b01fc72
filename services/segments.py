"""The customer segment stamped on every read-model row, so satisfaction, voice, campaign and
SERVQUAL measures can be cut by segment although only `customer.identified` events carry it.

A row gets the segment its customer had when the event was projected: the latest
`customer.identified` before it in the customer's partition (events of one customer share a
partition, so they are projected in log order). Segments seen recently are kept in memory
(bounded); the others are read from the profile once per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
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

    async def stamp(self, rows: Sequence[dict[str, Any]]) -> None:
        """Fill in the `segment` of every row of a batch, in log order."""
        customers = {r["customer_id"] for r in rows if r["customer_id"]}
        current = {c: self._segments[c] for c in customers if c in self._segments}
        missing = customers - current.keys()
        if missing:
            stored = await self.projector.query(_KNOWN_SEGMENTS, {"ids": sorted(missing)})
            found = {r["customer_id"]: r["segment"] for r in stored}
            current.update((customer, found.get(customer, "")) for customer in missing)
        for row in rows:
            customer = row["customer_id"]
            if not customer:
                continue
            if row["segment"]:
                current[customer] = row["segment"]
            else:
                row["segment"] = current[customer]
        for customer, segment in current.items():
            self._segments[customer] = segment
            self._segments.move_to_end(customer)
        while len(self._segments) > self.capacity:
            self._segments.popitem(last=False)
