"""The embedded warehouse shared with attached processor processes.

chDB is a library: one process owns a data directory. To run the processors in more than one
process on the embedded stack, `up` (the owner) serves its warehouse through a small HTTP server
of its own, the relay, and a processor process started beside it with
`TOUCHSTREAM_ROLE=processors` (an *attached* processor) reads and writes through
`RelayWarehouse`, a warehouse backend that sends each call there. The Kafka consumer group
splits the partitions between the processes as it would between replicas; only the warehouse
work of the attached processes runs in the owner.

- Security: the relay listens on 127.0.0.1 only and answers callers presenting its token, drawn
  at random on every start and written to `runtime.json` (readable by the owner's user only).
- Nothing doubled: `insert_new` (the check for stored ids and the insert) holds the warehouse's
  lock for both steps, so two processes that read the same records around a rebalance cannot
  both store them.
- Stopping: the owner counts relay calls as processing activity, so its drain on stop waits for
  the attached processes too; an attached process stops when its owner has gone (`OwnerWatch`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from hmac import compare_digest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import mode
import orjson
import urllib3

from touchstream.projections.warehouse import (
    ParamText,
    Warehouse,
    WarehouseError,
    param_text,
    parse_rows,
)
from touchstream.services import metrics
from touchstream.services.broker import die_with_parent, free_port
from touchstream.services.processor import Activity

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Touchstream-Relay-Token"
PROCESS_HEADER = "X-Touchstream-Processor"  # the attached process's pid, for the owner's view
INGEST_TABLE = "cx.ingest"  # where the processors insert the events they project
#: How long after its last call an attached process still counts as running.
ATTACHED_FOR_S = 15.0


def new_token() -> str:
    return secrets.token_urlsafe(32)


class RelayWarehouse:
    """The owner's warehouse, through its relay (kept-alive connections). Errors the owner's
    warehouse raised, and an owner that cannot be reached, raise `WarehouseError`."""

    def __init__(self, url: str, token: str, timeout_s: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._http = urllib3.PoolManager(
            maxsize=2,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=timeout_s),
            headers={
                TOKEN_HEADER: token,
                PROCESS_HEADER: str(os.getpid()),
                "Content-Type": "application/json",
            },
        )

    def _call(self, op: str, body: dict[str, Any]) -> bytes:
        payload = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        try:
            response = self._http.request("POST", f"{self.url}/{op}", body=payload)
        except urllib3.exceptions.HTTPError as exc:
            message = f"cannot reach the warehouse's owner at {self.url}: {exc}"
            raise WarehouseError(message) from None
        if response.status != 200:
            try:
                message = orjson.loads(response.data)["error"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                message = response.data[:300].decode(errors="replace")
            raise WarehouseError(f"{message} (the warehouse's owner answered {response.status})")
        return response.data

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._call("command", {"sql": sql, "params": _texts(params)})

    def query_raw(self, sql: str, fmt: str, params: Mapping[str, Any] | None = None) -> bytes:
        return self._call("query", {"sql": sql, "format": fmt, "params": _texts(params)})

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return parse_rows(self.query_raw(sql, "JSONEachRow", params))

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._call("insert", {"table": table, "rows": rows})

    def insert_new(
        self, table: str, rows: Mapping[str, Mapping[str, Any]], stored_sql: str
    ) -> list[str]:
        body = {"table": table, "rows": rows, "stored_sql": stored_sql}
        return orjson.loads(self._call("insert_new", body))

    def close(self) -> None:
        self._http.clear()


def _texts(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters in ClickHouse's text form: what the owner's chDB takes verbatim."""
    return {name: param_text(value) for name, value in (params or {}).items()}


class Relay(mode.Service):
    """The owner's side: an HTTP server of its own on 127.0.0.1, answered by threads rather than
    by the owner's event loop (which serves the gateway, and in an `up` running processors
    itself, their batches: hundreds of milliseconds at a time). `gate` takes the calls one at a
    time (they would queue on chDB's lock anyway); a rebuild holds it throughout."""

    def __init__(self, warehouse: Warehouse, activity: Activity, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse, self.activity = warehouse, activity
        self.token = new_token()
        self.gate = threading.Lock()
        self._seen: dict[int, float] = {}  # attached pid -> when it last called
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._serving: threading.Thread | None = None

    def attached(self) -> list[int]:
        """The pids of the attached processes that called in the last `ATTACHED_FOR_S`."""
        now = time.monotonic()
        return sorted(pid for pid, seen in self._seen.items() if now - seen < ATTACHED_FOR_S)

    def serve(self) -> None:
        """Start answering, on a thread of its own."""
        self._serving = threading.Thread(
            target=self._server.serve_forever, name="warehouse-relay", daemon=True
        )
        self._serving.start()

    def close(self) -> None:
        """Stop answering (idempotent)."""
        if self._serving is not None:
            self._server.shutdown()
            self._serving = None
        self._server.server_close()

    async def on_start(self) -> None:
        self.serve()

    async def on_stop(self) -> None:
        await asyncio.to_thread(self.close)

    def answer(self, op: str, token: str, pid: str, body: bytes) -> tuple[int, bytes]:
        """The status and body of one call."""
        if not compare_digest(token, self.token):
            return 403, _error("the warehouse relay answers attached processors only")
        run = _OPS.get(op)
        if run is None:
            return 404, _error(f"no relay operation {op!r}")
        if pid.isdigit():
            self._seen[int(pid)] = time.monotonic()
        metrics.RELAY_CALLS.labels(op).inc()
        try:
            call = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return 400, _error(f"malformed relay call: {exc}")
        if not isinstance(call, dict):
            return 400, _error("malformed relay call: not a JSON object")
        # the drain on stop waits for these calls too, and counts the events they project
        events = len(call.get("rows", ())) if call.get("table") == INGEST_TABLE else 0
        with self.activity.batch(events), self.gate:
            try:
                return 200, run(self.warehouse, call)
            except WarehouseError as exc:
                return 500, _error(str(exc))
            except (KeyError, TypeError, AttributeError) as exc:
                return 400, _error(f"malformed relay call: {exc!r}")


def _error(message: str) -> bytes:
    return orjson.dumps({"error": message})


def _handler(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections: one thread per attached client

        def do_POST(self) -> None:  # the name http.server dispatches POSTs to
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = relay.answer(
                self.path.removeprefix("/"),
                self.headers.get(TOKEN_HEADER, ""),
                self.headers.get(PROCESS_HEADER, ""),
                body,
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: failures come back to the caller, counts are in the metrics."""

    return Handler


def _params(body: dict[str, Any]) -> dict[str, ParamText]:
    return {name: ParamText(text) for name, text in body["params"].items()}


def _command(warehouse: Warehouse, body: dict[str, Any]) -> bytes:
    warehouse.command(body["sql"], _params(body))
    return b""


def _query(warehouse: Warehouse, body: dict[str, Any]) -> bytes:
    return warehouse.query_raw(body["sql"], body["format"], _params(body))


def _insert(warehouse: Warehouse, body: dict[str, Any]) -> bytes:
    warehouse.insert(body["table"], body["rows"])
    return b""


def _insert_new(warehouse: Warehouse, body: dict[str, Any]) -> bytes:
    return orjson.dumps(warehouse.insert_new(body["table"], body["rows"], body["stored_sql"]))


_OPS = {"command": _command, "query": _query, "insert": _insert, "insert_new": _insert_new}


def owner_alive(pid: int, runtime_file: Path) -> bool:
    """Whether the `up` with this pid still runs and still owns the data directory."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        current = orjson.loads(runtime_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return state != "Z" and current.get("pid") == pid


class OwnerWatch(mode.Service):
    """Stops an attached processor once the `up` it is attached to has gone: without it, its
    writes could only fail and be retried for ever."""

    def __init__(self, pid: int, runtime_file: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pid, self.runtime_file = pid, runtime_file
        self.gone = False

    @mode.Service.timer(1.0)
    async def _watch(self) -> None:
        if not self.gone and not owner_alive(self.pid, self.runtime_file):
            self.gone = True
            log.error(
                "the touchstream up this processor is attached to (pid %s) stopped: stopping",
                self.pid,
            )
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful stop


class AttachedProcessors(mode.Service):
    """The processor processes `up` starts when `TOUCHSTREAM_PROCESSOR_PROCESSES` > 1, each one
    attached to it (`TOUCHSTREAM_ROLE=processors`, on a port chosen here). One that exits is
    started again; on stop they get SIGTERM, a graceful stop for them. `ready` once every one
    owns partitions."""

    RESTART_AFTER_S = 5.0

    def __init__(self, count: int, host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = [f"http://{host}:{free_port(host)}" for _ in range(count)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * count
        self._spawned_at = [0.0] * count
        self.ready = False

    def _spawn(self, index: int) -> None:
        port = self.urls[index].rsplit(":", 1)[1]
        env = os.environ | {
            "TOUCHSTREAM_ROLE": "processors",
            "TOUCHSTREAM_HTTP_PORT": port,
            "TOUCHSTREAM_PROCESSOR_PROCESSES": "1",
        }
        self.processes[index] = subprocess.Popen(
            [sys.executable, "-m", "touchstream.services.cli", "up"],
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # never outlive `up`, even if it is killed
        )
        self._spawned_at[index] = time.monotonic()

    async def on_start(self) -> None:
        for index in range(len(self.processes)):
            self._spawn(index)

    @mode.Service.timer(1.0)
    async def _supervise(self) -> None:
        for index, process in enumerate(self.processes):
            if process is None or process.poll() is None or self.should_stop:
                continue
            if time.monotonic() - self._spawned_at[index] >= self.RESTART_AFTER_S:
                log.error(
                    "processor process %s (pid %s) exited with %s: starting it again",
                    index + 1,
                    process.pid,
                    process.returncode,
                )
                self._spawn(index)
        self.ready = all(await asyncio.gather(*(_assigned(url) for url in self.urls)))

    async def on_stop(self) -> None:
        running = [p for p in self.processes if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _assigned(url: str) -> bool:
    """Whether the processor process at `url` answers its health check with partitions."""
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{url}/healthz") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
