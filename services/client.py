"""A small HTTP client for a running Touchstream process (used by the CLI, the demo and tests)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

from touchstream.events.envelope import BATCH_CONTENT_TYPE


class ClientError(RuntimeError):
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body.decode('utf-8', 'replace').strip()[:500]}")


class TouchstreamClient:
    def __init__(self, base_url: str, timeout: float = 30.0, api_key: str | None = None) -> None:
        """`api_key`: presented as a bearer token, for a process that enforces keys."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers={**self.auth, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def query_raw(self, sql: str, fmt: str = "TabSeparated", **params: Any) -> bytes:
        args = {"default_format": fmt, **{f"param_{k}": str(v) for k, v in params.items()}}
        status, body = self._request(
            "POST",
            "/?" + urllib.parse.urlencode(args),
            sql.encode(),
            {"Content-Type": "text/plain"},
        )
        if status != 200:
            raise ClientError(status, body)
        return body

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        raw = self.query_raw(sql, "JSONEachRow", **params)
        return [orjson.loads(line) for line in raw.splitlines() if line]

    def post_events(self, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        status, body = self._request(
            "POST", "/v1/events", orjson.dumps(events), {"Content-Type": BATCH_CONTENT_TYPE}
        )
        return status, orjson.loads(body)

    def post_json(self, path: str, body: Any) -> tuple[int, Any]:
        status, raw = self._request(
            "POST", path, orjson.dumps(body), {"Content-Type": "application/json"}
        )
        return status, orjson.loads(raw) if raw else None

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self._request("GET", path)
        return status, orjson.loads(body) if body else None

    def metric_samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The (labels, value) samples named `name` (as exposed: `..._total` for counters) on
        /metrics."""
        from prometheus_client.parser import text_string_to_metric_families

        status, body = self._request("GET", "/metrics")
        if status != 200:
            raise ClientError(status, body)
        return [
            (sample.labels, sample.value)
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name == name
        ]

    def ready(self) -> bool:
        try:
            status, _ = self._request("GET", "/healthz")
        except OSError:
            return False
        return status == 200
