"""Who may do what over HTTP: API keys with scopes, per-key rate limits.

A key is `tsk_<id>_<secret>`, shown once when created (`touchstream keys add`) and stored only
as its SHA-256 in the keys file (`TOUCHSTREAM_API_KEYS_FILE`, JSON). The id finds the entry;
the digest is compared in constant time (an unknown id is compared against a dummy digest,
so timing tells nothing). Keys are random 256-bit secrets, so one fast hash is enough: there is
nothing to guess a dictionary word from.

Scopes:
- `publish`: `POST /v1/events`, for events whose `source` and `type` match the key's patterns
  (shell-style, e.g. `/crm/*`, `cx.feedback.*`); an event outside them refuses the request (403).
- `read`: queries (the ClickHouse-HTTP endpoint, the read API) and the alert feeds.
- `admin`: operations (`POST /v1/value-model/fit`, `POST /v1/admin/replay`).

`/healthz`, `/metrics` and `/ping` are open (probes, Prometheus, ClickHouse clients' ping).
A key is presented as `Authorization: Bearer <key>`, `X-API-Key`, or the way ClickHouse clients
send credentials (`X-ClickHouse-Key`, or the password of HTTP basic auth), so BI tools work
unchanged. 401: no key, or not a valid one; 403: a valid key without the scope.

Every key (and, without keys, every client address) has a token bucket: `rate` requests per
second with bursts of `burst`; beyond it, 429 with Retry-After.

Without a keys file access is anonymous, which `up` allows only on a loopback address (the
embedded default, 127.0.0.1) unless TOUCHSTREAM_ALLOW_ANONYMOUS is set.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fnmatch
import hashlib
import hmac
import ipaddress
import math
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from touchstream.services import metrics

Scope = Literal["publish", "read", "admin"]
OPEN_PATHS = frozenset({"/healthz", "/metrics", "/ping"})
KEY_PREFIX = "tsk"
_DUMMY_DIGEST = hashlib.sha256(b"no such key").hexdigest()


class AccessConfigError(ValueError):
    """The keys file or the bind address do not allow a safe start."""


class KeyEntry(BaseModel):
    """One key as stored: never the secret, only its digest."""

    id: str = Field(pattern=r"^[0-9a-f]{8,32}$")
    name: str = Field(min_length=1, max_length=200)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: frozenset[Scope]
    sources: tuple[str, ...] = ("*",)
    types: tuple[str, ...] = ("*",)
    rate: float | None = Field(None, gt=0, description="Requests per second; default: settings.")
    burst: int | None = Field(None, ge=1)
    created_at: str = ""

    def may_publish(self, source: str, type_: str) -> bool:
        return any(fnmatch.fnmatchcase(source, p) for p in self.sources) and any(
            fnmatch.fnmatchcase(type_, p) for p in self.types
        )


#: Where the middleware leaves the caller's key for the handlers.
API_KEY = web.RequestKey("api_key", KeyEntry | None)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (id, key)."""
    ident = secrets.token_hex(6)
    return ident, f"{KEY_PREFIX}_{ident}_{secrets.token_urlsafe(32)}"


def read_keys(path: Path) -> list[KeyEntry]:
    try:
        raw = orjson.loads(path.read_bytes())
        entries = [KeyEntry.model_validate(item) for item in raw]
    except FileNotFoundError:
        raise AccessConfigError(
            f"API keys file {path} does not exist: create a key with `touchstream keys add NAME`"
        ) from None
    except (orjson.JSONDecodeError, TypeError, ValidationError) as exc:
        raise AccessConfigError(f"API keys file {path} is not valid: {exc}") from None
    if len({e.id for e in entries}) != len(entries):
        raise AccessConfigError(f"API keys file {path} lists a key id twice")
    return entries


def write_keys(path: Path, entries: Iterable[KeyEntry]) -> None:
    """Replace the keys file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(path.suffix + ".tmp")
    body = orjson.dumps([e.model_dump(mode="json") for e in entries], option=orjson.OPT_INDENT_2)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    staged.replace(path)


class KeyRing:
    """The keys file, re-read when it changes (rotation needs no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._entries: dict[str, KeyEntry] = {}
        self._checked = 0.0
        self.reload()

    def reload(self) -> None:
        """Read the file if it changed; raise AccessConfigError if it is missing or invalid."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            read_keys(self.path)  # raises, saying how to create it
            raise
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._entries = {e.id: e for e in read_keys(self.path)}
            self._stamp = stamp

    def authenticate(self, key: str) -> KeyEntry | None:
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            with contextlib.suppress(AccessConfigError, OSError):  # keep the last good keys
                self.reload()
        parts = key.split("_", 2)  # the secret itself may contain "_"
        entry = self._entries.get(parts[1]) if len(parts) == 3 and parts[0] == KEY_PREFIX else None
        matches = hmac.compare_digest(digest(key), entry.sha256 if entry else _DUMMY_DIGEST)
        return entry if entry is not None and matches else None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets by caller; the least recently seen are forgotten beyond `max_callers`."""

    rate: float
    burst: int
    max_callers: int = 10_000
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)

    def wait(self, caller: str, rate: float | None = None, burst: int | None = None) -> float:
        """0 if the call may go ahead (and spend a token), else the seconds until it may."""
        rate, burst = rate or self.rate, burst or self.burst
        now = time.monotonic()
        bucket = self._buckets.pop(caller, None) or _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        self._buckets[caller] = bucket
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


def required_scope(request: web.Request) -> Scope | None:
    path = request.path
    if path in OPEN_PATHS:
        return None
    if path == "/v1/events":
        return "publish"
    if path.startswith(("/v1/value-model", "/v1/admin/")):
        return "admin"
    return "read"  # everything else, including routes added later: closed by default


def presented_key(request: web.Request) -> str | None:
    headers = request.headers
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth[:6].lower() == "basic ":
        try:
            _, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password
    return headers.get("X-API-Key") or headers.get("X-ClickHouse-Key") or None


def _refuse(status: int, message: str, **headers: str) -> web.Response:
    metrics.ACCESS_REFUSED.labels(str(status)).inc()
    return web.json_response({"error": message}, status=status, headers=headers or None)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def access_middleware(keys: KeyRing | None, limiter: RateLimiter) -> Any:
    """Authenticate, authorise by scope and rate-limit every request; the key found is left in
    `request[API_KEY]` (None when access is anonymous) for finer checks by the handler."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        scope = required_scope(request)
        if scope is None:
            return await handler(request)
        entry = None
        if keys is not None:
            presented = presented_key(request)
            if not presented:
                return _refuse(
                    401,
                    "an API key is required: send `Authorization: Bearer <key>`",
                    **{"WWW-Authenticate": 'Bearer realm="touchstream"'},
                )
            entry = keys.authenticate(presented)
            if entry is None:
                return _refuse(
                    401,
                    "the API key is not valid (unknown, revoked or mistyped)",
                    **{"WWW-Authenticate": 'Bearer realm="touchstream", error="invalid_token"'},
                )
            if scope not in entry.scopes:
                return _refuse(
                    403,
                    f"key {entry.name!r} ({entry.id}) lacks the {scope!r} scope needed for "
                    f"{request.method} {request.path}; it has: {', '.join(sorted(entry.scopes))}",
                )
        caller = f"key:{entry.id}" if entry else f"addr:{request.remote}"
        wait = limiter.wait(caller, entry.rate if entry else None, entry.burst if entry else None)
        if wait:
            retry = max(1, math.ceil(wait))
            return _refuse(
                429,
                f"rate limit of {entry.rate if entry and entry.rate else limiter.rate:g} "
                f"requests/s exceeded; retry after {retry} s",
                **{"Retry-After": str(retry)},
            )
        request[API_KEY] = entry
        return await handler(request)

    return middleware


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_ring(keys_file: Path | None, host: str, allow_anonymous: bool) -> KeyRing | None:
    """The keys to enforce, or None for anonymous access where that is safe (or allowed)."""
    if keys_file is not None:
        return KeyRing(keys_file)
    if is_loopback(host) or allow_anonymous:
        return None
    raise AccessConfigError(
        f"the HTTP server would listen on {host} without API keys: set TOUCHSTREAM_API_KEYS_FILE "
        "(create keys with `touchstream keys add NAME`), bind 127.0.0.1, or set "
        "TOUCHSTREAM_ALLOW_ANONYMOUS=true behind a gateway that authenticates"
    )
