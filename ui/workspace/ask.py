"""The analyst's chat: questions, streamed answers whose [n] link to their sources, the
sources panel, unsupported sentences marked, follow-ups, stop, and export."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import streamlit as st

from app.conversations import Turn as StoredTurn
from app.results import MARKER, Answer, AnswerStream, cited_numbers, marker_numbers
from app.session import Session
from ui.i18n import Texts
from ui.workspace.screen import Screen
from ui.workspace.sources import anchor, show_page, source_panel
from vigie.contracts import marking
from vigie.errors import VigieError
from vigie.users import UserError

CONVERSATION = "vigie_conversation"  # the turns shown
CONVERSATION_ID = "vigie_conversation_id"  # the stored conversation they belong to
REOPENED = "vigie_reopened"  # the earlier turns of a stored conversation opened again
LISTED = "vigie_conversation_list"  # the sidebar's list, read once until it changes
MAX_LISTED = 30
NOTICE = "vigie_ask_notice"  # one line to show at the top of the page once
STOP_WAIT = 300.0  # seconds to wait for a stopped answer's run to let go of the model


@dataclass
class Turn:
    question: str
    answer: Answer
    stream: AnswerStream | None = None
    exports: dict[str, bytes] = field(default_factory=dict)


def wait_for_stop(t: Texts, turn: Turn) -> None:
    """The stop button was pressed: Streamlit runs the page again at once, while the
    run that streams the answer is still inside the model. That run stops at the
    model's next word (`AnswerStream.cancel`); wait for it, to show what was said."""
    stream = turn.stream
    if stream is None or stream.finished:
        return
    stream.cancel()
    with st.spinner(t("ask.stopping")):
        deadline = time.monotonic() + STOP_WAIT
        while not stream.finished and time.monotonic() < deadline:
            time.sleep(0.2)


def conversation() -> list[Turn]:
    return st.session_state.setdefault(CONVERSATION, [])


def linked(answer: Answer, turn: int) -> str:
    """The answer as Markdown: each [n] a link to its source's anchor, each sentence no
    source supports highlighted."""
    text = answer.text
    for sentence in answer.unsupported:
        if sentence and sentence in text:
            text = text.replace(sentence, f":orange-background[{sentence}]")
    numbers = {c.number for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        group = marker_numbers(match.group(1))
        if not group or not set(group) <= numbers:
            return match.group(0)
        spaces = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return spaces + " ".join(f"[\\[{n}\\]](#{anchor(turn, n)})" for n in group)

    text = MARKER.sub(link, text)
    # Sources the checker attributed by shared words, with no [n] in the text: linked
    # after it, so that every cited source is one click away.
    written = set(cited_numbers(answer.text))
    unwritten = [c.number for c in answer.citations if c.cited and c.number not in written]
    if unwritten and not answer.refused:
        text += "\n\n" + " ".join(f"[\\[{n}\\]](#{anchor(turn, n)})" for n in unwritten)
    return text


def show_quotes(session: Session | None, t: Texts, answer: Answer) -> None:
    """The evidence, shown before the model writes: each quote with its document, page
    and level; once the answer is done (`session` given), each opens its page with the
    passage highlighted."""
    if not answer.quotes:
        return
    st.markdown(f"**{t('ask.evidence')}**", help=t("ask.evidence_help"))
    for quote in answer.quotes:
        label = marking(quote.level, quote.caveats)
        score = f"{t('source.score')} {t.number(quote.score, 2)}"
        spot = t.place(quote.page, quote.start, quote.end, quote.document)
        where = f"[{quote.number}] {quote.document} — {spot} — {label}"
        where = f"{where} · {score}"
        st.markdown(
            f"<blockquote class='vigie-quote'>{html.escape(quote.text)}</blockquote>",
            unsafe_allow_html=True,
        )
        if session is None:
            st.caption(where)
            continue
        with st.expander(f"{where} · {t('ask.see_page')}"):
            show_page(session, t, answer.sources[quote.number - 1].chunk)


def timings_line(t: Texts, answer: Answer) -> str:
    """The answer's timings in words: 'recherche 0,4 s, preuves 0,6 s, ...'."""
    return ", ".join(
        f"{t(f'timing.{key}')} {t.number(seconds, 1)} s"
        for key, seconds in answer.timings.items()
        if f"timing.{key}" in TIMING_KEYS
    )


TIMING_KEYS = {
    "timing.retrieve",
    "timing.quote",
    "timing.first_token",
    "timing.check",
    "timing.total",
}


def show_answer(session: Session, t: Texts, screen: Screen, index: int, turn: Turn) -> None:
    answer = turn.answer
    if answer.citations:
        screen.show_label(answer)
        st.caption(f"{t('ask.marking')} : {answer.label}")
    if answer.quotes:
        screen.show_sources(answer)
    show_quotes(session, t, answer)
    if answer.refusal == "unsupported" and answer.withdrawn:
        st.error(t("ask.withdrawn"))
    elif answer.refusal == "declined":
        st.caption(t("ask.declined"))
    elif answer.refused:
        st.caption(t("ask.refused"))
    if answer.quotes_only:
        st.info(t("ask.quotes_only"))
    st.markdown(linked(answer, index))
    if answer.stopped:
        st.info(t("ask.stopped"))
    for sentence in answer.unsupported:
        st.warning(f"{t('ask.unsupported')} : {sentence}")
    shown = answer.shown_citations
    if shown:
        st.markdown(f"**{t('ask.sources')} — {answer.label}**")
        for citation in shown:
            hit = answer.sources[citation.number - 1]
            source_panel(
                session, t, screen, index, citation.number, hit.chunk, citation.quote,
                citation.score,
            )  # fmt: skip
    export_buttons(session, t, index, turn)
    if answer.timings:
        st.caption(f"{t('ask.timings')} : {timings_line(t, answer)}")


def export_buttons(session: Session, t: Texts, index: int, turn: Turn) -> None:
    from ui.export import answer_markdown, answer_pdf, export_file_name

    if not turn.exports:
        now = datetime.now().astimezone()
        who = session.user.name
        turn.exports["md"] = answer_markdown(
            turn.answer, user=who, exported_at=now, language=t.language
        ).encode()
        turn.exports["pdf"] = answer_pdf(
            turn.answer, user=who, exported_at=now, language=t.language
        )
        turn.exports["md_name"] = export_file_name(turn.answer, now, "md").encode()
        turn.exports["pdf_name"] = export_file_name(turn.answer, now, "pdf").encode()
    left, right, _ = st.columns([1, 1, 3])
    for column, kind, mime, label in (
        (left, "md", "text/markdown", t("ask.export_md")),
        (right, "pdf", "application/pdf", t("ask.export_pdf")),
    ):
        column.download_button(
            label,
            data=turn.exports[kind],
            file_name=turn.exports[f"{kind}_name"].decode(),
            mime=mime,
            key=f"export_{kind}_{index}",
            on_click=session.exported,
            args=(turn.answer, kind),
        )


def conversation_list(session: Session, t: Texts) -> None:
    """The sidebar: the reader's own conversations, newest first; one opens again, its
    sources re-checked against the reader's clearance now, to be followed up in place."""
    listed = st.session_state.get(LISTED)
    if listed is None:
        listed = st.session_state[LISTED] = session.conversations()[:MAX_LISTED]
    st.markdown(f"**{t('conv.title')}**")
    if not listed:
        st.caption(t("conv.none"))
    current = st.session_state.get(CONVERSATION_ID)
    for stored in listed:
        st.button(
            stored.title[:60], key=f"conversation_{stored.id}", on_click=reopen,
            args=(session, stored.id), type="primary" if stored.id == current else "secondary",
            use_container_width=True,
        )  # fmt: skip
    if current is not None:
        st.button(t("conv.delete"), key="delete_conversation", on_click=delete, args=(session,))


def clear_conversation() -> None:
    """A new question starts a new conversation: nothing of the last one is kept shown."""
    for key in (CONVERSATION, CONVERSATION_ID, REOPENED, "vigie_pages",
                "vigie_transcripts", "vigie_recordings"):  # fmt: skip
        st.session_state.pop(key, None)


def reopen(session: Session, conversation_id: str) -> None:
    try:
        found = session.conversation(conversation_id)  # re-checked now, audited
    except VigieError as exc:
        st.session_state[LISTED] = None
        st.session_state[NOTICE] = exc.one_line()
        return
    clear_conversation()
    st.session_state[REOPENED] = found.turns
    st.session_state[CONVERSATION_ID] = found.id
    st.session_state["page"] = "ask"


def delete(session: Session) -> None:
    conversation_id = st.session_state.get(CONVERSATION_ID)
    if conversation_id is not None:
        try:
            session.delete_conversation(conversation_id)
        except VigieError as exc:
            st.session_state[NOTICE] = exc.one_line()
    clear_conversation()
    st.session_state[LISTED] = None


def show_reopened(t: Texts, turn: StoredTurn) -> None:
    """A turn of a conversation opened again, as stored: the answer's text, its marking
    and the passages it cited, or that it was withdrawn."""
    with st.chat_message("user"):
        st.markdown(turn.question)
    if turn.asked != turn.question:
        st.caption(t("ask.asked_as", question=turn.asked))
    with st.chat_message("assistant"):
        if turn.withdrawn:
            st.warning(t("conv.withdrawn"))
            return
        if turn.label:
            st.caption(f"{t('ask.marking')} : {turn.label}")
        st.markdown(turn.answer)
        for passage in turn.cited:
            st.caption(f"{passage.file_name}, {passage.place} ({passage.level.label})")


def ask_page(session: Session, t: Texts, screen: Screen) -> None:
    st.caption(t("ask.caption"))
    if notice := st.session_state.pop(NOTICE, None):
        st.info(notice)
    turns = conversation()
    if turns:
        wait_for_stop(t, turns[-1])
    reopened = st.session_state.get(REOPENED, [])
    if (turns or reopened) and st.button(t("ask.new"), key="new_question"):
        clear_conversation()
        turns, reopened = conversation(), []
    for earlier in reopened:
        show_reopened(t, earlier)
    for index, turn in enumerate(turns):
        with st.chat_message("user"):
            st.markdown(turn.question)
        if turn.answer.question != turn.question:
            st.caption(t("ask.asked_as", question=turn.answer.question))
        with st.chat_message("assistant"):
            show_answer(session, t, screen, index, turn)
    question = st.chat_input(t("ask.input"), key="question")
    if not question or not question.strip():
        return
    with st.chat_message("user"):
        st.markdown(question)
    following = st.session_state.get(CONVERSATION_ID) if turns or reopened else None
    with st.chat_message("assistant"):
        try:
            with st.spinner(t("ask.searching")):
                stream = session.ask(question, conversation=following)
        except UserError as exc:
            st.error(str(exc))
            return
        if session.conversation_id != following:
            st.session_state[LISTED] = None  # a new conversation: the list is read again
        st.session_state[CONVERSATION_ID] = session.conversation_id
        if stream.answer.question != " ".join(question.split()):
            st.caption(t("ask.asked_as", question=stream.answer.question))
        answer = stream.answer
        if answer.sources:
            screen.show_sources(answer)
            st.caption(f"{t('ask.marking')} : {answer.sources_label}")
        show_quotes(None, t, answer)  # at once: the archive's words, while the model reads
        # kept if the reader stops it; the question as typed (`answer.question`: as asked)
        turns.append(Turn(" ".join(question.split()), answer, stream))
        st.button(t("ask.stop"), key="stop_answer", on_click=stream.cancel)
        box = st.empty()
        if answer.prompt_tokens:
            passages = len(answer.prompt_sources)
            box.caption(t("ask.reading", passages=passages, tokens=answer.prompt_tokens))
        text = ""
        tokens = iter(stream)
        try:
            for piece in tokens:
                text += piece
                box.markdown(text + " ▌")
        finally:
            # Pressing stop makes Streamlit leave this run, between two tokens or before
            # the first: the model stops and the answer is recorded as cancelled.
            tokens.close()
            stream.abandon()
        box.empty()
    st.rerun()  # draw the finished turn with its links, sources and exports
