"""One document, page by page: each page's image beside its extracted text; and the
analysis aids: summary, translation (French <-> English) and similar documents."""

from __future__ import annotations

from collections import defaultdict

import streamlit as st

from app.results import chunks_label, shown_as_text
from app.session import Session, references
from ui.i18n import Texts
from ui.workspace.screen import Screen
from ui.workspace.search import open_document
from ui.workspace.sources import show_page, show_recording
from vigie.contracts import Chunk, clock, marking
from vigie.users import UserError

PAGES_SHOWN = 5  # pages drawn at once; the reader moves through the rest


def documents_page(session: Session, t: Texts, screen: Screen) -> None:
    st.caption(t("doc.caption"))
    with st.form("document_form"):
        typed = st.text_input(t("doc.choose"), key="document")
        if st.form_submit_button(t("doc.open"), type="primary") and typed.strip():
            st.session_state["document_shown"] = typed.strip()
            st.session_state["document_from"] = 1
    shown = st.session_state.get("document_shown")
    if not shown:
        return
    try:
        ref, chunks = session.document(shown)
    except (UserError, ValueError) as exc:  # unknown, or above the reader: the same words
        st.error(str(exc))
        return
    if st.session_state.get("document_audited") != ref.document_id:
        session.audit("view_document", document_id=ref.document_id, read=references(chunks))
        st.session_state["document_audited"] = ref.document_id
    for chunk in chunks:
        screen.show(chunk.level, chunk.caveats)
    st.subheader(ref.file_name)
    pages: dict[int, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        pages[chunk.page].append(chunk)
    if chunks[0].start is not None:  # a recording: its length, not its pages
        length = t("doc.length", time=clock(max(c.end or 0.0 for c in chunks)))
    else:
        length = t("doc.pages", n=t.number(len(pages)))
    st.caption(f"{chunks_label(chunks)} · {length}")
    aids(session, t, ref.document_id)
    page_view(session, t, pages)


def aids(session: Session, t: Texts, document_id: str) -> None:
    summarize, to_en, to_fr, similar = st.columns(4)
    if summarize.button(t("doc.summarize"), key="doc_summarize"):
        with st.spinner(t("doc.summarizing")):
            _, _, summary = session.summarize(document_id)
        st.markdown(summary.text)
        cited = ", ".join(summary.cited()) or t("none")
        st.caption(f"{t('doc.cited_times' if summary.times else 'doc.cited_pages')} : {cited}")
    for column, target, key in ((to_en, "en", "doc.to_en"), (to_fr, "fr", "doc.to_fr")):
        if column.button(t(key), key=f"doc_translate_{target}"):
            _, _, translation = session.translate(document_id, target)
            st.write_stream(piece for _, piece in translation)
    if similar.button(t("doc.similar"), key="doc_similar"):
        _, found = session.similar(document_id)
        if not found:
            st.info(t("doc.similar_none"))
        for rank, other in enumerate(found, start=1):
            label = marking(other.level, other.caveats)
            left, right = st.columns([4, 1])
            left.markdown(
                f"{rank}. **{other.file_name}** — {t('source.page')} {other.page} — `{label}` "
                f"— {t('source.score')} {t.number(other.score, 3)}"
            )
            right.button(
                t("search.open"), key=f"similar_{rank}", on_click=open_document,
                args=(other.document_id,),
            )  # fmt: skip


def page_view(session: Session, t: Texts, pages: dict[int, list[Chunk]]) -> None:
    numbers = sorted(pages)
    first = 1
    if len(numbers) > PAGES_SHOWN:
        first = int(st.number_input(
            t("doc.from_page", n=len(numbers)), min_value=1, max_value=len(numbers),
            step=PAGES_SHOWN, key="document_from",
        ))  # fmt: skip
    if pages[numbers[0]][0].start is not None:  # a recording: its player and transcript
        show_recording(session, t, pages[numbers[0]][0], highlight=False)
        return
    for number in numbers[first - 1 : first - 1 + PAGES_SHOWN]:
        st.divider()
        st.markdown(f"**{t('source.page')} {number}**")
        if shown_as_text(pages[number][0]):  # a text document: its text is its page
            st.text("\n\n".join(chunk.text for chunk in pages[number]))
            continue
        image, text = st.columns([3, 2])
        with image:
            show_page(session, t, pages[number][0], highlight=False)
        with text:
            st.markdown(f"*{t('doc.text')}*")
            st.text("\n\n".join(chunk.text for chunk in pages[number]))
