"""The one HTTP server of a Touchstream process: ingest, reads, the live alert feed, SQL, health
and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mode
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from touchstream.services.access import KeyRing, RateLimiter, access_middleware
from touchstream.services.alert_stream import AlertStream
from touchstream.services.gateway import Gateway
from touchstream.services.projector import Projector
from touchstream.services.query_endpoint import QueryEndpoint
from touchstream.services.read_api import ReadApi
from touchstream.services.replay import Replayer, replay_routes
from touchstream.services.settings import Settings
from touchstream.services.value_refit import ValueBook, value_routes

log = logging.getLogger(__name__)

HealthCheck = Callable[[], dict[str, bool]]


def build_http_app(
    settings: Settings,
    gateway: Gateway | None,
    projector: Projector,
    health: HealthCheck,
    value: ValueBook | None = None,
    keys: KeyRing | None = None,
    replayer: Replayer | None = None,
) -> web.Application:
    """The HTTP surfaces of one process. Without a gateway (the `processors` role) it serves
    only what probes, Prometheus and `touchstream value --fit` need. `keys`: the API keys to
    enforce (services/access.py), None for anonymous access."""
    limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[access_middleware(keys, limiter)]
    )
    alert_stream = AlertStream(settings)  # reads Kafka only once a client subscribes

    async def healthz(request: web.Request) -> web.Response:
        checks = health()
        ok = all(checks.values())
        return web.json_response(
            {"status": "ok" if ok else "starting", "checks": checks}, status=200 if ok else 503
        )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
            *value_routes(value or ValueBook(projector)),
            *(replay_routes(replayer) if replayer else ()),
        ]
    )
    if gateway is None:  # the liveness route; the query endpoint serves it otherwise

        async def ping(request: web.Request) -> web.Response:
            return web.Response(text="Ok.\n")

        app.add_routes([web.get("/ping", ping)])
    else:
        app.add_routes(
            [
                web.post("/v1/events", gateway.post_events),
                *alert_stream.routes(),
                *ReadApi(projector).routes(),
                *QueryEndpoint(projector).routes(),
            ]
        )

    async def end_alert_streams(app: web.Application) -> None:
        # on_shutdown runs before the runner waits for open requests: end the streams first
        await alert_stream.close()

    app.on_shutdown.append(end_alert_streams)
    return app


class HttpService(mode.Service):
    """Runs the aiohttp app inside the faust worker's event loop."""

    def __init__(self, app: web.Application, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app, self.host, self.port = app, host, port
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("HTTP on http://%s:%s", self.host, self.port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
