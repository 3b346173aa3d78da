"""Test-process shortcuts for work Streamlit repeats that gives the same answer every time.

Streamlit looks for its v2 components by reading the metadata of every installed package
(about 1,700 files here) each time an AppTest starts and each time a server starts: about a
third of the CPU of a short app test. The installed packages do not change while tests run, so
the first scan's answer is kept for the rest of the process (and the browser tests' servers,
forked from a parent that scanned once).
"""

from __future__ import annotations

import functools

from streamlit.components.v2 import manifest_scanner


def keep_component_scan() -> None:
    """Scan the installed packages for Streamlit components once per process."""
    scan = manifest_scanner.scan_component_manifests
    if not hasattr(scan, "cache_info"):  # not kept yet in this process
        manifest_scanner.scan_component_manifests = functools.cache(scan)


def keep_compiled_scripts() -> None:
    """One script cache for every AppTest run of the process, as a served app keeps one for
    its life. Each AppTest run made a new one, so compiled app.py and the page again (about
    2 ms a run), which a server does once per version of each file. For the benchmarks, which
    time page runs: they must not count what only the test harness does. Pages are not edited
    while a benchmark runs, and the cache does not look at the files again."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    if isinstance(app_test.ScriptCache, type):  # not shared yet in this process
        shared = ScriptCache()
        # The page's runner (app_test) and app.py's (local_script_runner) each made one.
        for module in (app_test, local_script_runner):
            module.ScriptCache = lambda: shared  # type: ignore[attr-defined,misc,assignment]
