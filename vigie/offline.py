"""No network at run time: the offline environment and an in-process guard.

`apply_offline_environment()` must run before any third-party import that
reads these variables (Hugging Face, unstructured, Streamlit, tiktoken), so
every entry point (the CLI, the Streamlit app, the tests) calls it first.
`install_network_guard()` makes every non-loopback connection raise, and
records the attempt, so a library that tries to phone home fails loudly
instead of hanging or silently degrading.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)

OFFLINE_ENVIRONMENT = {
    # Hugging Face / sentence-transformers: never reach the hub.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    # unstructured's usage ping and every library honouring the conventions.
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    # Streamlit usage statistics.
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "STREAMLIT_SERVER_HEADLESS": "true",
    # Tesseract: one thread per process (measured 3x faster on 2 cores).
    "OMP_THREAD_LIMIT": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def llama_index_tiktoken_cache() -> str | None:
    """The tiktoken cache bundled inside llama-index-core, found without importing it."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_static" / "tiktoken_cache"
        if candidate.is_dir():
            return str(candidate)
    return None


def apply_offline_environment() -> None:
    """Set the offline variables (overriding any value that would allow network use)."""
    os.environ.update(OFFLINE_ENVIRONMENT)
    cache = llama_index_tiktoken_cache()
    if cache:
        os.environ["TIKTOKEN_CACHE_DIR"] = cache


class NetworkBlocked(OSError):
    """Raised when code tries to reach a non-loopback address."""


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}
_guard_lock = threading.Lock()
_attempts: list[str] = []
_installed = False


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_address(address: object) -> None:
    # AF_UNIX sockets take a path (str or bytes): local by definition.
    if isinstance(address, (str, bytes)):
        return
    if isinstance(address, tuple) and address and _is_loopback(address[0]):
        return
    target = address[0] if isinstance(address, tuple) and address else address
    message = f"network access blocked by Vigie's offline guard: {target!r}"
    with _guard_lock:
        _attempts.append(str(target))
    log.error(message)
    record = os.environ.get("VIGIE_NETWORK_LOG")
    if record:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {target}\n")
    raise NetworkBlocked(message)


def install_network_guard() -> None:
    """Refuse every connection that does not stay on this machine (idempotent)."""
    global _installed
    with _guard_lock:
        if _installed:
            return
        _installed = True

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check_address(address)
        return original_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check_address(address)
        return original_connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: bytes, *args: object) -> int:
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check_address(address)
        return original_sendto(self, data, *args)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object):
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None and not _is_loopback(host):
            _check_address((host,))
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo  # type: ignore[assignment]


def blocked_attempts() -> list[str]:
    """Hosts that something in this process tried to reach (for tests and `doctor`)."""
    with _guard_lock:
        return list(_attempts)
