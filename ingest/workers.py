"""Parsing and OCR in worker processes, with a time limit that kills a hung parser.

A batch hands the pool small tasks: "probe this file" (its type and page
count), then "parse pages a..b of it". A big file is thus spread over every
worker, and no process ever holds all of its pages. Tesseract runs with one
thread (`OMP_THREAD_LIMIT=1`) and the pool has one process per core: pages
run in parallel across cores instead of threads fighting inside one page.

Workers are forked from a "fork server", a fresh interpreter started for the
purpose that has imported unstructured and loaded the spaCy model once
(`ingest.worker_preload`): a worker starts warm, in milliseconds. They are
never forked from the parent itself, which has torch and the embedding model
loaded: forking a process with live OpenMP threads can deadlock.

A task that runs past its time limit has its worker process killed (pebble
restarts a fresh one); a worker that crashes (a segfault in a native parser,
the kernel's OOM killer) is reported the same way. Either way the file is
quarantined with a reason and the batch goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from ingest.errors import UnreadableFile
from ingest.parse import FileProbe, Pages, parse_pages, probe_file
from vigie.config import Settings

log = logging.getLogger(__name__)

# The settings a worker process was started with (set once by `_start_worker`).
_worker_settings: Settings | None = None


def _start_worker(settings_fields: dict[str, Any], log_level: int) -> None:
    """Runs once in each new worker: offline environment, network guard, settings."""
    from vigie.offline import apply_offline_environment, install_network_guard

    global _worker_settings
    apply_offline_environment()
    settings = Settings(**settings_fields)
    if settings.network_guard:
        install_network_guard()
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    _worker_settings = settings


def _probe(path: str) -> FileProbe:
    assert _worker_settings is not None
    return probe_file(Path(path), _worker_settings)


def _parse(path: str, kind: str, first: int, last: int) -> Pages:
    assert _worker_settings is not None
    return parse_pages(Path(path), _worker_settings, kind, first, last)


class ParserPool:
    """A pool of parsing processes; submit tasks, get futures."""

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        from pebble import ProcessPool

        self.settings = settings
        self.workers = workers or settings.worker_count
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ingest.worker_preload"])
        self._pool = ProcessPool(
            max_workers=self.workers,
            initializer=_start_worker,
            initargs=(settings.model_dump(), logging.getLogger().getEffectiveLevel()),
            context=context,
        )

    def probe(self, path: Path) -> Future[FileProbe]:
        return self._pool.schedule(_probe, args=(str(path),), timeout=self.settings.file_timeout)

    def parse(
        self, path: Path, kind: str, first: int, last: int, timeout: float | None = None
    ) -> Future[Pages]:
        """`timeout`: the task's limit, `file_timeout` unless the file has its own (a
        recording's grows with its length)."""
        return self._pool.schedule(
            _parse,
            args=(str(path), kind, first, last),
            timeout=timeout or self.settings.file_timeout,
        )

    def close(self) -> None:
        """Stop every worker now (tasks still running are abandoned)."""
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def too_long(seconds: float, limit: str = "file_timeout") -> str:
    """Why a file whose parsing ran past its limit was stopped."""
    return f"parsing took more than {seconds:.0f} s ({limit}): the parser was stopped"


def task_outcome(future: Future[Any], timeout: float, limit: str = "file_timeout") -> Any:
    """The result of a finished task, or `UnreadableFile` saying in one line why not."""
    from pebble import ProcessExpired

    try:
        return future.result()
    except UnreadableFile:
        raise
    except FutureTimeout as exc:
        raise UnreadableFile(too_long(timeout, limit)) from exc
    except ProcessExpired as exc:
        raise UnreadableFile(
            f"the parser process died (exit code {exc.exitcode}): a crash in a native "
            "library, or the system ran out of memory"
        ) from exc
