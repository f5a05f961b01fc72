"""`TOUCHSTREAM_ROLE`: one process runs the gateway, the processors or both; the split needs a
Kafka cluster and a ClickHouse server, and each role serves only its own HTTP surfaces."""

from __future__ import annotations

import pytest
from aiohttp import web

from touchstream.services.gateway import Gateway
from touchstream.services.http_server import build_http_app
from touchstream.services.projector import Projector
from touchstream.services.runtime import RoleError, check_role
from touchstream.services.settings import Settings

SERVER = {"embedded_broker": False, "warehouse_url": "http://clickhouse:8123"}


@pytest.mark.parametrize("role", ["gateway", "processors"])
def test_a_split_role_needs_kafka_and_a_clickhouse_server(role):
    with pytest.raises(RoleError, match=f"TOUCHSTREAM_ROLE={role}"):
        check_role(Settings(role=role))
    with pytest.raises(RoleError):
        check_role(Settings(role=role, embedded_broker=False))  # chDB is still one process
    check_role(Settings(role=role, **SERVER))
    check_role(Settings())  # the embedded default runs everything


def routes(app: web.Application) -> set[str]:
    return {f"{r.method} {r.resource.canonical}" for r in app.router.routes()}


def test_the_processors_serve_only_probes_metrics_and_the_value_fit():
    settings = Settings(role="processors", **SERVER)
    processors = routes(build_http_app(settings, None, Projector(None), dict))
    assert processors == {
        "GET /healthz",
        "HEAD /healthz",
        "GET /metrics",
        "HEAD /metrics",
        "GET /ping",
        "HEAD /ping",
        "POST /v1/value-model/fit",
    }
    everything = routes(build_http_app(settings, Gateway(settings), Projector(None), dict))
    assert "POST /v1/events" in everything and "GET /v1/alerts/stream" in everything
    assert processors < everything
