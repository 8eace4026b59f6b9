"""Search without generation: hybrid search with filters, paged results, and a way into
each result's document.

Every filter runs inside the store query (`SearchFilter`), on top of the reader's
clearance: the level can only be lowered, the caveats only narrowed. Document type
and ingestion batch come from the ledger and reach the query as document ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import streamlit as st

from app.results import SearchFilter
from app.session import Session
from ui.i18n import Texts
from ui.workspace.screen import Screen
from ui.workspace.sources import show_passage
from vigie.contracts import Level, marking
from vigie.users import UserError

PAGE_SIZE = 10
MAX_RESULTS = 100
OLDEST = date(1800, 1, 1)
SEARCH = "vigie_search"  # the submitted query and filter, and the results page shown

IMAGES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".heic"}
OFFICE = {".doc", ".docx", ".odt", ".rtf", ".ppt", ".pptx", ".xls", ".xlsx", ".ods", ".odp"}
DOC_TYPES = ("pdf", "scanned", "image", "office", "text")


def document_type(file_name: str, ocr_pages: int) -> str:
    """The kind of document a ledger entry is, for the type filter."""
    suffix = Path(file_name).suffix.lower()
    if suffix == ".pdf":
        return "scanned" if ocr_pages else "pdf"
    if suffix in IMAGES:
        return "image"
    if suffix in OFFICE:
        return "office"
    return "text"


@dataclass(frozen=True)
class Submitted:
    query: str
    where: SearchFilter


def documents_matching(entries: list, types: list[str], batch: str) -> frozenset[str] | None:
    """Ledger entries (ingested) of these types and this batch, as document ids."""
    if not types and not batch:
        return None
    return frozenset(
        e.sha256
        for e in entries
        if (not types or document_type(e.file_name, e.ocr_pages) in types)
        and (not batch or e.batch == batch)
    )


def filters_form(session: Session, t: Texts) -> Submitted | None:
    user = session.user
    entries = session.ingested_files()
    batches = sorted({e.batch for e in entries if e.batch}, reverse=True)
    with st.form("search_form"):
        query = st.text_input(t("search.query"), key="search_query")
        with st.expander(t("search.filters"), expanded=False):
            left, middle, right = st.columns(3)
            levels = [level for level in Level if level <= user.level]
            max_level = left.selectbox(
                t("search.max_level"), levels, index=len(levels) - 1,
                format_func=lambda level: level.label, key="search_level",
            )  # fmt: skip
            caveats = left.multiselect(
                t("search.caveats"), sorted(user.caveats), key="search_caveats",
                placeholder=t("choose"),
            )  # fmt: skip
            languages = middle.multiselect(
                t("search.languages"), ["fr", "en"], format_func=lambda c: t(f"lang.{c}"),
                key="search_languages", placeholder=t("choose"),
            )  # fmt: skip
            types = middle.multiselect(
                t("search.doc_type"), list(DOC_TYPES), format_func=lambda k: t(f"type.{k}"),
                key="search_types", placeholder=t("choose"),
            )  # fmt: skip
            batch = middle.selectbox(
                t("search.batch"), ["", *batches], format_func=lambda b: b or t("any"),
                key="search_batch",
            )  # fmt: skip
            date_from = right.date_input(
                t("search.date_from"), value=None, min_value=OLDEST, key="search_from",
                format="DD/MM/YYYY" if t.language == "fr" else "YYYY-MM-DD",
            )  # fmt: skip
            date_to = right.date_input(
                t("search.date_to"), value=None, min_value=OLDEST, key="search_to",
                format="DD/MM/YYYY" if t.language == "fr" else "YYYY-MM-DD",
            )  # fmt: skip
        submitted = st.form_submit_button(t("search.go"), type="primary")
    if not submitted or not query.strip():
        return None
    ids = documents_matching(entries, types, batch)
    where = SearchFilter(
        max_level=max_level,
        caveats=tuple(caveats),
        languages=tuple(languages),
        date_from=date_from,
        date_to=date_to,
    )
    if ids is not None:
        where = where.only_documents(sorted(ids))
    return Submitted(query, where)


def open_document(document_id: str) -> None:
    """Button callback: show this document on the Documents page."""
    st.session_state["document"] = document_id
    st.session_state["document_shown"] = document_id
    st.session_state["page"] = "documents"


def search_page(session: Session, t: Texts, screen: Screen) -> None:
    st.caption(t("search.caption"))
    submitted = filters_form(session, t)
    if submitted is not None:
        st.session_state[SEARCH] = (submitted, 0)
    if SEARCH not in st.session_state:
        return
    current, page = st.session_state[SEARCH]
    if current.where.matches_nothing:
        st.info(t("search.none"))  # the type or batch filter leaves no document
        return
    try:
        hits = session.search(current.query, limit=min(MAX_RESULTS, (page + 1) * PAGE_SIZE + 1),
                              mode="hybrid", where=current.where)  # fmt: skip
    except UserError as exc:
        st.error(str(exc))
        return
    if not hits:
        st.info(t("search.none"))
        return
    more = len(hits) > (page + 1) * PAGE_SIZE
    shown = hits[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    st.caption(t("search.page_of", page=page + 1, pages=page + 1 + int(more)))
    for rank, hit in enumerate(shown, start=page * PAGE_SIZE + 1):
        chunk = hit.chunk
        screen.show(chunk.level, chunk.caveats)
        label = marking(chunk.level, chunk.caveats)
        dated = f" — {t.date(chunk.document_date)}" if chunk.document_date else ""
        with st.container(border=True):
            st.markdown(
                f"**{rank}. {chunk.file_name}** — "
                f"{t.place(chunk.page, chunk.start, chunk.end, chunk.file_name)} — "
                f"`{label}`{dated} — {t('source.score')} {t.number(hit.score, 3)}"
            )
            show_passage(chunk, limit=600)
            st.button(
                t("search.open"), key=f"open_{rank}", on_click=open_document,
                args=(chunk.document_id,),
            )  # fmt: skip
    previous, _, following = st.columns([1, 3, 1])
    if page > 0 and previous.button(t("search.previous"), key="search_previous"):
        st.session_state[SEARCH] = (current, page - 1)
        st.rerun()
    if more and following.button(t("search.next"), key="search_next"):
        st.session_state[SEARCH] = (current, page + 1)
        st.rerun()
