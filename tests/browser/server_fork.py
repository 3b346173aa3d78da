"""A warm parent for the browser tests' `streamlit run` servers.

Every browser test runs the app in a server of its own, against its own database. Started
cold, each server spends seconds importing Streamlit, the app's packages, pandas and plotly
before it answers its first page: about 4 of the 7 seconds to a first sign-in form, on every
test. This parent imports all of that once per test worker; each server is then a fork of it
(copy-on-write), started in a fraction of a second, as separate from the others as before: its
own process, port, environment and database.

Run as a script, it reads one request per line on stdin (JSON: port, environment, log file and
arguments) and answers with the pid of the server it forked; it exits when stdin closes.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What the app imports on its first run; importing it here is what the forks inherit.
# Not streamlit_authenticator, nor ui/ which imports it: its cookie component registers itself
# with the running server when imported, and there is no server in this parent.
WARM_MODULES = ("pandas", "plotly.graph_objects", "plotly.express", "sqlalchemy", "psycopg",
                "streamlit.web.cli", "streamlit.web.bootstrap")
WARM_PACKAGES = ("core",)


def _warm_up() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
    from tests.streamlit_speedups import keep_component_scan

    keep_component_scan()
    from streamlit.components.v2 import manifest_scanner

    manifest_scanner.scan_component_manifests()  # scanned here once, not in every server
    # Caches declared outside a running server warn that they fall back to memory; each server
    # looks its cache store up again when called, so the warning says nothing here.
    for package_name in WARM_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            importlib.import_module(module.name)


def _run_server(request: dict) -> None:
    """In the fork: become the server the request describes (never returns)."""
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.environ.clear()
        os.environ.update(request["environment"])
        os.chdir(ROOT)
        sys.argv = ["streamlit", *request["arguments"]]
        from streamlit.web import cli

        cli.main()  # runs the server until SIGTERM, then exits
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # the log is the only place left to say it
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """Warm up, then fork one server per request line until stdin closes."""
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    _warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the servers are reaped without waiting
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_server(request)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
