"""Vigie's Streamlit interface: sign in, ask a question, read the streamed answer and
its sources; operators see the ingestion ledger, admins the users and the audit trail.

Started by `vigie ui` (Streamlit on 127.0.0.1, usage statistics off). The
models and the store load once per server process and are shared by every
browser session. Nothing here loads a web font, a map, a CDN asset or an
external icon.
"""

from __future__ import annotations

from vigie.offline import apply_offline_environment, install_network_guard

apply_offline_environment()

import os  # noqa: E402
import time  # noqa: E402

import streamlit as st  # noqa: E402

from ui.session import Session  # noqa: E402
from vigie.audit import AuditError  # noqa: E402
from vigie.config import Settings, load_settings  # noqa: E402
from vigie.contracts import Level  # noqa: E402
from vigie.users import Action, UserError  # noqa: E402

BANNER_COLOURS = {
    Level.NON_PROTEGE: ("#2e7d32", "#ffffff"),
    Level.DIFFUSION_RESTREINTE: ("#f9a825", "#000000"),
    Level.SECRET: ("#c62828", "#ffffff"),
    Level.TRES_SECRET: ("#ef6c00", "#000000"),
}


@st.cache_resource(show_spinner=False)
def get_services():
    from ui.services import Services

    os.umask(0o077)  # what Vigie writes (store, ledger, users, audit) is its owner's only
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


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def signed_in(services) -> Session | None:
    """The browser session's Vigie session, or None (login form shown). A session unused
    for `session_idle_minutes` ends; with `trusted_user_header` set and the UI on a
    loopback address, the reverse proxy's header names the user instead of the form."""
    settings: Settings = services.settings
    now = time.monotonic()
    session: Session | None = st.session_state.get("vigie_session")
    if session is not None:
        idle = now - st.session_state.get("vigie_seen", now)
        if idle > settings.session_idle_minutes * 60:
            services.audit.record(session.user.name, "session_expired", channel=session.channel)
            del st.session_state["vigie_session"]
            st.session_state["vigie_notice"] = "Session expirée : reconnectez-vous."
            session = None
        elif services.users.get(session.user.name) != session.user:
            # Disabled, or clearance changed by an admin: sign in again to take it up.
            del st.session_state["vigie_session"]
            st.session_state["vigie_notice"] = "Votre compte a changé : reconnectez-vous."
            session = None
    if session is None and settings.trusted_user_header and settings.ui_host in LOOPBACK:
        name = st.context.headers.get(settings.trusted_user_header)
        if name:
            try:
                session = services.trusted_session(name)
            except UserError as exc:
                st.error(str(exc))
                st.stop()
            st.session_state["vigie_session"] = session
    if session is not None:
        st.session_state["vigie_seen"] = now
    return session


def login_form(services) -> None:
    st.title("Vigie")
    if notice := st.session_state.pop("vigie_notice", None):
        st.info(notice)
    with st.form("login"):
        name = st.text_input("Identifiant")
        password = st.text_input("Mot de passe", type="password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if submitted:
        try:
            st.session_state["vigie_session"] = services.login(name, password, channel="ui")
        except UserError as exc:
            st.error(str(exc))
            return
        st.session_state["vigie_seen"] = time.monotonic()
        st.rerun()


def ask_page(session: Session) -> Level:
    """Ask a question; returns the highest level shown."""
    st.caption(
        f"Questions sur les archives · habilitation : {session.user.level.label} · "
        "entièrement hors ligne"
    )
    question = st.text_input(
        "Question (français ou anglais)", key="question", placeholder="Posez votre question…"
    )
    highest = Level.NON_PROTEGE
    asked = st.button("Demander", type="primary")
    if st.session_state.pop("vigie_answering", False) and not asked:
        # The stop button below was pressed: Streamlit left the running page, which
        # closed the answer's stream and so the model's generation (AnswerStream).
        st.info("Réponse arrêtée.")
    if asked and question.strip():
        try:
            with st.spinner("Recherche dans les archives…"):
                stream = session.ask(question)
        except UserError as exc:
            st.error(str(exc))
            return highest
        st.subheader("Réponse")
        if stream.answer.sources:
            st.caption(f"Marquage : {stream.answer.sources_label}")
        st.session_state["vigie_answering"] = True
        st.button("Arrêter la réponse", key="stop_answer")
        st.write_stream(iter(stream))
        st.session_state["vigie_answering"] = False
        answer = stream.answer
        if answer.withdrawn:
            st.error("Réponse retirée : aucune de ses phrases n'est étayée par les sources.")
            st.markdown(answer.text)
        for sentence in answer.unsupported:
            st.warning(f"Non étayé par la source citée : {sentence}")
        if answer.citations:
            st.subheader(f"Sources — {answer.label}")
            highest = render_sources(answer)
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in answer.timings.items())
        st.caption(timings)
    return highest


def ingestion_page(session: Session) -> None:
    st.caption("Ingestion · état du registre")
    session.require(Action.INGEST)
    summary = {}
    ledger_path = session.services.settings.ledger_path
    if ledger_path.exists():
        from ingest.ledger import Ledger

        ledger = Ledger(ledger_path, read_only=True)
        try:
            summary = ledger.summary()
            quarantined = ledger.in_state("quarantined")
        finally:
            ledger.close()
    if not summary:
        st.info("Rien n'a encore été ingéré (`vigie ingest`).")
        return
    st.table([{"état": state, **values} for state, values in sorted(summary.items())])
    for entry in quarantined:
        st.warning(f"Quarantaine : {entry.path} — {entry.reason}")


def users_page(session: Session) -> None:
    session.require(Action.MANAGE_USERS)
    st.caption("Utilisateurs (gestion : `vigie users`)")
    st.table([u.to_dict() for u in session.services.users.list()])


def audit_page(session: Session) -> None:
    session.require(Action.READ_AUDIT)
    trail = session.services.audit
    result = trail.verify()
    if result.ok:
        st.success(f"Journal d'audit intact : {result.records} enregistrements")
    else:
        st.error(f"Journal d'audit altéré : {result.reason}")
    try:
        recent = list(trail.records())[-50:]
    except AuditError:  # a line that is not a record: the error above names it
        return
    st.table(
        [{"n°": r.seq, "heure": r.time, "qui": r.actor, "action": r.action} for r in recent[::-1]]
    )


DOCUMENT_ACTIONS = {"Résumer": None, "Traduire en anglais": "en", "Traduire en français": "fr"}


def documents_page(session: Session) -> Level:
    """Summarise or translate one document the user may read; returns the level shown."""
    from retrieval.analysis import chunks_label

    st.caption("Résumé et traduction d'un document, dans la limite de votre habilitation")
    typed = st.text_input("Document (nom de fichier, chemin ou début du SHA-256)", key="document")
    action = st.radio("Action", list(DOCUMENT_ACTIONS), key="document_action", horizontal=True)
    if not (st.button("Lancer", type="primary", key="document_go") and typed.strip()):
        return Level.NON_PROTEGE
    target = DOCUMENT_ACTIONS[action]
    try:
        if target is None:
            with st.spinner("Résumé en cours…"):
                ref, chunks, summary = session.summarize(typed)
            st.caption(f"Marquage : {chunks_label(chunks)}")
            st.subheader(ref.file_name)
            st.markdown(summary.text)
            st.caption(f"Pages citées : {', '.join(map(str, summary.pages)) or 'aucune'}")
        else:
            ref, chunks, translation = session.translate(typed, target)
            st.caption(f"Marquage : {chunks_label(chunks)}")
            st.subheader(f"{ref.file_name} ({target})")
            st.write_stream(piece for _, piece in translation)
    except ValueError as exc:  # unknown document, or one the user may not read: same words
        st.error(str(exc))
        return Level.NON_PROTEGE
    return max(chunk.level for chunk in chunks)


PAGES = {
    "Questions": (Action.ASK, ask_page),
    "Documents": (Action.ASK, documents_page),
    "Ingestion": (Action.INGEST, ingestion_page),
    "Utilisateurs": (Action.MANAGE_USERS, users_page),
    "Audit": (Action.READ_AUDIT, audit_page),
}


def main() -> None:
    st.set_page_config(page_title="Vigie", layout="wide", initial_sidebar_state="auto")
    services = get_services()
    session = signed_in(services)
    if session is None:
        login_form(services)
        return
    allowed = [name for name, (action, _) in PAGES.items() if session.user.may(action)]
    with st.sidebar:
        st.write(f"**{session.user.name}** · {session.user.role} · {session.user.level.label}")
        page = st.radio("Page", allowed, key="page")
        if st.button("Se déconnecter"):
            session.audit("logout")
            del st.session_state["vigie_session"]
            st.rerun()
    top = st.empty()
    st.title("Vigie")
    highest = Level.NON_PROTEGE
    _, render = PAGES[page]
    shown = render(session)
    if isinstance(shown, Level):
        highest = shown
    with top.container():
        banner(highest)
    banner(highest)


main()
