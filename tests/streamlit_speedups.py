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
