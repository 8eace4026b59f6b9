"""Peak memory of ingesting one big file: Vigie against the plain LlamaIndex pipeline.

Both run as subprocesses on the same file, one after the other, in the same
run; each process tree's memory is sampled every 0.3 s as PSS (proportional
set size: pages shared between processes are split between them, so the sum
over a tree does not count them twice). Vigie's tree is its main process and
its parsing workers; the baseline is one process (`SimpleDirectoryReader` +
`SentenceSplitter` + the same embedder + the same store, as in
`bench/ingest.py`).

Vigie is meant to hold a batch's pages, not a file's: a 619-page file is read
a few pages at a time. The figure to watch is Vigie's peak next to the
baseline's, which loads every page of the file before splitting it.

    .venv/bin/python bench/memory.py                       # the 619-page book
    .venv/bin/python bench/memory.py --file some.pdf --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.signin import signed_in  # noqa: E402

DEFAULT_FILE = REPO.parent / "shared" / "corpus" / "documents" / "edge-cases" / "unst_DA-619p.pdf"

BASELINE = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from vigie.offline import apply_offline_environment
apply_offline_environment()
from llama_index.core import SimpleDirectoryReader
from llama_index.core.node_parser import SentenceSplitter
from retrieval.embedder import Embedder
from retrieval.qdrant_edge import QdrantEdgeStore
from vigie.config import Settings
from vigie.contracts import Chunk, Level
settings = Settings(home=Path({home!r}), models_dir=Path({models!r}))
embedder = Embedder.from_settings(settings)
store = QdrantEdgeStore.open(settings.store_path)
store.ensure_collection(embedder.dimension)
documents = SimpleDirectoryReader(input_files=[{file!r}]).load_data()
nodes = SentenceSplitter().get_nodes_from_documents(documents)
for start in range(0, len(nodes), 128):
    part = nodes[start : start + 128]
    chunks = [
        Chunk("baseline", start + i, n.get_content(), "f.pdf", {file!r}, "baseline", 1,
              "NarrativeText", "en", Level.NON_PROTEGE)
        for i, n in enumerate(part)
    ]
    store.upsert(chunks, embedder.embed_passages([c.text for c in chunks]))
store.close()
print(len(documents), "pages", len(nodes), "chunks")
"""


def tree_pss(root: psutil.Process) -> tuple[int, int, int]:
    """(sum of PSS over the tree, main process PSS, largest child PSS), in bytes."""
    total = main = largest = 0
    for index, process in enumerate([root, *root.children(recursive=True)]):
        try:
            pss = process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += pss
        if index == 0:
            main = pss
        else:
            largest = max(largest, pss)
    return total, main, largest


def sample(command: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    root = psutil.Process(process.pid)
    peak = {"tree": 0, "main": 0, "worker": 0}
    while process.poll() is None:
        try:
            total, main, worker = tree_pss(root)
        except psutil.NoSuchProcess:
            break
        peak = {
            "tree": max(peak["tree"], total),
            "main": max(peak["main"], main),
            "worker": max(peak["worker"], worker),
        }
        time.sleep(0.3)
    output = process.communicate()[0]
    if process.returncode != 0:
        raise SystemExit(f"command failed ({process.returncode}): {' '.join(command)}")
    mib = {key: round(value / 1024 / 1024) for key, value in peak.items()}
    return {**mib, "seconds": round(time.monotonic() - started, 1), "output": output[-300:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    models = os.environ.get("VIGIE_MODELS_DIR", str(REPO / ".vigie" / "models"))
    with tempfile.TemporaryDirectory(prefix="vigie-bench-memory-") as tmp:
        env = dict(
            os.environ,
            VIGIE_HOME=f"{tmp}/vigie",
            VIGIE_MODELS_DIR=models,
            VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ",
        )
        vigie_cmd = [sys.executable, "-m", "ui.cli", "ingest", str(args.file), "--json"]
        Path(env["VIGIE_HOME"]).mkdir()
        vigie = sample([*vigie_cmd, "--workers", str(args.workers)], signed_in(env))
        code = BASELINE.format(
            repo=str(REPO), home=f"{tmp}/base", models=models, file=str(args.file)
        )
        baseline = sample([sys.executable, "-c", code], env)
    result = {
        "file": str(args.file),
        "vigie_mib": {k: vigie[k] for k in ("tree", "main", "worker", "seconds")},
        "llama_index_mib": {k: baseline[k] for k in ("tree", "seconds")},
        "ratio_tree_vigie_over_llama_index": round(vigie["tree"] / baseline["tree"], 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"file: {args.file.name}")
    print(
        f"Vigie        peak PSS {vigie['tree']} MiB (main {vigie['main']} MiB, "
        f"largest worker {vigie['worker']} MiB, {args.workers} workers) in {vigie['seconds']} s"
    )
    print(f"LlamaIndex   peak PSS {baseline['tree']} MiB in {baseline['seconds']} s")
    print(f"ratio Vigie / LlamaIndex peak memory: {result['ratio_tree_vigie_over_llama_index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
