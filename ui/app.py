"""Vigie's Streamlit interface: ask a question, read the streamed answer and its sources.

Started by `vigie ui` (Streamlit on 127.0.0.1, usage statistics off). The
models and the store load once per server process and are shared by every
browser session. Nothing here loads a web font, a map, a CDN asset or an
external icon.
"""

from __future__ import annotations

from vigie.offline import apply_offline_environment, install_network_guard

apply_offline_environment()

import streamlit as st  # noqa: E402

from vigie.config import Settings, load_settings  # noqa: E402
from vigie.contracts import Level  # noqa: E402

BANNER_COLOURS = {
    Level.NON_PROTEGE: ("#2e7d32", "#ffffff"),
    Level.DIFFUSION_RESTREINTE: ("#f9a825", "#000000"),
    Level.SECRET: ("#c62828", "#ffffff"),
    Level.TRES_SECRET: ("#ef6c00", "#000000"),
}


@st.cache_resource(show_spinner=False)
def get_services():
    from ui.services import Services

    settings = load_settings()
    if settings.network_guard:
        install_network_guard()
    return Services(settings)


def banner(level: Level) -> None:
    background, text = BANNER_COLOURS[level]
    st.markdown(
        f"<div style='background:{background};color:{text};text-align:center;"
        f"font-weight:bold;padding:2px;font-family:sans-serif'>{level.label}</div>",
        unsafe_allow_html=True,
    )


def render_sources(answer) -> Level:
    """List the answer's sources; return the highest level shown."""
    highest = Level.NON_PROTEGE
    by_number = {n: hit for n, hit in enumerate(answer.sources, start=1)}
    for citation in answer.citations:
        hit = by_number[citation.number]
        highest = max(highest, hit.chunk.level)
        with st.expander(f"[{citation.number}] {citation.document}, page {citation.page}"):
            st.caption(f"{hit.chunk.level.label} · score {citation.score:.3f}")
            st.text(hit.chunk.text)
    return highest


def main() -> None:
    st.set_page_config(page_title="Vigie", layout="wide", initial_sidebar_state="collapsed")
    services = get_services()
    settings: Settings = services.settings
    clearance = settings.default_clearance()

    top = st.empty()
    st.title("Vigie")
    st.caption(
        f"Questions sur les archives · habilitation : {clearance.level.label} · "
        "entièrement hors ligne"
    )
    question = st.text_input(
        "Question (français ou anglais)", key="question", placeholder="Posez votre question…"
    )
    highest = Level.NON_PROTEGE
    if st.button("Demander", type="primary") and question.strip():
        with st.spinner("Recherche dans les archives…"):
            stream = services.answerer.ask(question, clearance)
        st.subheader("Réponse")
        if stream.answer.sources:
            st.caption(f"Marquage : {stream.answer.sources_label}")
        st.write_stream(iter(stream))
        answer = stream.answer
        for sentence in answer.unsupported:
            st.warning(f"Non étayé par la source citée : {sentence}")
        if answer.citations:
            st.subheader(f"Sources — {answer.label}")
            highest = render_sources(answer)
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in answer.timings.items())
        st.caption(timings)
    with top.container():
        banner(highest)
    banner(highest)


main()
