"""`make run` listens on this machine only unless told otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def _run_command(*overrides: str) -> str:
    """The command `make run` would start the portal with (a dry run: nothing is executed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("ADDRESS", "PORT")}
    out = subprocess.run(["make", "-n", "run", *overrides], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    [command] = [line for line in out.splitlines() if "streamlit run app.py" in line]
    return command


def test_make_run_binds_the_loopback_address_by_default():
    assert _run_command().endswith("--server.port 8501 --server.address 127.0.0.1")


def test_make_run_binds_elsewhere_only_when_told():
    assert _run_command("ADDRESS=0.0.0.0").endswith("--server.address 0.0.0.0")
