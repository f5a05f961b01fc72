"""`TOUCHSTREAM_ROLE`: one process runs the gateway, the processors or both; the split needs a
Kafka cluster and a ClickHouse server (or, for processors, an embedded `up` to attach to), and
each role serves only its own HTTP surfaces."""

from __future__ import annotations

import pytest
from aiohttp import web

from touchstream.services.gateway import Gateway
from touchstream.services.http_server import build_http_app
from touchstream.services.projector import Projector
from touchstream.services.runtime import RoleError, check_role, run
from touchstream.services.settings import Settings

SERVER = {"embedded_broker": False, "warehouse_url": "http://clickhouse:8123"}


def test_a_gateway_alone_needs_kafka_and_a_clickhouse_server():
    with pytest.raises(RoleError, match="TOUCHSTREAM_ROLE=gateway"):
        check_role(Settings(role="gateway"))
    with pytest.raises(RoleError):
        check_role(Settings(role="gateway", embedded_broker=False))  # chDB is still one process
    check_role(Settings(role="gateway", **SERVER))
    check_role(Settings())  # the embedded default runs everything


def test_processors_beside_kafka_and_clickhouse_or_attached_to_an_embedded_up(tmp_path):
    check_role(Settings(role="processors", **SERVER))
    embedded = Settings(role="processors", data_dir=tmp_path)
    check_role(embedded)  # attaches to the `up` running on the data directory...
    with pytest.raises(RoleError, match=f"no touchstream up is running on .*{tmp_path.name}"):
        run(embedded)  # ...so there must be one


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
