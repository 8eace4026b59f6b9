"""One signed-in user's access to Vigie: the only way the CLI and the UI use the archive.

A `Session` is made by `sign_in` (name and password), or by `trusted_sign_in` (a
name a reverse proxy vouches for). Every method:

1. checks the user's role for the action (`vigie.users.PERMISSIONS`);
2. reads with the user's clearance only: the store adds the level and caveat
   filter to the Qdrant query itself (`clearance_filter` in each adapter), so a
   passage above the user is never read, let alone shown, counted or logged;
3. returns only what that clearance allows, metadata included: ledger rows, counts,
   batches and document names above the user do not exist for them
   (`app.ledger_view`);
4. leaves an audit record (`vigie.audit`) before its result is shown: the
   question as typed, and the document ids, pages and levels returned, by
   reference; never the passages' text.

Questions are cleaned of control characters and refused over the length limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from app.conversations import CitedPassage, Conversation, ConversationStore, Turn
from app.ledger_view import (
    ArchiveStatus,
    FileRow,
    archive_status,
    may_decide,
    may_see,
    visible_rows,
)
from vigie.audit import AuditRecord, Verification
from vigie.contracts import (
    Chunk,
    Clearance,
    FileOutcome,
    FileState,
    Hit,
    Level,
    TranscriptSegment,
    fold_marking,
)
from vigie.errors import NotFound, PermissionDenied
from vigie.language import unserved_language
from vigie.tokens import BAD_TOKEN, TokenError, TokenInfo, TokenStore
from vigie.users import Action, AuthenticationError, User, UserError

if TYPE_CHECKING:
    from datetime import datetime
    from typing import TextIO

    from app.evaluation import EvalReport
    from app.recording import Recording
    from app.services import Services
    from ingest.ledger import LedgerEntry
    from ingest.pipeline import BatchReport
    from retrieval.analysis import DocumentRef, Summary
    from retrieval.answer import Answer, AnswerStream
    from retrieval.store import SearchFilter


class AccessDenied(UserError, PermissionDenied):
    """The user's role does not allow the action."""


def clean_text(text: str, limit: int, what: str = "question") -> str:
    """`text` with control and format characters turned to spaces and spaces collapsed;
    a clear error when nothing is left or when it is longer than `limit` characters."""
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    cleaned = " ".join(kept.split())
    if not cleaned:
        raise UserError(f"the {what} is empty")
    if len(cleaned) > limit:
        raise UserError(f"the {what} is {len(cleaned)} characters long; the limit is {limit}")
    return cleaned


def references(chunks: Iterable[Chunk]) -> list[dict]:
    """What the audit trail keeps of passages shown: where they are and their level."""
    return [
        {
            "document_id": chunk.document_id,
            "chunk_id": chunk.chunk_id,
            "page": chunk.page,
            "level": chunk.level.label,
            "caveats": list(chunk.caveats),
        }
        for chunk in chunks
    ]


def caveat_names(typed: Sequence[str] | None) -> list[str]:
    """Caveats as the markings reader writes them (case and accents as on documents)."""
    from ingest.markings import DEFAULT_CAVEATS

    known = {fold_marking(c): c for c in DEFAULT_CAVEATS}
    return [known.get(fold_marking(c), " ".join(c.upper().split())) for c in typed or []]


def sign_in(services: Services, name: str, password: str, channel: str) -> Session:
    """A session for `name` when the password is right; every try is audited."""
    name = name.strip().lower()
    try:
        user = services.users.authenticate(name, password)
    except AuthenticationError as exc:
        services.audit.record(name[:64], "login_failed", channel=channel, reason=str(exc))
        raise
    services.audit.record(user.name, "login", channel=channel)
    return Session(services, user, channel)


def trusted_sign_in(services: Services, name: str, channel: str = "proxy") -> Session:
    """A session for a name the site's reverse proxy vouches for (single sign-on): the
    account must exist here and be active; its clearance is Vigie's own."""
    user = services.users.get(name.strip().lower())
    if user is None or not user.active:
        services.audit.record(name[:64], "login_failed", channel=channel, reason="not a user")
        raise AuthenticationError(f"{name!r} is not an active Vigie user")
    services.audit.record(user.name, "login", channel=channel)
    return Session(services, user, channel)


def token_sign_in(services: Services, presented: str, channel: str = "api") -> Session:
    """A session for the owner of a live API token (`vigie tokens create`), when the
    account is still active; a failure is audited under the token's owner when the
    token names one, so that guessing at a user's tokens shows in the trail."""
    try:
        token = services.tokens.verify(presented)
    except TokenError:
        owner = token_owner(services, presented) or ""
        services.audit.record(owner, "login_failed", channel=channel, reason="bad API token")
        raise
    user = services.users.get(token.owner)
    if user is None or not user.active:
        services.audit.record(token.owner, "login_failed", channel=channel, reason="not a user")
        raise TokenError(BAD_TOKEN)
    return Session(services, user, channel)


def token_owner(services: Services, presented: str) -> str | None:
    """Whose token a presented one claims to be (right or wrong), so that failed tries at
    one user's tokens can be counted together; None when it names no token."""
    parts = TokenStore.parts(presented)
    known = services.tokens.get(parts[0]) if parts else None
    return known.owner if known else None


def has_admin(services: Services) -> bool:
    """Whether the home has an active administrator (`vigie init` ran)."""
    return services.users.count_admins() > 0


def create_first_admin(
    services: Services, name: str, level: Level, caveats: Sequence[str], password: str
) -> User | None:
    """The first administrator of a new home (`vigie init`); None when one exists."""
    if has_admin(services):
        return None
    user = services.users.add(name, "admin", level, caveats, password)
    services.audit.record("", "user_added", user=user.to_dict(), by="vigie init")
    return user


class Session:
    def __init__(self, services: Services, user: User, channel: str) -> None:
        self.services = services
        self.user = user
        self.channel = channel  # "cli", "ui" or "proxy": how the user came in
        self.conversation_id: str | None = None  # the conversation the last `ask` added to

    @property
    def clearance(self) -> Clearance:
        return self.user.clearance

    def audit(self, action: str, **details: object) -> None:
        self.services.audit.record(self.user.name, action, channel=self.channel, **details)

    def is_current(self) -> bool:
        """Whether the account is still as it was at sign-in (not disabled, same
        clearance and role): a session that is not must sign in again."""
        return self.services.users.get(self.user.name) == self.user

    def expire(self) -> None:
        """The session ended unused (the UI's idle limit)."""
        self.audit("session_expired")

    def require(self, action: Action) -> None:
        if not self.user.may(action):
            self.audit("denied", wanted=str(action))
            raise AccessDenied(
                f"{self.user.name} ({self.user.role}) may not {str(action).replace('_', ' ')}"
            )

    # -- reading: analysts (and admins), within their clearance ---------------------------

    def search(
        self,
        query: str,
        limit: int = 10,
        mode: str | None = None,
        where: SearchFilter | None = None,
    ) -> list[Hit]:
        self.require(Action.ASK)
        query = clean_text(query, self.services.settings.max_question_chars, "query")
        hits = self.services.searcher.search(query, self.clearance, limit, mode=mode, where=where)
        self.audit("search", query=query, returned=references(h.chunk for h in hits))
        return hits

    def ask(
        self,
        question: str,
        context: str = "",
        conversation: str | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> AnswerStream:
        """The streamed answer; the question and its sources are recorded before the
        first token, the answer's label and citations when it ends. `context`: the
        conversation's earlier question, when this one follows it up.

        Each question is a turn of a stored conversation (`conversation_id` says which
        once this returns): a new one, or, with `conversation` (an id of this user's,
        or "last"), a follow-up rewritten as a standalone question from the turns the
        reader may still see (`stream.answer.question` is what was asked). `history`: the
        (question, answer) turns a client keeps itself (the HTTP API's chat completions),
        used the same way when no stored conversation is named."""
        self.require(Action.ASK)
        limit = self.services.settings.max_question_chars
        question = clean_text(question, limit)
        context = clean_text(context, limit) if context.strip() else ""
        if (language := unserved_language(question)) is not None:
            raise UserError(
                f"Vigie answers questions in French or English; this one reads as {language}"
            )
        asked, earlier = question, None
        if conversation is not None:
            earlier = self.conversation(conversation, record=False)
            turns = [(t.asked, t.answer) for t in earlier.turns if not t.withdrawn]
            asked = self.services.answerer.standalone(question, turns)
        elif history:
            turns = [(clean_text(q, limit), " ".join(a.split())) for q, a in history]
            asked = self.services.answerer.standalone(question, turns)
        stream = self.services.answerer.ask(asked, self.clearance, context=context)
        answer = stream.answer
        with self._conversations() as store:
            kept = earlier or store.start(self.user.name, question)
        self.conversation_id = kept.id
        self.audit(
            "question",
            question=question,
            asked=asked,
            follows=context,
            conversation=kept.id,
            sources=references(h.chunk for h in answer.sources),
            sources_label=answer.sources_label if answer.sources else "",
        )
        stream.on_done.append(self._answered)
        stream.on_done.append(lambda done: self._keep_turn(kept, question, done))
        return stream

    @contextmanager
    def _conversations(self) -> Iterator[ConversationStore]:
        settings = self.services.settings
        store = ConversationStore(
            settings.home / "conversations.sqlite3", settings.conversation_retention_days
        )
        try:
            yield store
        finally:
            store.close()

    def _keep_turn(self, conversation: Conversation, question: str, answer: Answer) -> None:
        """The finished answer, stored as the conversation's next turn with what it cited."""
        by_number = {n: hit.chunk for n, hit in enumerate(answer.sources, start=1)}
        cited = [
            CitedPassage(chunk.document_id, chunk.chunk_id, chunk.file_name, chunk.place,
                         chunk.level, tuple(chunk.caveats))
            for c in answer.shown_citations
            if (chunk := by_number.get(c.number)) is not None
        ]  # fmt: skip
        with self._conversations() as store:
            stored = store.get(self.user.name, conversation.id)
            label = answer.label if answer.citations else ""
            turn = Turn(len(stored.turns) + 1, question, answer.question, answer.text,
                        answer.refused, label, cited)  # fmt: skip
            store.add_turn(stored, turn)

    def conversations(self) -> list[Conversation]:
        """This user's conversations, newest first (no one else's, an admin's included)."""
        self.require(Action.ASK)
        with self._conversations() as store:
            mine = store.owned(self.user.name)
        self.audit("conversations_listed", count=len(mine))
        return mine

    def conversation(self, conversation_id: str, record: bool = True) -> Conversation:
        """This user's conversation, every cited passage re-checked against their clearance
        now: a turn citing a passage they may no longer see loses its answer and that
        passage, and is marked withdrawn ("sources withdrawn since")."""
        self.require(Action.ASK)
        with self._conversations() as store:
            found = store.get(self.user.name, conversation_id)
        readable: dict[str, set[str]] = {}
        for turn in found.turns:
            for passage in turn.cited:
                if passage.document_id not in readable:
                    chunks = self.services.store.document_chunks(
                        passage.document_id, self.clearance
                    )
                    readable[passage.document_id] = {c.chunk_id for c in chunks}
            kept = [p for p in turn.cited if p.chunk_id in readable[p.document_id]]
            if len(kept) < len(turn.cited):
                turn.withdrawn, turn.answer, turn.label, turn.cited = True, "", "", kept
        if record:
            self.audit("conversation_read", conversation=found.id,
                       withdrawn=sum(t.withdrawn for t in found.turns))  # fmt: skip
        return found

    def delete_conversation(self, conversation_id: str) -> Conversation:
        """Delete one of this user's conversations for good, audited."""
        self.require(Action.ASK)
        with self._conversations() as store:
            gone = store.delete(self.user.name, conversation_id)
        self.audit("conversation_deleted", conversation=gone.id, turns=len(gone.turns))
        return gone

    def _answered(self, answer: Answer) -> None:
        cited = [c for c in answer.citations if c.cited]
        self.audit(
            "answer",
            question=answer.question,
            label=answer.label if answer.citations else "",
            refused=answer.refused,
            refusal=answer.refusal,
            stopped=answer.stopped,
            cited=[
                {
                    "document_id": answer.sources[c.number - 1].chunk.document_id,
                    "chunk_id": c.chunk_id,
                    "page": c.page,
                    "level": c.level.label,
                }
                for c in cited
            ],
        )

    def document(self, typed: str) -> tuple[DocumentRef, list[Chunk]]:
        """The document `typed` names and its chunks this user may see (translation,
        summary, "open the source page")."""
        from retrieval.analysis import DocumentRef, load_document

        self.require(Action.ASK)
        typed = clean_text(typed, 4096, "document name")
        known = [DocumentRef(r.sha256, r.file_name, r.path) for r in self.ingested_files()]
        return load_document(typed, known, self.services.store, self.clearance)

    def ingested_files(self) -> list[FileRow]:
        """The ingested files this user may see (names, paths, types, batches), for the
        search filters and to resolve a typed document name."""
        self.require(Action.ASK)
        return self._visible(FileState.INGESTED)

    def translate(self, typed: str, target: str) -> tuple[DocumentRef, list[Chunk], Iterator]:
        from retrieval.analysis import chunks_label, translate

        ref, chunks = self.document(typed)
        self.audit(
            "translate",
            document_id=ref.document_id,
            to=target,
            label=chunks_label(chunks),
            read=references(chunks),
        )
        return ref, chunks, translate(chunks, target, self.services.llm)

    def summarize(self, typed: str, progress=None) -> tuple[DocumentRef, list[Chunk], Summary]:
        from retrieval.analysis import chunks_label, summarize

        ref, chunks = self.document(typed)
        self.audit(
            "summarize", document_id=ref.document_id, label=chunks_label(chunks),
            read=references(chunks),
        )  # fmt: skip
        summary = summarize(
            chunks,
            self.services.llm,
            max_tokens=self.services.settings.max_answer_tokens,
            progress=progress,
        )
        return ref, chunks, summary

    def page_image(self, document_id: str, page: int, chunk_ids: Sequence[str] = ()) -> bytes:
        """The page as a PNG, the passages `chunk_ids` highlighted at their coordinates.

        The page is shown only if the store, read under this user's clearance, gives a
        passage of that document on that page; otherwise the same error as for a
        document never ingested. The file itself must still hash to what was ingested
        (`app.page_image`), so a file replaced at that path is never shown instead.
        """
        chunks = self._page_chunks(document_id, page)
        boxes = [c.bbox for c in chunks if c.chunk_id in chunk_ids and c.bbox]
        first = chunks[0]
        self.audit("view_page", read=references(chunks[:1]))
        return self.services.pages.render(
            first.source_path, first.sha256, page, boxes, text_layer=not first.ocr
        )

    def page_passages(self, document_id: str, page: int) -> list[Chunk]:
        """The passages of one page of a text document (text, Markdown, HTML, e-mail), in
        order: what the reader sees of it instead of an image. Those the clearance allows
        only (the store's query), audited as a page view; unknown like any other page."""
        chunks = self._page_chunks(document_id, page)
        self.audit("view_page", read=references(chunks[:1]))
        return chunks

    def _page_chunks(self, document_id: str, page: int) -> list[Chunk]:
        """The passages of a page this user may read; unknown, like a page never
        ingested, when there is none."""
        from retrieval.analysis import DocumentNotFound

        self.require(Action.ASK)
        chunks = [
            c
            for c in self.services.store.document_chunks(document_id, self.clearance)
            if c.page == page
        ]
        if not chunks:
            raise DocumentNotFound(f"no document or page {document_id[:12]}… p. {page} known")
        return chunks

    def transcript(self, typed: str) -> tuple[DocumentRef, list[Chunk], list[TranscriptSegment]]:
        """The recording `typed` names: its chunks this user may see, and its segments
        once each in time order (`vigie transcript`, the UI's time-coded transcript)."""
        from ingest.timecoded import merged_segments
        from retrieval.analysis import chunks_label

        ref, chunks = self.document(typed)
        if not any(c.start is not None for c in chunks):
            raise UserError(f"{ref.file_name} is not a recording: it has pages, not a transcript")
        self.audit(
            "transcript", document_id=ref.document_id, label=chunks_label(chunks),
            read=references(chunks),
        )  # fmt: skip
        return ref, chunks, merged_segments(chunks)

    def recording(self, document_id: str) -> Recording:
        """A recording's file, to play from a cited second: only if the store, read under
        this user's clearance, gives a passage of it, and only if the file still hashes
        to what was ingested (a file replaced at that path is never played instead)."""
        from app.recording import load_recording
        from retrieval.analysis import DocumentNotFound

        self.require(Action.ASK)
        chunks = [
            c
            for c in self.services.store.document_chunks(document_id, self.clearance)
            if c.start is not None
        ]
        if not chunks:
            raise DocumentNotFound(f"no recording {document_id[:12]}… known")
        self.audit("listen", read=references(chunks[:1]))
        first = chunks[0]
        return load_recording(first.source_path, first.sha256, first.file_name)

    def similar(self, typed: str, limit: int = 5) -> tuple[DocumentRef, list]:
        """Documents close to the one `typed` names, within this user's clearance."""
        from retrieval.similar import similar_documents

        ref, chunks = self.document(typed)
        found = similar_documents(
            chunks, self.services.embedder, self.services.store, self.clearance, limit
        )
        self.audit(
            "similar",
            document_id=ref.document_id,
            returned=[{"document_id": d.document_id, "level": d.level.label} for d in found],
        )
        return ref, found

    def exported(self, answer: Answer, file_format: str) -> None:
        """Record that an answer left the screen as a file."""
        self.audit("export", question=answer.question, label=answer.label, format=file_format)

    # -- ingestion: operators (and admins) ------------------------------------------------

    def ingest(
        self,
        paths: Sequence[Path],
        level: Level | None = None,
        caveats: Sequence[str] = (),
        retry_quarantined: bool = False,
        workers: int | None = None,
        progress: Callable[[FileOutcome], None] | None = None,
        retry_all: bool = True,
    ) -> BatchReport:
        """Run one batch (`workers`: parsing processes, else the configured number); in
        the UI, batches from several browsers wait for each other. `retry_quarantined`
        with `retry_all`: the quarantined files this user may see are read again too."""
        self.require(Action.INGEST)
        paths = list(paths)
        if retry_quarantined and retry_all:
            paths += [
                Path(r.path) for r in self._visible(FileState.QUARANTINED) if Path(r.path).is_file()
            ]
        with self.services.ingest_lock:
            pipeline = self.services.pipeline
            if workers:
                pipeline.workers = workers
            report = pipeline.run(
                paths,
                level=level,
                caveats=caveats,
                retry_quarantined=retry_quarantined,
                progress=progress,
                retry_all=False,
                fed_by=self.user.name,
            )
        summary = report.to_dict()
        self.audit(
            "ingest_batch",
            paths=[str(p) for p in paths],
            totals=summary["totals"],
            stopped=report.stopped or "",
        )
        for outcome in report.outcomes:
            if outcome.state in (FileState.QUARANTINED, FileState.REFUSED):
                self.audit(
                    "quarantine", path=str(outcome.path), state=outcome.state,
                    reason=outcome.reason,
                )  # fmt: skip
        return report

    def remove(self, key: str) -> list[LedgerEntry]:
        """Take the documents `key` names (a path, a SHA-256 prefix) out of the store,
        those this user may see; the others are not named, not even as refused."""
        self.require(Action.INGEST)
        with self.services.read_ledger() as ledger:
            found = ledger.find(key) if ledger is not None else []
        removed = [
            entry
            for match in found
            if may_see(match, self.clearance, self.user.name)
            for entry in self.services.pipeline.remove(match.sha256)
        ]
        self.audit("remove", key=key, removed=[e.sha256 for e in removed])
        return removed

    def decide_marking(self, key: str, confirm: bool) -> tuple[FileRow, Level]:
        """Confirm (raise the document to it) or dismiss the weak marking of the document
        `key` names (its path, file name or SHA-256 prefix), among those this admin is
        cleared to decide; any other is unknown, in the same words as one never ingested."""
        self.require(Action.DECIDE_MARKINGS)
        resolved = str(Path(key).expanduser().resolve())
        prefix = key.lower() if len(key) >= 8 else None

        def named(entry: LedgerEntry) -> bool:
            return (
                entry.path in (key, resolved)
                or entry.file_name == key
                or (prefix is not None and entry.sha256.startswith(prefix))
            )

        with self.services.read_ledger() as ledger:
            ingested = ledger.in_state(FileState.INGESTED) if ledger is not None else []
        mine = [e for e in ingested if named(e) and may_decide(e, self.clearance, self.user.name)]
        if len(mine) != 1:
            many = f"{len(mine)} documents with a marking to confirm match" if mine else ""
            raise NotFound(
                f"{many or 'no document with a marking to confirm matches'} {key!r}: "
                "give its path or a longer SHA-256 prefix (see `vigie status`)"
            )
        entry = mine[0]
        level = self.services.pipeline.settle_marking(entry, confirm)
        self.audit(
            "confirm_marking" if confirm else "dismiss_marking",
            document_id=entry.sha256,
            markings=[m.to_dict() for m in entry.to_confirm],
            level=level.label,
        )
        return FileRow.of(entry), level

    def retry_quarantine(self, progress=None) -> BatchReport:
        """Read every quarantined file this user may see again, from where it was."""
        return self.ingest([], retry_quarantined=True, progress=progress)

    def _visible(self, state: str) -> list[FileRow]:
        with self.services.read_ledger() as ledger:
            return visible_rows(ledger, self.clearance, self.user.name, state) if ledger else []

    def retry_file(self, sha256: str) -> BatchReport:
        """Read one quarantined file again, from where the ledger says it was."""
        self.require(Action.INGEST)
        with self.services.read_ledger() as ledger:
            entry = ledger.get(sha256) if ledger is not None else None
        if (
            entry is None
            or entry.state != FileState.QUARANTINED
            or not may_see(entry, self.clearance, self.user.name)
        ):
            raise NotFound("no quarantined file with that fingerprint")
        return self.ingest([Path(entry.path)], retry_quarantined=True, retry_all=False)

    def import_folder(self, typed: str) -> Path:
        """The server folder `typed` names, if it lies inside one of the import roots
        (`IMPORT_ROOTS`, links resolved): the UI ingests nothing else."""
        self.require(Action.INGEST)
        typed = clean_text(typed, 4096, "folder")
        roots = [root.resolve() for root in self.services.settings.resolved_import_roots]
        folder = Path(typed).expanduser().resolve()
        if not any(folder == root or folder.is_relative_to(root) for root in roots):
            allowed = ", ".join(str(root) for root in roots)
            raise UserError(f"{typed} is not inside an import folder ({allowed})")
        if not folder.is_dir():
            raise UserError(f"{typed} is not a folder")
        return folder

    def files_in(self, folder: Path) -> int:
        """How many files a batch of `folder` will read (for the UI's progress bar)."""
        from ingest.pipeline import collect_files

        self.require(Action.INGEST)
        files, _, _ = collect_files([folder], exclude=self.services.settings.home)
        return len(files)

    def status(self) -> ArchiveStatus:
        """The ledger at a glance (states, quarantine, pages to re-scan, batches) and the
        chunks in the store, all within this user's clearance. Safe while an ingestion
        runs: the embedded store is then busy and its count is None."""
        from retrieval.store import StoreError

        self.require(Action.INGEST)
        try:
            chunks: int | None = self.services.store.count(self.clearance)
        except StoreError:
            chunks = None
        home = str(self.services.settings.home)
        with self.services.read_ledger() as ledger:
            status = archive_status(ledger, self.clearance, self.user.name, home, chunks)
        self.audit("status")
        return status

    def import_roots(self) -> list[Path]:
        """The server folders the UI may ingest from."""
        self.require(Action.INGEST)
        return list(self.services.settings.resolved_import_roots)

    # -- users: admins ---------------------------------------------------------------------

    def add_user(
        self, name: str, role: str, level: Level, caveats: Sequence[str], password: str
    ) -> User:
        self.require(Action.MANAGE_USERS)
        user = self.services.users.add(name, role, level, caveats, password)
        self.audit("user_added", user=user.to_dict())
        return user

    def change_user(self, name: str, **changes: object) -> User:
        """Change role, level, caveats or active (see `UserStore.set`)."""
        self.require(Action.MANAGE_USERS)
        name = name.strip().lower()
        before = self.services.users.get(name)
        user = self.services.users.set(name, **changes)  # type: ignore[arg-type]
        self.audit(
            "user_changed", before=before.to_dict() if before else None, after=user.to_dict()
        )
        return user

    def users(self, record: bool = False) -> list[User]:
        """Every account; `record`: leave a record of the listing (`vigie users list`;
        the users page, drawn again on every click, does not)."""
        self.require(Action.MANAGE_USERS)
        users = self.services.users.list()
        if record:
            self.audit("users_listed")
        return users

    def account(self, name: str) -> User:
        """The account `name` (admins: the users page edits it)."""
        self.require(Action.MANAGE_USERS)
        user = self.services.users.get(name.strip().lower())
        if user is None:
            raise NotFound(f"no user {name!r}")
        return user

    def set_password(self, name: str, password: str) -> None:
        self.require(Action.MANAGE_USERS)
        self.services.users.set_password(name, password)
        self.audit("password_changed", user=name.strip().lower())

    # -- the audit trail: admins -----------------------------------------------------------

    # -- API tokens: each user their own; an administrator may list and revoke all ------

    def create_token(self, name: str, days: float | None = None) -> tuple[TokenInfo, str]:
        """A new API token of this user's, and the token itself (shown once)."""
        self.require(Action.ASK)
        lifetime = days if days is not None else self.services.settings.api_token_days
        info, token = self.services.tokens.create(self.user.name, name, lifetime)
        expires = info.to_dict()["expires"]
        self.audit("token_created", token=info.id, name=info.name, expires=expires)
        return info, token

    def tokens(self, everyone: bool = False) -> list[TokenInfo]:
        """This user's tokens; everyone's for an administrator who asks."""
        if everyone:
            self.require(Action.MANAGE_USERS)
        return self.services.tokens.list(None if everyone else self.user.name)

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke one of this user's tokens (an administrator: anyone's), audited."""
        owner = None if self.user.may(Action.MANAGE_USERS) else self.user.name
        revoked = self.services.tokens.revoke(token_id, owner)
        self.audit("token_revoked", token=revoked.id, owner=revoked.owner)
        return revoked

    def verify_audit(self, record: bool = True) -> Verification:
        """Check the whole hash chain; `record`: leave a record of the check (the UI's
        automatic check on opening the page does not)."""
        self.require(Action.READ_AUDIT)
        result = self.services.audit.verify()
        if record:
            self.audit("audit_verified", records=result.records, ok=result.ok)
        return result

    def recent_audit(self, count: int) -> list[AuditRecord]:
        """The last `count` records, newest last."""
        self.require(Action.READ_AUDIT)
        return list(self.services.audit.records())[-count:]

    def export_audit(self, out: TextIO, since: datetime | None) -> int:
        """Write the records from `since` as JSON Lines; how many were written."""
        self.require(Action.READ_AUDIT)
        self.audit("audit_exported", since=since.isoformat() if since else "")
        return self.services.audit.export(out, since)

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(
        self, folder: Path, queries: Path | None, modes: Sequence[str], long_documents: bool
    ) -> EvalReport:
        """Score retrieval modes on a BEIR set, in a throw-away store (`app.evaluation`):
        the archive is not read."""
        from app.evaluation import evaluate

        self.require(Action.ASK)
        self.audit("eval", folder=str(folder))
        return evaluate(self.services.settings, folder, queries, modes, long_documents)
