"""Churn-risk alerts from the stream: after each batch is projected, every customer it touched
is scored again from their recent timeline, and the alert revisions their events raise are
published to `cx.alerts.v1` (projections/churn_risk.py has the model).

Scoring reads each customer's whole timeline from the warehouse and walks it from the start,
so however batches were cut, and after a restart or a replay, the same events raise the same
revisions with the same ids, which the alerts projection keeps once. Only revisions raised at
or after the customer's earliest event in the batch are published: older ones went out with the
batches that raised them. To keep a batch's cost to its new events, the walk's end state is
kept per customer (bounded, least recently seen dropped) once the batch's alerts are published,
and the next batch resumes from it; an event older than the walk's end, a new value model or a
restart make it walk from the start again, which gives the same result.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial

from touchstream.events.alerts import AlertRaised
from touchstream.events.commerce import PurchaseMade
from touchstream.events.envelope import CloudEvent
from touchstream.projections import queries
from touchstream.projections.churn_risk import (
    DEFAULT_MODEL,
    CustomerEvent,
    Engagement,
    RiskModel,
    Walk,
    customer_events,
    resume,
)
from touchstream.projections.value_model import ValueModel
from touchstream.services.projector import Projector
from touchstream.services.value_refit import ValueBook

PURCHASE_TYPE: str = PurchaseMade.model_fields["type"].default


class ChurnWatch:
    def __init__(
        self,
        projector: Projector,
        value: ValueBook,
        model: RiskModel = DEFAULT_MODEL,
        capacity: int = 200_000,
    ) -> None:
        self.projector = projector
        self.value = value
        self.model = model
        self.capacity = capacity
        # How far each customer's walk has gone (for the value model it was walked with), so a
        # batch scores only its new event times; kept once the batch's alerts are published.
        self._walks: OrderedDict[str, tuple[datetime | None, Walk]] = OrderedDict()
        self._pending: dict[str, tuple[datetime | None, Walk]] = {}

    async def alerts(self, events: Sequence[CloudEvent]) -> list[AlertRaised]:
        """The churn alert revisions raised by a batch of (projected) events; `commit` once
        they are published."""
        self._pending = {}
        earliest = {}
        for event in events:
            customer = vars(event.data).get("customer_id")
            if customer and (customer not in earliest or event.time < earliest[customer]):
                earliest[customer] = event.time
        if not earliest:
            return []
        rows = await self.projector.query(queries.CUSTOMER_HISTORIES, {"ids": sorted(earliest)})
        by_customer = defaultdict(list)
        for row in rows:
            by_customer[row["customer_id"]].append(row)
        value_model = await self.value.current()
        fitted_at = value_model.fitted_at if value_model else None
        tiers = await self.value.tiers(by_customer)
        raised = []
        for customer, history in sorted(by_customer.items()):
            events_ = customer_events(history)
            walked_with, walk = self._walks.get(customer, (None, Walk()))
            if walked_with != fitted_at:  # P(alive) changed with the model: walk again
                walk = Walk()
            revisions, walk = resume(
                customer,
                events_,
                walk,
                p_alive=_engagement(value_model, events_),
                tier=tiers.get(customer),
                model=self.model,
            )
            self._pending[customer] = (fitted_at, walk)
            raised.extend(a for a in revisions if a.time >= earliest[customer])
        return raised

    def forget(self, customers: Iterable[str]) -> None:
        """Drop what is held about these customers (they are erased)."""
        for customer in customers:
            self._walks.pop(customer, None)
            self._pending.pop(customer, None)

    def commit(self) -> None:
        """Keep the walks of the last batch: its alerts are published."""
        for customer, walk in self._pending.items():
            self._walks[customer] = walk
            self._walks.move_to_end(customer)
        self._pending = {}
        while len(self._walks) > self.capacity:
            self._walks.popitem(last=False)


def _engagement(model: ValueModel | None, events: list[CustomerEvent]) -> Engagement:
    """P(alive) as of any moment, from the customer's purchases (None without a value model:
    churn risk then rests on the experience signals alone)."""
    purchases = [e.time for e in events if e.type == PURCHASE_TYPE]
    if model is None or not purchases:
        return None
    return partial(model.p_alive, purchases)
