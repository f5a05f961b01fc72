"""The files of a running Touchstream process in its data directory.

`lock` makes sure only one process uses a data directory (chDB allows one per directory), and
`runtime.json` says where the running process listens, so that `sql`, `demo` and `alerts` go
through it. Kept free of heavy imports: every CLI command reads these.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class RuntimeBusy(RuntimeError):
    """Another process already runs on this data directory."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[IO[str]]:
    """Exclusive lock: chDB allows one process per data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = read_runtime(data_dir / "runtime.json")
        where = f" (pid {running['pid']}, {running['http_url']})" if running else ""
        raise RuntimeBusy(
            f"another touchstream process is using {data_dir}{where}; stop it or set "
            "TOUCHSTREAM_DATA_DIR to another directory"
        ) from None
    try:
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def read_runtime(path: Path) -> dict | None:
    """The running process's ports, if one is alive."""
    try:
        info = json.loads(path.read_text())
        os.kill(info["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return info
