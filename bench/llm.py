"""Answer generation: Vigie's LLM path against a bare llama-cpp-python call, same run.

Part (a), Vigie against bare llama.cpp. One realistic prompt is built the way
Vigie builds it: the system message `retrieval.answer.SYSTEM_PROMPT`, then
`USER_TEMPLATE` holding 5 numbered passages fenced by `retrieval.search.hit_to_node`
and joined as llama-index's COMPACT packing joins them ("\\n\\n"), and a question.
Passages: the first 5 of the French benchmark corpus (`piaf-fr/corpus.jsonl`),
each cut to `chunk_max_chars` on a word boundary; question: `QUESTION` below
(or `--question`), one that asks for the figures of passage 1, so that the
greedy answer is long enough to measure a generation rate (the piaf queries
get answers of 3 to 60 tokens); the table shows how many tokens came out. The
bench checks its prompt builder against the prompt Vigie itself built in part
(b) for the same hits, and prints the result.

* Vigie: `LocalLLM.from_settings(settings)` (what the CLI and the UI load), then
  `stream_chat(messages, max_tokens=N, temperature=0)`.
* bare: `llama_cpp.Llama(model_path, n_ctx, n_threads, n_batch, n_gpu_layers,
  use_mmap, verbose=False)` with the values LocalLLM takes from the same
  `Settings` (threads: `llm_threads` or all cores), then
  `create_chat_completion(messages, max_tokens=N, temperature=0, stream=True)`,
  keeping the non-empty `delta.content` pieces as LocalLLM does.

Both models stay loaded. Each side runs one untimed warm-up (the same prompt,
8 tokens), then the sides alternate (bare, Vigie, bare, Vigie, ...) for
`--repeats` rounds, so load from other processes falls on both alike. Before
every run `Llama.reset()` is called on that side's Llama (LocalLLM's is
`_llama`): llama-cpp-python would otherwise reuse the KV cache of the identical
previous prompt and skip prompt evaluation, so every run evaluates the whole
prompt. Greedy decoding (temperature 0): both sides must produce the same
text, which is checked.

Timing, per run, with `time.perf_counter()`: TTFT = from the call
(`stream_chat` / `create_chat_completion`) to the first non-empty text piece;
generation tokens/s = (pieces - 1) / (time of the last piece - time of the
first piece). Tokens are counted as stream pieces: llama-cpp-python streams
one delta per sampled token (it may hold back a piece that could begin a stop
string, which moves time between pieces but not the count); the count is set
against llama.cpp's own counter (`llama_perf_context`: n_eval + 1 sampled
tokens, reset before each run) and shown. llama.cpp's own prompt-evaluation and
decode rates (t_p_eval_ms, t_eval_ms) are reported next to the wall-clock
ones. Medians over the rounds; ratios: tokens/s Vigie / bare, TTFT bare / Vigie,
so that >= 0.95 (the target) means Vigie is at most 5% slower.

Part (b), the time split of one `vigie ask`. Two born-digital French samples
(`samples/plumber_*.pdf`, `samples/alexis_*.pdf`) are ingested into a fresh
temporary VIGIE_HOME by `python -m ui.cli ingest <folder> --json`
(VIGIE_UNMARKED_LEVEL="NON PROTÉGÉ"). The parts are then built as the CLI builds
them (`app.services.Services`), the LLM being the same LocalLLM instance as in
part (a), loaded but not used yet (part (b) runs first), and `Answerer.ask(question, clearance)` is
consumed twice: a cold ask (first use of the embedder and the model in the
process, as in a `vigie ask` process once its models are loaded) and a warm one
(another question, the model's cache left as it is, as in the UI, which reuses
the system prompt's cache). Answers use Vigie's own settings
(`max_answer_tokens`, `temperature`, `top_k`, `search_mode`). Vigie's code is
not edited: its objects' methods are wrapped on the instances, from outside:

* embed query: `Embedder.embed_query` (called by the search and again by the
  sentence-focus reranker), summed;
* store search: the store's `search` (Qdrant, hybrid first stage);
* rerank: `Searcher.search` minus the two above (its passage-sentence
  embedding, `Embedder.embed_passages`, shown apart);
* other retrieval: `Answer.timings["retrieve"]` minus `Searcher.search`
  (the store count, the llama-index retriever);
* pack: from the end of retrieval to the first step into `LocalLLM.stream_chat`
  (llama-index's response synthesiser: token counting, packing, the template);
* prompt evaluation: llama.cpp's `t_p_eval_ms` (the prompt tokens it
  evaluated, `n_p_eval`); then "template + first sample": the rest of the time
  from entering `stream_chat` to the first token;
* generation: first token to last token, wall clock (llama.cpp's `t_eval_ms`
  shown); citations: last token to `Answer.timings["total"]`.

Model loading (embedder, store, LLM) is outside `Answer.timings` and shown apart.

    .venv/bin/python bench/llm.py --help
    .venv/bin/python bench/llm.py                       # 3 rounds, 128 tokens
    .venv/bin/python bench/llm.py --repeats 5 --max-tokens 64
    .venv/bin/python bench/llm.py --json > llm-bench.json

A default run takes about 4 minutes on 2 cores (ingestion included).
Progress goes to stderr; the table (or the JSON) to stdout.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.signin import signed_in  # noqa: E402
from vigie.offline import apply_offline_environment  # noqa: E402

apply_offline_environment()

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "eval" / "piaf-fr"
MODELS_DIR = REPO / ".vigie" / "models"
SAMPLES = REPO / "samples"
ASK_FILES = ("plumber_2023-06-20-PV.pdf", "alexis_2022-04-19-Rgl-1324-redevances-adopte.pdf")
ASK_QUESTIONS = (
    "Quel est le coût total estimé des travaux assumés par la ville ?",
    "Qui était la greffière adjointe lors de la séance du comité de démolition ?",
)
# Asks for figures found in passage 1, so that the greedy answer runs to --max-tokens: a
# one-line answer (the piaf queries get 3 to 60 tokens) would not measure a generation rate.
QUESTION = (
    "Que disent les extraits sur les dépenses sportives des ménages et sur les emplois "
    "du sport ? Donne les chiffres."
)
UNMARKED_LEVEL = "NON PROTÉGÉ"
PASSAGES = 5
TARGET = 0.95


def say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


# -- settings and models ---------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bench_settings(model: Path | None):
    """The user's settings (environment, vigie.toml), models from the prepared folder."""
    from vigie.config import load_settings
    from vigie.models import STANDIN_LLMS

    overrides: dict[str, Any] = {}
    if not os.environ.get("VIGIE_MODELS_DIR"):
        overrides["models_dir"] = MODELS_DIR
    settings = load_settings(**overrides)
    if model is not None:
        model = model.resolve()
        sha = settings.llm_sha256
        if model.name not in STANDIN_LLMS and sha is None:
            sha = sha256_of(model)  # the file named on the command line is trusted
        settings = settings.model_copy(update={"llm_path": model, "llm_sha256": sha})
    return settings


def bare_llama(settings) -> Any:
    """A plain `llama_cpp.Llama` with the values LocalLLM takes from the same settings."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(settings.resolved_llm_path),
        n_ctx=settings.llm_context,
        n_threads=settings.llm_threads or os.cpu_count() or 1,
        n_batch=settings.llm_batch,
        n_gpu_layers=settings.n_gpu_layers,
        use_mmap=settings.use_mmap,
        verbose=False,
    )


def perf_reset(llama: Any) -> None:
    import llama_cpp

    llama_cpp.llama_perf_context_reset(llama.ctx)


def perf_read(llama: Any) -> dict[str, float]:
    import llama_cpp

    data = llama_cpp.llama_perf_context(llama.ctx)
    return {
        "prompt_eval_ms": data.t_p_eval_ms,
        "prompt_tokens": data.n_p_eval,
        "eval_ms": data.t_eval_ms,
        "eval_tokens": data.n_eval,
    }


# -- the prompt ------------------------------------------------------------------------


def cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def vigie_messages(hits: list[Any], question: str) -> list[dict[str, str]]:
    """The chat messages Vigie's Answerer sends for these hits, whole passages fenced."""
    from retrieval.prompts import answer_messages
    from retrieval.search import hit_to_node

    passages = [
        hit_to_node(hit, n).node.get_content().strip() for n, hit in enumerate(hits, start=1)
    ]
    return answer_messages(passages, question)


def piaf_prompt(corpus: Path, max_chars: int, question: str) -> list[dict[str, str]]:
    """Vigie's prompt for the question over the corpus's first 5 passages."""
    from vigie.contracts import Chunk, Hit, Level

    with (corpus / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    hits = []
    for index, row in enumerate(rows[:PASSAGES]):
        chunk = Chunk(
            document_id=row["id"],
            chunk_index=0,
            text=cut(row["text"], max_chars),
            file_name=f"{row['title']}.pdf",
            source_path=row["id"],
            sha256=row["id"],
            page=1,
            element_type="NarrativeText",
            language="fr",
            level=Level.NON_PROTEGE,
        )
        hits.append(Hit(chunk, 1.0 - index / 10))
    return vigie_messages(hits, question)


# -- part (a): Vigie against bare llama.cpp --------------------------------------------


@dataclass
class Sample:
    side: str
    ttft_s: float
    generation_s: float
    pieces: int
    tokens_per_s: float
    llama_sampled: int  # llama.cpp: n_eval + 1
    llama_prompt_tokens: int
    llama_prompt_tokens_per_s: float
    llama_decode_tokens_per_s: float
    text: str = field(repr=False, default="")


def timed(side: str, llama: Any, start: Callable[[], Iterable[str]]) -> Sample:
    """Reset the model's cache and counters, run one streamed completion, time its pieces."""
    llama.reset()
    perf_reset(llama)
    first = last = 0.0
    pieces: list[str] = []
    started = time.perf_counter()
    for piece in start():
        now = time.perf_counter()
        if not pieces:
            first = now
        last = now
        pieces.append(piece)
    perf = perf_read(llama)
    generation = last - first
    return Sample(
        side=side,
        ttft_s=first - started,
        generation_s=generation,
        pieces=len(pieces),
        tokens_per_s=(len(pieces) - 1) / generation if generation > 0 else 0.0,
        llama_sampled=int(perf["eval_tokens"]) + 1,
        llama_prompt_tokens=int(perf["prompt_tokens"]),
        llama_prompt_tokens_per_s=perf["prompt_tokens"] / perf["prompt_eval_ms"] * 1000,
        llama_decode_tokens_per_s=perf["eval_tokens"] / perf["eval_ms"] * 1000
        if perf["eval_ms"]
        else 0.0,
        text="".join(pieces),
    )


def run_vigie(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> Sample:
    return timed(
        "Vigie",
        llm._llama,
        lambda: llm.stream_chat(messages, max_tokens=max_tokens, temperature=0.0),
    )


def run_bare(llama: Any, messages: list[dict[str, str]], max_tokens: int) -> Sample:
    def start() -> Iterator[str]:
        stream = llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
        )
        return (d for part in stream if (d := part["choices"][0]["delta"].get("content")))

    return timed("bare", llama, start)


def summarise(samples: list[Sample]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        return {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }

    return {
        "ttft_s": stats([s.ttft_s for s in samples]),
        "tokens_per_s": stats([s.tokens_per_s for s in samples]),
        "pieces": stats([s.pieces for s in samples]),
        "llama_sampled": stats([s.llama_sampled for s in samples]),
        "llama_prompt_tokens": stats([s.llama_prompt_tokens for s in samples]),
        "llama_prompt_tokens_per_s": stats([s.llama_prompt_tokens_per_s for s in samples]),
        "llama_decode_tokens_per_s": stats([s.llama_decode_tokens_per_s for s in samples]),
    }


def part_compare(vigie_llm: Any, bare: Any, messages, max_tokens: int, repeats: int) -> dict:
    say("(a) warm-up, one run per side (untimed, 8 tokens)")
    run_bare(bare, messages, 8)
    run_vigie(vigie_llm, messages, 8)
    samples: dict[str, list[Sample]] = {"bare": [], "Vigie": []}
    for round_ in range(1, repeats + 1):
        for sample in (
            run_bare(bare, messages, max_tokens),
            run_vigie(vigie_llm, messages, max_tokens),
        ):
            samples[sample.side].append(sample)
            say(
                f"    round {round_} {sample.side:5}: TTFT {sample.ttft_s:.3f} s, "
                f"{sample.pieces} pieces at {sample.tokens_per_s:.1f} tok/s"
            )
    texts = {s.text for side in samples.values() for s in side}
    summary = {side: summarise(runs) for side, runs in samples.items()}
    ttft_ratio = summary["bare"]["ttft_s"]["median"] / summary["Vigie"]["ttft_s"]["median"]
    rate_ratio = (
        summary["Vigie"]["tokens_per_s"]["median"] / summary["bare"]["tokens_per_s"]["median"]
    )
    return {
        "summary": summary,
        "ratios": {
            "ttft_bare_over_vigie": ttft_ratio,
            "tokens_per_s_vigie_over_bare": rate_ratio,
            "target": TARGET,
            "ttft_verdict": "PASS" if ttft_ratio >= TARGET else "BELOW TARGET",
            "tokens_per_s_verdict": "PASS" if rate_ratio >= TARGET else "BELOW TARGET",
        },
        "same_text_every_run": len(texts) == 1,
        "pieces_equal_llama_tokens": all(
            s.pieces in (s.llama_sampled, s.llama_sampled - 1)  # minus an EOS that has no text
            for side in samples.values()
            for s in side
        ),
        "runs": [asdict(s) for side in samples.values() for s in side],
        "answer": next(iter(texts)) if len(texts) == 1 else None,
    }


# -- part (b): the time split of one ask -----------------------------------------------


def ingest_samples(home: Path, settings) -> dict[str, Any]:
    """`python -m ui.cli ingest` of the two samples into `home`; its JSON report."""
    folder = home.parent / "samples"
    folder.mkdir()
    for name in ASK_FILES:
        shutil.copy2(SAMPLES / name, folder / name)
    env = dict(os.environ)
    env.update(
        VIGIE_HOME=str(home),
        VIGIE_MODELS_DIR=str(settings.resolved_models_dir.resolve()),
        VIGIE_UNMARKED_LEVEL=UNMARKED_LEVEL,
        NO_COLOR="1",
        TERM="dumb",
    )
    env.pop("VIGIE_CONFIG", None)
    env = signed_in(env)
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ingest", str(folder), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"vigie ingest failed ({result.returncode}): {result.stderr[-800:]}")
    return json.loads(result.stdout[result.stdout.index("{") :])


class Clock:
    """Wraps methods of an object, on the instance, to sum their wall time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, obj: Any, method: str, key: str) -> None:
        original = getattr(obj, method)

        @functools.wraps(original)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
                self.calls[key] = self.calls.get(key, 0) + 1

        setattr(obj, method, timed_call)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


class ModelProbe:
    """Wraps `LocalLLM.stream_chat` on the instance: when it is entered, the messages, the
    first and last pieces."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        original = llm.stream_chat
        self.entered = self.first = self.last = 0.0
        self.pieces = 0
        self.messages: list[dict[str, str]] = []

        def stream_chat(messages: list[dict[str, str]], *args: Any, **kwargs: Any):
            self.entered = time.perf_counter()
            self.messages = messages
            perf_reset(llm._llama)
            for piece in original(messages, *args, **kwargs):
                now = time.perf_counter()
                if not self.pieces:
                    self.first = now
                self.last = now
                self.pieces += 1
                yield piece

        llm.stream_chat = stream_chat

    def reset(self) -> None:
        self.entered = self.first = self.last = 0.0
        self.pieces = 0
        self.messages = []


def one_ask(services: Any, clock: Clock, probe: ModelProbe, question: str) -> dict[str, Any]:
    from vigie.contracts import Clearance, Level

    clock.reset()
    probe.reset()
    started = time.perf_counter()
    stream = services.answerer.ask(question, Clearance(Level.TRES_SECRET))
    answer = stream.consume()
    perf = perf_read(services.llm._llama)
    timings = answer.timings
    total = timings["total"]
    retrieve = timings["retrieve"]
    embed_query = clock.seconds.get("embed_query", 0.0)
    embed_passages = clock.seconds.get("embed_passages", 0.0)
    store_search = clock.seconds.get("store_search", 0.0)
    search = clock.seconds.get("search", 0.0)
    entered = probe.entered - started
    first = probe.first - started
    last = probe.last - started
    prompt_eval = perf["prompt_eval_ms"] / 1000
    rows = [
        ("embed query", embed_query, f"{clock.calls.get('embed_query', 0)} call(s)"),
        ("store search", store_search, "Qdrant, first stage"),
        (
            "rerank",
            search - embed_query - store_search,
            f"of which passage-sentence embedding {embed_passages:.3f} s",
        ),
        ("other retrieval", retrieve - search, "store count, llama-index retriever"),
        ("pack", entered - retrieve, "llama-index synthesiser up to the model call"),
        ("prompt evaluation", prompt_eval, f"llama.cpp, {perf['prompt_tokens']} tokens"),
        ("template + 1st sample", first - entered - prompt_eval, "rest of time to first token"),
        (
            "generation",
            last - first,
            f"{probe.pieces} pieces; llama.cpp decode {perf['eval_ms'] / 1000:.3f} s "
            f"for {perf['eval_tokens']} tokens",
        ),
        ("citations", total - last, "resolve [n] after the last token"),
    ]
    return {
        "question": question,
        "answer": answer.text,
        "citations": [f"{c.document} p.{c.page}" for c in answer.citations],
        "timings": timings,
        "first_token_s": first,
        "rows": [{"step": s, "seconds": v, "note": n} for s, v, n in rows],
        "split_sum_s": sum(v for _, v, _ in rows),
        "total_s": total,
        "llama_perf": perf,
        "messages": probe.messages,
        "sources": answer.sources,
    }


def part_ask(vigie_llm: Any, settings) -> dict[str, Any]:
    from app.services import Services

    with tempfile.TemporaryDirectory(prefix="vigie-bench-llm-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        say(f"(b) ingesting {', '.join(ASK_FILES)} into a temporary VIGIE_HOME")
        started = time.perf_counter()
        report = ingest_samples(home, settings)
        ingest_s = time.perf_counter() - started
        ask_settings = settings.model_copy(
            update={"home": home, "models_dir": settings.resolved_models_dir.resolve()}
        )
        services = Services(ask_settings)
        services.__dict__["llm"] = vigie_llm  # the cached_property's slot: one model loaded
        loads: dict[str, float] = {}
        for part in ("embedder", "store", "searcher", "answerer"):
            started = time.perf_counter()
            getattr(services, part)
            loads[part] = time.perf_counter() - started
        clock = Clock()
        clock.wrap(services.embedder, "embed_query", "embed_query")
        clock.wrap(services.embedder, "embed_passages", "embed_passages")
        clock.wrap(services.store, "search", "store_search")
        clock.wrap(services.searcher, "search", "search")
        probe = ModelProbe(vigie_llm)
        try:
            vigie_llm._llama.reset()
            say("(b) cold ask")
            cold = one_ask(services, clock, probe, ASK_QUESTIONS[0])
            say("(b) warm ask")
            warm = one_ask(services, clock, probe, ASK_QUESTIONS[1])
        finally:
            del vigie_llm.stream_chat  # back to the class's method
            services.close()
    check = vigie_messages(cold.pop("sources"), ASK_QUESTIONS[0])
    warm.pop("sources")
    return {
        "files": list(ASK_FILES),
        "ingest": report.get("totals"),
        "ingest_process_s": ingest_s,
        "load_s": loads,
        "cold": cold,
        "warm": warm,
        "bench_prompt_matches_vigie": check == cold["messages"],
    }


# -- output ----------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    setup = result["setup"]
    a = result["compare"]
    s = a["summary"]
    print(
        f"model {setup['model']} ({setup['model_mb']:.0f} MB); n_ctx {setup['n_ctx']}, "
        f"threads {setup['threads']}, batch {setup['n_batch']}, gpu layers "
        f"{setup['n_gpu_layers']}, mmap {setup['use_mmap']}; load {setup['load_avg']}"
    )
    print(
        f"(a) prompt: {setup['prompt_tokens']} tokens ({PASSAGES} piaf passages + question); "
        f"max_tokens {setup['max_tokens']}, temperature 0; {setup['repeats']} alternated "
        f"rounds, medians (min-max); cache reset before each run"
    )
    header = (
        f"{'side':6} {'TTFT s':>22} {'gen tok/s':>20} {'pieces':>6} "
        f"{'llama prompt tok/s':>18} {'llama decode tok/s':>18}"
    )
    print(header)
    print("-" * len(header))
    for side in ("bare", "Vigie"):
        m = s[side]

        def cell(key: str, fmt: str, m: dict = m) -> str:
            v = m[key]
            return f"{v['median']:{fmt}} ({v['min']:{fmt}}-{v['max']:{fmt}})"

        print(
            f"{side:6} {cell('ttft_s', '.3f'):>22} {cell('tokens_per_s', '.1f'):>20} "
            f"{s[side]['pieces']['median']:>6.0f} "
            f"{m['llama_prompt_tokens_per_s']['median']:>18.0f} "
            f"{m['llama_decode_tokens_per_s']['median']:>18.1f}"
        )
    r = a["ratios"]
    print(
        f"ratio  TTFT bare/Vigie {r['ttft_bare_over_vigie']:.3f} ({r['ttft_verdict']}), "
        f"tok/s Vigie/bare {r['tokens_per_s_vigie_over_bare']:.3f} "
        f"({r['tokens_per_s_verdict']}); target >= {TARGET}"
    )
    print(
        f"       same text every run: {a['same_text_every_run']}; stream pieces = llama.cpp "
        f"sampled tokens: {a['pieces_equal_llama_tokens']}"
    )
    b = result["ask"]
    if b is None:
        return
    loads = ", ".join(f"{k} {v:.2f} s" for k, v in b["load_s"].items())
    print(
        f"(b) vigie ask over {len(b['files'])} ingested samples "
        f"({(b['ingest'] or {}).get('chunks')} chunks); parts built: {loads}; "
        f"LLM load {setup['vigie_load_s']:.2f} s (not in the ask timings)"
    )
    header = f"{'step':22} {'cold s':>8} {'%':>5} {'warm s':>8} {'%':>5}  note (cold)"
    print(header)
    print("-" * len(header))
    cold, warm = b["cold"], b["warm"]
    for c_row, w_row in zip(cold["rows"], warm["rows"], strict=True):
        print(
            f"{c_row['step']:22} {c_row['seconds']:>8.3f} "
            f"{100 * c_row['seconds'] / cold['total_s']:>5.1f} {w_row['seconds']:>8.3f} "
            f"{100 * w_row['seconds'] / warm['total_s']:>5.1f}  {c_row['note']}"
        )
    print(
        f"{'total (Answer.timings)':22} {cold['total_s']:>8.3f} {'':>5} {warm['total_s']:>8.3f}"
        f" {'':>5}  first token at {cold['first_token_s']:.3f} s / {warm['first_token_s']:.3f} s;"
        f" warm prompt tokens evaluated {warm['llama_perf']['prompt_tokens']}"
    )
    matches = b["bench_prompt_matches_vigie"]
    print(f"bench prompt builder = Vigie's prompt for the same hits: {matches}")
    for name in ("cold", "warm"):
        text = " ".join(b[name]["answer"].split())
        print(f"{name} answer: {text[:150]}{'...' if len(text) > 150 else ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: Settings')")
    parser.add_argument("--max-tokens", type=int, default=128, help="default 128")
    parser.add_argument("--repeats", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="piaf-fr folder")
    parser.add_argument("--question", default=QUESTION, help="question of part (a)")
    parser.add_argument("--skip-ask", action="store_true", help="skip part (b)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1 or args.max_tokens < 2:
        parser.error("--repeats must be >= 1 and --max-tokens >= 2")

    from retrieval.llm import LocalLLM

    settings = bench_settings(args.model)
    path = settings.resolved_llm_path
    say(f"loading {path} (Vigie's LocalLLM)")
    started = time.perf_counter()
    vigie_llm = LocalLLM.from_settings(settings)
    vigie_load = time.perf_counter() - started
    question = " ".join(args.question.split())
    messages = piaf_prompt(args.corpus, settings.chunk_max_chars, question)

    result: dict[str, Any] = {
        "setup": {
            "model": path.name,
            "model_mb": path.stat().st_size / 2**20,
            "n_ctx": settings.llm_context,
            "threads": settings.llm_threads or os.cpu_count() or 1,
            "n_batch": settings.llm_batch,
            "n_gpu_layers": settings.n_gpu_layers,
            "use_mmap": settings.use_mmap,
            "max_tokens": args.max_tokens,
            "repeats": args.repeats,
            "question": question,
            "prompt_tokens": None,  # llama.cpp's count, after part (a)
            "vigie_load_s": vigie_load,
            "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
    }
    # Part (b) first, while Vigie's model has not run yet: its first ask is a cold one.
    result["ask"] = None if args.skip_ask else part_ask(vigie_llm, settings)
    say(f"loading {path} again (bare llama_cpp.Llama)")
    bare = bare_llama(settings)
    result["compare"] = part_compare(vigie_llm, bare, messages, args.max_tokens, args.repeats)
    summary = result["compare"]["summary"]
    result["setup"]["prompt_tokens"] = summary["bare"]["llama_prompt_tokens"]["median"]
    result["setup"]["load_avg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    print_report(result)
    setup = result["setup"]
    print(f"load average before {setup['load_avg']}, after {setup['load_avg_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
