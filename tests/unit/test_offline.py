"""No network at run time: the offline environment and the in-process guard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from vigie.offline import (
    OFFLINE_ENVIRONMENT,
    NetworkBlocked,
    apply_offline_environment,
    blocked_attempts,
    install_network_guard,
    llama_index_tiktoken_cache,
)


def test_offline_environment_is_set_before_third_party_imports() -> None:
    apply_offline_environment()
    for key, value in OFFLINE_ENVIRONMENT.items():
        assert os.environ[key] == value
    cache = llama_index_tiktoken_cache()
    assert cache is not None and os.environ["TIKTOKEN_CACHE_DIR"] == cache
    assert any(os.scandir(cache)), "llama-index's bundled tiktoken cache is empty"


def test_cli_sets_offline_variables_before_importing_libraries() -> None:
    # A fresh interpreter: importing the CLI module must set them, whatever the caller had.
    code = (
        "import os; os.environ['HF_HUB_OFFLINE']='0'; import ui.cli, sys; "
        "print(os.environ['HF_HUB_OFFLINE'], 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]


def test_guard_refuses_non_loopback_and_records_the_attempt() -> None:
    install_network_guard()
    before = len(blocked_attempts())
    # The guard raises before any packet leaves: 192.0.2.1 is TEST-NET-1 (documentation only).
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(blocked_attempts()) == before + 2


def test_guard_lets_loopback_through() -> None:
    install_network_guard()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        accepted.append(conn.recv(5))
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"vigie")
    thread.join(5)
    server.close()
    assert accepted == [b"vigie"]
    assert socket.getaddrinfo("localhost", port)
