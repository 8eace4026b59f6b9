"""`vigie ui` serves Streamlit on 127.0.0.1 only, and its page names no external host."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ui_listens_on_loopback_and_loads_nothing_external(home: Path, models_dir: Path) -> None:
    port = free_port()
    env = dict(os.environ, VIGIE_HOME=str(home), VIGIE_MODELS_DIR=str(models_dir))
    server = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ui", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        health = ""
        while time.monotonic() < deadline and not health:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    health = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert health == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            page = response.read().decode()
        hosts = set(re.findall(r"(?:src|href)=[\"']?(?:https?:)?//([^/\"' >]+)", page))
        assert hosts <= {"127.0.0.1", f"127.0.0.1:{port}", "localhost"}, hosts

        # Listening on loopback only: the same port is free on every other address.
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        lines = [line for line in listening.splitlines() if f":{port} " in line + " "]
        assert lines and all("127.0.0.1:" in line for line in lines), lines
    finally:
        server.terminate()
        server.wait(timeout=30)
