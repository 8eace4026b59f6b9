"""One signed-in user's access to Vigie: the only way the CLI and the UI use the archive.

A `Session` is made by `Services.login` (name and password), or by
`Services.trusted_session` (a name a reverse proxy vouches for). Every method:

1. checks the user's role for the action (`vigie.users.PERMISSIONS`);
2. reads with the user's clearance only: the store adds the level and caveat
   filter to the Qdrant query itself (`clearance_filter` in each adapter), so a
   passage above the user is never read, let alone shown, counted or logged;
3. leaves an audit record (`vigie.audit`) before its result is shown: the
   question as typed, and the document ids, pages and levels returned, by
   reference; never the passages' text.

Questions are cleaned of control characters and refused over the length limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vigie.contracts import Chunk, Clearance, Hit, Level
from vigie.language import unserved_language
from vigie.users import Action, User, UserError

if TYPE_CHECKING:
    from ingest.ledger import Ledger
    from ingest.pipeline import BatchReport
    from retrieval.analysis import DocumentRef, Summary
    from retrieval.answer import Answer, AnswerStream
    from retrieval.store import SearchFilter
    from ui.services import Services


class AccessDenied(UserError):
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


class Session:
    def __init__(self, services: Services, user: User, channel: str) -> None:
        self.services = services
        self.user = user
        self.channel = channel  # "cli", "ui" or "proxy": how the user came in

    @property
    def clearance(self) -> Clearance:
        return self.user.clearance

    def audit(self, action: str, **details: object) -> None:
        self.services.audit.record(self.user.name, action, channel=self.channel, **details)

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

    def ask(self, question: str, context: str = "") -> AnswerStream:
        """The streamed answer; the question and its sources are recorded before the
        first token, the answer's label and citations when it ends. `context`: the
        conversation's earlier question, when this one follows it up."""
        self.require(Action.ASK)
        limit = self.services.settings.max_question_chars
        question = clean_text(question, limit)
        context = clean_text(context, limit) if context.strip() else ""
        if (language := unserved_language(question)) is not None:
            raise UserError(
                f"Vigie answers questions in French or English; this one reads as {language}"
            )
        stream = self.services.answerer.ask(question, self.clearance, context=context)
        answer = stream.answer
        self.audit(
            "question",
            question=question,
            follows=context,
            sources=references(h.chunk for h in answer.sources),
            sources_label=answer.sources_label if answer.sources else "",
        )
        stream.on_done.append(self._answered)
        return stream

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
        from retrieval.analysis import load_document

        self.require(Action.ASK)
        typed = clean_text(typed, 4096, "document name")
        ref, chunks = load_document(
            typed, self.services.known_documents(), self.services.store, self.clearance
        )
        return ref, chunks

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
        (`ui.page_image`), so a file replaced at that path is never shown instead.
        """
        from retrieval.analysis import DocumentNotFound

        self.require(Action.ASK)
        chunks = [
            c
            for c in self.services.store.document_chunks(document_id, self.clearance)
            if c.page == page
        ]
        if not chunks:
            raise DocumentNotFound(f"no document or page {document_id[:12]}… p. {page} known")
        boxes = [c.bbox for c in chunks if c.chunk_id in chunk_ids and c.bbox]
        first = chunks[0]
        self.audit("view_page", read=references(chunks[:1]))
        return self.services.pages.render(
            first.source_path, first.sha256, page, boxes, text_layer=not first.ocr
        )

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

    def ingest(self, paths: Sequence[Path], **options: object) -> BatchReport:
        """Run one batch; in the UI, batches from several browsers wait for each other."""
        self.require(Action.INGEST)
        with self.services.ingest_lock:
            report = self.services.pipeline.run(list(paths), **options)  # type: ignore[arg-type]
        summary = report.to_dict()
        self.audit(
            "ingest_batch",
            paths=[str(p) for p in paths],
            totals=summary["totals"],
            stopped=report.stopped or "",
        )
        for outcome in report.outcomes:
            if outcome.state in ("quarantined", "refused"):
                self.audit(
                    "quarantine", path=str(outcome.path), state=outcome.state,
                    reason=outcome.reason,
                )  # fmt: skip
        return report

    def remove(self, key: str) -> list:
        self.require(Action.INGEST)
        removed = self.services.pipeline.remove(key)
        self.audit("remove", key=key, removed=[e.sha256 for e in removed])
        return removed

    def retry_quarantine(self, progress=None) -> BatchReport:
        """Read every quarantined file again, from where the ledger says it was."""
        self.require(Action.INGEST)
        return self.ingest([], retry_quarantined=True, progress=progress)

    def retry_file(self, sha256: str) -> BatchReport:
        """Read one quarantined file again, from where the ledger says it was."""
        self.require(Action.INGEST)
        ledger = self.ledger()
        entry = ledger.get(sha256) if ledger is not None else None
        if ledger is not None:
            ledger.close()
        if entry is None or entry.state != "quarantined":
            raise UserError("no quarantined file with that fingerprint")
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

    def ledger(self) -> Ledger | None:
        """The ledger read-only, for the operator's page (states, quarantine, pages to
        rescan, batches); None before the first batch. The caller closes it."""
        from ingest.ledger import Ledger

        self.require(Action.INGEST)
        path = self.services.settings.ledger_path
        return Ledger(path, read_only=True) if path.exists() else None

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

    def users(self) -> list[User]:
        self.require(Action.MANAGE_USERS)
        return self.services.users.list()
