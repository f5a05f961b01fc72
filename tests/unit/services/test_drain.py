"""Stopping with the embedded broker: the gateway closes, then the processors are given time
to project what the broker holds — until they go quiet, or the drain timeout."""

from __future__ import annotations

import asyncio

from touchstream.services.gateway import Gateway
from touchstream.services.processor import Activity
from touchstream.services.runtime import drain
from touchstream.services.settings import Settings


def settings(**overrides: object) -> Settings:
    return Settings(consumer_fetch_wait_s=0.05, batch_max_wait_s=0.05, **overrides)


def test_drain_closes_the_gateway_and_waits_until_the_processors_go_quiet(capsys) -> None:
    activity, gateway = Activity(), Gateway(settings())

    async def main() -> float:
        async def batches() -> None:  # three batches, 0.5 s apart, after the stop began
            for _ in range(3):
                with activity.batch(100):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)

        producer = asyncio.create_task(batches())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await drain(gateway, activity, settings(drain_timeout_s=30))
        await producer
        return loop.time() - started

    took = asyncio.run(main())
    assert gateway.stopping
    assert took >= 2.0 + 1.0  # the last batch ended after ~1.6 s, then 2 s of quiet
    assert "drained (300 records projected" in capsys.readouterr().out


def test_drain_gives_up_after_the_timeout_and_says_what_is_lost(capsys) -> None:
    activity = Activity()

    async def main() -> None:
        with activity.batch(10):  # a batch that never ends (a warehouse retrying, say)
            await drain(Gateway(settings()), activity, settings(drain_timeout_s=0.3))

    asyncio.run(main())
    out = capsys.readouterr().out
    assert "gave up draining after 0.3 s" in out and "lost" in out
