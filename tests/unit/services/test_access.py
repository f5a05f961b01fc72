"""Access control over HTTP: API keys with scopes (401 and 403 distinct and explained), per-key
rate limits (429 + Retry-After), keys stored hashed and rotated without a restart, anonymous
access only on loopback; and every query parameter of every endpoint is data, never SQL."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote as quoted

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import free_port
from tests.unit.projections.conftest import contact, open_migrated, survey
from touchstream.projections.timeline import RecordOrigin, ingest_row
from touchstream.services.access import (
    AccessConfigError,
    KeyEntry,
    KeyRing,
    RateLimiter,
    digest,
    key_ring,
    new_key,
    read_keys,
    write_keys,
)
from touchstream.services.gateway import Gateway
from touchstream.services.http_server import build_http_app
from touchstream.services.projector import Projector
from touchstream.services.settings import Settings


def make_key(path: Path, name: str, scopes: set[str], **fields: Any) -> str:
    ident, key = new_key()
    entries = read_keys(path) if path.exists() else []
    entry = KeyEntry(id=ident, name=name, sha256=digest(key), scopes=frozenset(scopes), **fields)
    write_keys(path, [*entries, entry])
    return key


# ---- keys, scopes, limits -----------------------------------------------------------------------


def test_keys_are_stored_hashed_and_owner_readable_only(tmp_path):
    path = tmp_path / "keys.json"
    key = make_key(path, "crm", {"publish"})
    stored = path.read_text()
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert digest(key) in stored
    assert path.stat().st_mode & 0o077 == 0


def test_a_key_is_recognised_only_whole(tmp_path):
    path = tmp_path / "keys.json"
    key = make_key(path, "crm", {"publish"})
    ring = KeyRing(path)
    assert ring.authenticate(key).name == "crm"
    prefix, ident, secret = key.split("_", 2)
    for wrong in [
        f"{prefix}_{ident}_{secret[:-1]}x"
        if secret[-1] != "x"
        else f"{prefix}_{ident}_{secret[:-1]}y",
        f"{prefix}_{'0' * len(ident)}_{secret}",
        secret,
        "",
        "tsk__",
        "tsk_a_b_c",
        key + "_",
    ]:
        assert ring.authenticate(wrong) is None


def test_a_revoked_or_added_key_takes_effect_without_a_restart(tmp_path):
    path = tmp_path / "keys.json"
    old = make_key(path, "old", {"read"})
    ring = KeyRing(path)
    new = make_key(path, "new", {"read"})
    write_keys(path, [e for e in read_keys(path) if e.name != "old"])
    ring._checked = 0.0  # the ring looks at the file at most once a second
    assert ring.authenticate(new).name == "new"
    assert ring.authenticate(old) is None


def test_publish_patterns_match_source_and_type():
    entry = KeyEntry(
        id="0123abcd",
        name="crm",
        sha256="0" * 64,
        scopes=frozenset({"publish"}),
        sources=("/crm/*",),
        types=("cx.feedback.*", "cx.contact.v1"),
    )
    assert entry.may_publish("/crm/eu", "cx.feedback.survey.v1")
    assert entry.may_publish("/crm/eu/west", "cx.contact.v1")
    assert not entry.may_publish("/billing", "cx.feedback.survey.v1")
    assert not entry.may_publish("/crm/eu", "cx.commerce.purchase.v1")


def test_the_rate_limiter_allows_a_burst_then_says_how_long_to_wait():
    limiter = RateLimiter(rate=10.0, burst=3)
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.wait("a")
    assert 0 < wait <= 0.1
    assert limiter.wait("b") == 0.0  # each caller has its own bucket
    assert limiter.wait("c", rate=1.0, burst=1) == 0.0
    assert limiter.wait("c", rate=1.0, burst=1) > 0.5


def test_anonymous_access_only_on_loopback_unless_allowed(tmp_path):
    assert key_ring(None, "127.0.0.1", False) is None
    assert key_ring(None, "::1", False) is None
    with pytest.raises(AccessConfigError, match="TOUCHSTREAM_API_KEYS_FILE"):
        key_ring(None, "0.0.0.0", False)
    assert key_ring(None, "0.0.0.0", True) is None
    with pytest.raises(AccessConfigError, match="does not exist"):
        key_ring(tmp_path / "missing.json", "0.0.0.0", False)
    (tmp_path / "bad.json").write_text('[{"id": "zz"}]')
    with pytest.raises(AccessConfigError, match="not valid"):
        key_ring(tmp_path / "bad.json", "0.0.0.0", False)


# ---- over HTTP ----------------------------------------------------------------------------------


EVENT = {
    "specversion": "1.0",
    "id": "acl-1",
    "source": "/crm/eu",
    "type": "cx.feedback.survey.v1",
    "time": "2026-03-01T10:00:00Z",
    "data": {"customer_id": "c-1", "survey_id": "s", "touchpoint": "app", "nps": 9},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An HTTP app enforcing a keys file, over a real chDB warehouse holding two customers; its
    broker is unreachable, so an authorised publish ends in 503, never in 401/403."""
    tmp = tmp_path_factory.mktemp("access")
    warehouse = open_migrated(tmp / "warehouse")
    received = datetime.now(UTC)
    rows = [
        ingest_row(e, RecordOrigin("t", 0, i), received)
        for i, e in enumerate(
            [
                contact("acl-c1", 5, customer_id="c-1"),
                survey("acl-s1", 6, customer_id="c-1"),
                contact("acl-c2", 7, customer_id="c-2"),
            ]
        )
    ]
    warehouse.insert("cx.ingest", rows)
    path = tmp / "keys.json"
    keys = {
        "crm": make_key(path, "crm", {"publish"}, sources=("/crm/*",)),
        "analyst": make_key(path, "analyst", {"read"}),
        "ops": make_key(path, "ops", {"admin"}),
        "tight": make_key(path, "tight", {"read"}, rate=0.5, burst=2),
    }
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}", publish_timeout_s=2, http_host="0.0.0.0"
    )
    gateway = Gateway(settings)
    projector = Projector(warehouse, retry_max_s=0.5)

    def app() -> web.Application:  # an aiohttp app runs on one event loop: one per call
        return build_http_app(settings, gateway, projector, dict, keys=KeyRing(path))

    yield app, keys, warehouse
    gateway.close()
    projector.close()
    warehouse.close()


def call(app, requests: list[tuple[str, str, dict]]) -> list[tuple[int, dict, Any]]:
    """Send requests in order to a fresh app; each answer as (status, headers, JSON or text)."""

    async def go() -> list[tuple[int, dict, Any]]:
        answers = []
        async with TestClient(TestServer(app())) as client:
            for method, path, options in requests:
                response = await client.request(method, path, **options)
                text = await response.text()
                is_json = response.content_type == "application/json"
                answers.append(
                    (
                        response.status,
                        dict(response.headers),
                        await response.json() if is_json else text,
                    )
                )
        return answers

    return asyncio.run(go())


def bearer(key: str) -> dict:
    return {"headers": {"Authorization": f"Bearer {key}"}}


def test_no_key_is_401_with_the_scheme_to_use(served):
    app, _, _ = served
    for method, path in [
        ("POST", "/v1/events"),
        ("GET", "/v1/alerts"),
        ("GET", "/?query=SELECT+1"),
    ]:
        ((status, headers, body),) = call(app, [(method, path, {})])
        assert status == 401 and "Bearer" in headers["WWW-Authenticate"]
        assert "API key is required" in body["error"]


def test_a_wrong_key_is_401_and_says_so(served):
    app, keys, _ = served
    ((status, headers, body),) = call(app, [("GET", "/v1/alerts", bearer(keys["analyst"] + "x"))])
    assert status == 401 and "invalid_token" in headers["WWW-Authenticate"]
    assert "not valid" in body["error"]


def test_a_key_without_the_scope_is_403_naming_what_is_missing(served):
    app, keys, _ = served
    answers = call(
        app,
        [
            ("GET", "/v1/alerts", bearer(keys["crm"])),
            ("POST", "/v1/events", {**bearer(keys["analyst"]), "json": [EVENT]}),
            ("POST", "/v1/value-model/fit", bearer(keys["analyst"])),
        ],
    )
    assert [status for status, _, _ in answers] == [403, 403, 403]
    assert "'read'" in answers[0][2]["error"] and "crm" in answers[0][2]["error"]
    assert "'publish'" in answers[1][2]["error"]
    assert "'admin'" in answers[2][2]["error"]


def test_publishing_outside_the_keys_sources_refuses_the_whole_request(served):
    app, keys, _ = served
    stranger = {**EVENT, "id": "acl-2", "source": "/billing"}
    ((status, _, body),) = call(
        app, [("POST", "/v1/events", {**bearer(keys["crm"]), "json": [EVENT, stranger]})]
    )
    assert status == 403 and "nothing was published" in body["error"]
    assert body["outside"] == [
        {"index": 1, "id": "acl-2", "source": "/billing", "type": "cx.feedback.survey.v1"}
    ]


def test_an_authorised_publish_reaches_the_broker(served):
    app, keys, _ = served
    ((status, _, body),) = call(
        app, [("POST", "/v1/events", {**bearer(keys["crm"]), "json": [EVENT]})]
    )
    assert status == 503 and body["failed"] == 1  # past access control; the broker is down


def test_clickhouse_clients_and_bi_tools_authenticate_their_own_way(served):
    app, keys, _ = served
    basic = base64.b64encode(f"grafana:{keys['analyst']}".encode()).decode()
    answers = call(
        app,
        [
            ("GET", "/?query=SELECT+1", {"headers": {"X-ClickHouse-Key": keys["analyst"]}}),
            ("GET", "/?query=SELECT+1", {"headers": {"Authorization": f"Basic {basic}"}}),
            ("GET", "/?query=SELECT+1", {"headers": {"X-API-Key": keys["analyst"]}}),
            ("GET", "/ping", {}),
            ("GET", "/healthz", {}),
            ("GET", "/metrics", {}),
        ],
    )
    assert [status for status, _, _ in answers] == [200] * 6


def test_beyond_its_rate_a_key_gets_429_with_retry_after(served):
    app, keys, _ = served
    answers = call(app, [("GET", "/v1/alerts", bearer(keys["tight"]))] * 3)
    assert [status for status, _, _ in answers] == [200, 200, 429]
    status, headers, body = answers[2]
    assert int(headers["Retry-After"]) >= 1 and "rate limit" in body["error"]
    ((status, _, _),) = call(app, [("GET", "/v1/alerts", bearer(keys["analyst"]))])
    assert status == 200  # another key is not held back


# ---- injection through every query parameter of every endpoint ------------------------------


INJECTIONS = [
    "c-1' OR '1'='1",
    "c-1' --",
    "'; DROP TABLE cx.events; --",
    "c-1\\' OR 1=1 --",
    "') UNION ALL SELECT id FROM cx.events --",
    "{customer_id:String}",
    "c-1\x00' OR 1",
    "%' OR customer_id LIKE '%",
    "c-2' OR customer_id = 'c-1",
]


def _tables(warehouse) -> dict[str, int]:
    return {
        table: warehouse.query(f"SELECT count() AS n FROM cx.{table}")[0]["n"]
        for table in ("events", "timeline", "alerts", "dead_letters")
    }


def test_injection_attempts_through_every_parameter_are_only_data(served):
    app, keys, warehouse = served
    before = _tables(warehouse)
    auth = bearer(keys["analyst"])["headers"]
    attempts: list[tuple[str, str, dict]] = []
    for text in INJECTIONS:
        q = quoted(text, safe="")
        attempts += [
            ("GET", f"/v1/customers/{q}/timeline", {"headers": auth}),
            ("GET", f"/v1/customers/{q}/profile", {"headers": auth}),
            ("GET", f"/v1/customers/c-1/timeline?limit={q}", {"headers": auth}),
            ("GET", f"/v1/alerts?customer_id={q}&priority={q}", {"headers": auth}),
            ("GET", f"/v1/alerts?limit={q}", {"headers": auth}),
            (
                "GET",
                "/?query="
                + quoted("SELECT count() AS n FROM cx.timeline WHERE customer_id = {c:String}")
                + f"&param_c={q}&default_format=TabSeparated",
                {"headers": auth},
            ),
            ("GET", f"/?query=SELECT+1&database={q}", {"headers": auth}),
            ("GET", f"/?query=SELECT+1&default_format={q}", {"headers": auth}),
            ("GET", f"/?query={quoted('SELECT 1; ' + text)}", {"headers": auth}),
            (
                "GET",
                f"/v1/alerts/stream?priority={q}&kind={q}&touchpoint={q}&since={q}",
                {"headers": auth},
            ),
        ]
    count = quoted("SELECT count() AS n FROM cx.timeline WHERE customer_id = {c:String}")
    controls = call(
        app,
        [
            ("GET", "/v1/customers/c-1/timeline", {"headers": auth}),
            ("GET", f"/?query={count}&param_c=c-1&default_format=TabSeparated", {"headers": auth}),
        ],
    )
    assert len(controls[0][2]["events"]) == 2 and controls[1][2] == "2\n"  # the honest ids work
    answers = call(app, attempts)
    for (_, path, _), (status, _, body) in zip(attempts, answers, strict=True):
        assert status in (200, 400, 403, 404), (path, status, body)
        if status == 403:  # ClickHouse's READONLY answer, to what follows "SELECT 1;" only
            assert path.startswith("/?query=SELECT%201%3B") and "(READONLY)" in body
        if path.endswith("/timeline") and status == 200:
            assert body["events"] == [], path  # no customer's events leak to a forged id
        if path.startswith("/v1/alerts?") and status == 200:
            assert body["alerts"] == []
        if "param_c=" in path:
            assert (status, body) == (200, "0\n"), path  # compared as a value: no match
    assert _tables(warehouse) == before  # nothing was dropped, deleted or written
