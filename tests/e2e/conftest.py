"""One real embedded runtime (`touchstream up`: Tansu + chDB + processors + HTTP) per session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from touchstream.services.client import TouchstreamClient


@dataclass
class Runtime:
    client: TouchstreamClient
    env: dict[str, str]
    data_dir: Path
    bootstrap: str
    process: subprocess.Popen[bytes]

    def cli(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run the `touchstream` CLI against this runtime."""
        return subprocess.run(
            [sys.executable, "-m", "touchstream.services.cli", *args],
            env=self.env,
            input=input,
            capture_output=True,
            timeout=120,
        )


def runtime_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHSTREAM_")}
    env.update(
        TOUCHSTREAM_DATA_DIR=str(data_dir),
        TOUCHSTREAM_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        TOUCHSTREAM_HTTP_PORT=str(free_port()),
        TOUCHSTREAM_BATCH_MAX_WAIT_S="0.05",
    )
    return env


def failed_up(env: dict[str, str]) -> str:
    """Run `touchstream up` expecting it to fail at once; return its error message."""
    result = subprocess.run(
        [sys.executable, "-m", "touchstream.services.cli", "up"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    return result.stderr.decode().strip()


def spawn_up(env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    """Start `touchstream up` without waiting for it; its output goes to `test-up.log`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "test-up.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "touchstream.services.cli", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def start_runtime(env: dict[str, str], data_dir: Path, timeout: float = 90) -> Runtime:
    return wait_ready(spawn_up(env, data_dir), env, data_dir, timeout)


def wait_ready(
    process: subprocess.Popen[bytes], env: dict[str, str], data_dir: Path, timeout: float = 90
) -> Runtime:
    """The runtime of a spawned `up` once its processors own their partitions."""
    client = TouchstreamClient(f"http://127.0.0.1:{env['TOUCHSTREAM_HTTP_PORT']}")
    deadline = time.monotonic() + timeout
    while not client.ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = (data_dir / "test-up.log").read_text(errors="replace")
            raise RuntimeError(f"touchstream up did not become ready:\n{output[-3000:]}")
        time.sleep(0.2)
    return Runtime(client, env, data_dir, env["TOUCHSTREAM_KAFKA_BOOTSTRAP"], process)


def stop_runtime(runtime: Runtime) -> int:
    runtime.process.send_signal(signal.SIGINT)
    try:
        return runtime.process.wait(30)
    except subprocess.TimeoutExpired:
        runtime.process.kill()
        return runtime.process.wait()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    data_dir = tmp_path_factory.mktemp("touchstream")
    rt = start_runtime(runtime_env(data_dir), data_dir)
    yield rt
    stop_runtime(rt)


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


def metric_sum(rt: Runtime, name: str, **labels: str) -> float:
    """The sum of a metric's samples on the runtime's /metrics whose labels match `labels`."""
    return sum(
        value
        for sample_labels, value in rt.client.metric_samples(name)
        if all(sample_labels.get(k) == v for k, v in labels.items())
    )
