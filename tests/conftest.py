"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from touchstream.services.broker import EmbeddedBroker, free_port

__all__ = ["free_port"]  # the tests' way to a port nothing listens on


@pytest.fixture(scope="session")
def broker_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Tansu broker on a free loopback port, for tests that need only Kafka."""
    bootstrap = f"127.0.0.1:{free_port()}"
    broker = EmbeddedBroker(bootstrap, tmp_path_factory.mktemp("broker") / "tansu.log")
    broker.start()
    yield bootstrap
    broker.stop()
