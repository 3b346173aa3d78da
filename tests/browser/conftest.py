"""Real-browser fixtures: a `streamlit run` server of the app per test, Debian's Chromium."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install "
                    "chromium).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path) -> str:
    return log.read_text()[-3000:] if log.exists() else "(no log)"


def wait_healthy(url: str, process: subprocess.Popen | _ForkedServer, log: Path,
                 timeout: float = 45) -> None:
    """Wait until the portal at `url` (directly or through a proxy) answers its health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a starting server, not a timing assertion
    raise RuntimeError(f"the server did not become healthy:\n{_tail(log)}")


class _ForkedServer:
    """A server forked by the warm parent (tests/browser/server_fork.py): not our child, so
    it is watched by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        """None while the server runs (like Popen.poll)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return 1
        return None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for a stopping server, not a timing assertion
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class _WarmParent:
    """One warm parent per test process, started at the first server asked for."""

    process: subprocess.Popen | None = None

    @classmethod
    def fork(cls, request: dict) -> _ForkedServer:
        if cls.process is None or cls.process.poll() is not None:
            cls.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("server_fork.py"))],
                cwd=ROOT, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            atexit.register(cls.process.stdin.close)  # the parent exits when stdin closes
            if cls.process.stdout.readline().strip() != "ready":
                raise RuntimeError("the warm parent of the test servers did not start")
        cls.process.stdin.write(json.dumps(request) + "\n")
        cls.process.stdin.flush()
        return _ForkedServer(int(cls.process.stdout.readline()))


@contextlib.contextmanager
def serve_portal(db_url: str, log: Path) -> Iterator[str]:
    """Run the app with `streamlit run` against `db_url`; yields its base URL."""
    port = free_port()
    environment = {**os.environ, "NEARMISS_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    server = _WarmParent.fork({
        "port": port, "environment": environment, "log": str(log),
        "arguments": ["run", str(ROOT / "app.py"), "--server.headless", "true",
                      "--server.port", str(port), "--server.address", "127.0.0.1",
                      "--browser.gatherUsageStats", "false"]})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, log)
        yield url
    finally:
        server.stop()


@pytest.fixture
def portal(db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app served by `streamlit run` against the test database; yields its base URL."""
    with serve_portal(db_url, tmp_path / "streamlit.log") as url:
        yield url
