"""A source as the reader checks it: document, page, level, the quoted passage, and the
page itself with the passage highlighted (rendered from the file on the server); for a
recording, a player at the cited second beside its time-coded transcript, the cited
segments highlighted, each segment a button that seeks the player."""

from __future__ import annotations

import html
import logging

import streamlit as st

from app.results import Recording, markdown_table, shown_as_text, table_grid
from app.session import Session
from ui.i18n import Texts
from ui.workspace.screen import Screen
from vigie.contracts import Chunk, clock, marking
from vigie.errors import VigieError
from vigie.users import UserError

log = logging.getLogger(__name__)


def anchor(turn: int, number: int) -> str:
    return f"source-{turn}-{number}"


def page_png(session: Session, chunk: Chunk, highlight: bool = True) -> bytes | str:
    """The page of `chunk` as PNG (highlighted), kept for the browser session; or, when
    it cannot be shown, the one-line reason (logged too)."""
    key = (chunk.document_id, chunk.page, chunk.chunk_id if highlight else "")
    cache = st.session_state.setdefault("vigie_pages", {})
    if key not in cache:
        from app.page_image import PageUnavailable

        try:
            ids = [chunk.chunk_id] if highlight else []
            cache[key] = session.page_image(chunk.document_id, chunk.page, ids)
        except (PageUnavailable, UserError, ValueError) as exc:
            log.info("page %s of %s not shown: %s", chunk.page, chunk.file_name, exc)
            cache[key] = str(exc)
        if len(cache) > 48:  # keep the session's memory bounded
            cache.pop(next(iter(cache)))
    return cache[key]


# Recordings kept for the browser session (a segment's click reruns the page; the file is
# read, hashed and the listening audited once, not at each rerun). Few: they can be large.
RECORDINGS_KEPT = 2


def played_recording(session: Session, document_id: str) -> Recording | str:
    """The recording to play, kept for the browser session; or, when it cannot be
    played, the one-line reason."""
    cache = st.session_state.setdefault("vigie_recordings", {})
    if document_id not in cache:
        try:
            cache[document_id] = session.recording(document_id)
        except VigieError as exc:
            cache[document_id] = str(exc)
        while len(cache) > RECORDINGS_KEPT:
            cache.pop(next(iter(cache)))
    return cache[document_id]


def show_recording(session: Session, t: Texts, chunk: Chunk, highlight: bool = True) -> None:
    """The recording from the cited second, and its time-coded transcript: with
    `highlight`, the segments of the cited passage stand out. Each segment is a button
    that plays the recording from its start."""
    seek_key = f"vigie_seek_{chunk.chunk_id}"
    start = float(st.session_state.get(seek_key, chunk.start or 0.0))
    recording = played_recording(session, chunk.document_id)
    if isinstance(recording, str):
        st.caption(f"{t('source.not_played')} : {recording}")
    else:
        player = st.video if recording.is_video else st.audio
        player(recording.data, format=recording.mime, start_time=int(start))
    segments = st.session_state.setdefault("vigie_transcripts", {})
    if chunk.document_id not in segments:
        try:
            segments[chunk.document_id] = session.transcript(chunk.document_id)[2]
        except VigieError as exc:
            st.caption(str(exc))
            return
    cited = {(s.start, s.end) for s in chunk.segments} if highlight else set()
    with st.container(height=320):
        for index, segment in enumerate(segments[chunk.document_id]):
            marked = (segment.start, segment.end) in cited
            if st.button(
                f"{clock(segment.start)}  {segment.text}",
                key=f"seek-{chunk.chunk_id}-{index}",
                type="primary" if marked else "tertiary",
                help=t("source.play_from", time=clock(segment.start)),
            ):
                st.session_state[seek_key] = segment.start
                st.rerun()


def show_passage(chunk: Chunk, limit: int | None = None) -> None:
    """A passage's text; a table's rows drawn as a table (its columns named when the
    table has a header row, else as two columns of keys and values)."""
    grid = table_grid(chunk)
    if grid is None:
        text = chunk.text if limit is None or len(chunk.text) <= limit else chunk.text[:limit] + "…"
        st.text(text)
        return
    st.markdown(markdown_table(*grid, escape=html.escape))


def show_text_page(session: Session, t: Texts, chunk: Chunk, highlight: bool = True) -> None:
    """A page of a text document as its passages, the cited one highlighted."""
    try:
        passages = session.page_passages(chunk.document_id, chunk.page)
    except VigieError as exc:
        st.caption(f"{t('source.unavailable')} : {exc}")
        return
    st.caption(t("source.text_page", page=chunk.page, document=chunk.file_name))
    for passage in passages:
        text = html.escape(passage.text).replace("\n", "<br>")
        if highlight and passage.chunk_id == chunk.chunk_id:
            text = f"<mark>{text}</mark>"
        st.markdown(f"<div class='vigie-text-page'>{text}</div>", unsafe_allow_html=True)


def show_page(session: Session, t: Texts, chunk: Chunk, highlight: bool = True) -> None:
    if chunk.start is not None:
        show_recording(session, t, chunk)
        return
    if shown_as_text(chunk):
        show_text_page(session, t, chunk, highlight)
        return
    png = page_png(session, chunk, highlight)
    if isinstance(png, str):
        st.caption(f"{t('source.unavailable')} : {png}")
        return
    st.image(png, caption=t("source.image", page=chunk.page, document=chunk.file_name))


def source_panel(
    session: Session,
    t: Texts,
    screen: Screen,
    turn: int,
    number: int,
    chunk: Chunk,
    quote: str,
    score: float,
) -> None:
    """One numbered source: an anchor the answer's [n] links to, then an expander."""
    screen.show(chunk.level, chunk.caveats)
    st.markdown(f"<div id='{anchor(turn, number)}'></div>", unsafe_allow_html=True)
    label = marking(chunk.level, chunk.caveats)
    spot = t.place(chunk.page, chunk.start, chunk.end, chunk.file_name)
    title = f"[{number}] {chunk.file_name} — {spot} — {label}"
    with st.expander(title):
        text_column, page_column = st.columns([2, 3])
        with text_column:
            if quote:
                st.markdown(f"**{t('source.quote')}**")
                st.markdown(
                    f"<blockquote class='vigie-quote'>{html.escape(quote)}</blockquote>",
                    unsafe_allow_html=True,
                )
            st.markdown(f"**{t('source.passage')}**")
            show_passage(chunk)
            st.caption(f"{t('source.score')} {t.number(score, 3)}")
        with page_column:
            show_page(session, t, chunk)
