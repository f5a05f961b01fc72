"""The record format of `cx.deadletter.v1`.

A dead letter is the original Kafka record, byte for byte (key, value and headers), with
`dlq_*` headers added saying why it was refused and where it came from. Any Kafka client can
read it; after a fix, the original record can be re-published as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

REASON = "dlq_reason"
SOURCE_TOPIC = "dlq_source_topic"
SOURCE_PARTITION = "dlq_source_partition"
SOURCE_OFFSET = "dlq_source_offset"
FAILED_AT = "dlq_failed_at"
DLQ_HEADERS = frozenset({REASON, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, FAILED_AT})


@dataclass(frozen=True)
class DeadLetter:
    """One refused record and why."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    failed_at: str

    def record_headers(self) -> list[tuple[str, bytes]]:
        """The original headers followed by the dead-letter headers."""
        extra = [
            (REASON, self.reason.encode()),
            (SOURCE_TOPIC, self.source_topic.encode()),
            (SOURCE_PARTITION, str(self.source_partition).encode()),
            (SOURCE_OFFSET, str(self.source_offset).encode()),
            (FAILED_AT, self.failed_at.encode()),
        ]
        return [*self.headers, *extra]

    @classmethod
    def from_record(
        cls, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> DeadLetter:
        """Read a dead letter back from a `cx.deadletter.v1` record."""
        dlq = {name: raw.decode("utf-8", "replace") for name, raw in headers if name in DLQ_HEADERS}
        original = tuple((name, raw) for name, raw in headers if name not in DLQ_HEADERS)
        return cls(
            key=key,
            value=value,
            headers=original,
            reason=dlq.get(REASON, "unknown"),
            source_topic=dlq.get(SOURCE_TOPIC, ""),
            source_partition=_int_or(dlq.get(SOURCE_PARTITION), -1),
            source_offset=_int_or(dlq.get(SOURCE_OFFSET), -1),
            failed_at=dlq.get(FAILED_AT, ""),
        )


def _int_or(text: str | None, default: int) -> int:
    """Anyone can write to the dead-letter topic: a malformed header must not stop its reader."""
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
