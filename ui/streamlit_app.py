"""Vigie's Streamlit workspace: sign in, then the pages the user's role allows.

Started by `vigie ui` (Streamlit on 127.0.0.1, usage statistics off). The models and
the store load once per server process and are shared by every browser session.
Nothing here loads a web font, a map, a CDN asset or an external icon; the browser
tests (tests/browser/test_browser.py) fail on any request to another host than 127.0.0.1.

Each page lives in `ui/workspace/` and gets the `Session` (the only door to the
archive: role, clearance, audit), the `Texts` of the chosen language and the
`Screen`, which keeps the classification banners at the top and the bottom of the
page at the highest level shown.
"""

from __future__ import annotations

from vigie.offline import apply_offline_environment, install_network_guard

apply_offline_environment()

import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import streamlit as st  # noqa: E402

from app.session import Session, sign_in, trusted_sign_in  # noqa: E402
from ui.i18n import LANGUAGES, Texts  # noqa: E402
from ui.workspace.admin import audit_page, users_page  # noqa: E402
from ui.workspace.ask import ask_page, conversation_list  # noqa: E402
from ui.workspace.documents import documents_page  # noqa: E402
from ui.workspace.ingestion import ingestion_page  # noqa: E402
from ui.workspace.screen import Screen  # noqa: E402
from ui.workspace.search import search_page  # noqa: E402
from vigie.config import Settings, load_settings  # noqa: E402
from vigie.contracts import marking  # noqa: E402
from vigie.errors import VigieError  # noqa: E402
from vigie.users import Action, UserError  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# page key -> (the action it needs, the function that draws it)
PAGES = {
    "ask": (Action.ASK, ask_page),
    "search": (Action.ASK, search_page),
    "documents": (Action.ASK, documents_page),
    "ingestion": (Action.INGEST, ingestion_page),
    "users": (Action.MANAGE_USERS, users_page),
    "audit": (Action.READ_AUDIT, audit_page),
}


@st.cache_resource(show_spinner=False)
def get_services():
    from app.services import Services

    os.umask(0o077)  # what Vigie writes (store, ledger, users, audit) is its owner's only
    settings = load_settings()
    if settings.network_guard:
        install_network_guard()
    services = Services(settings)
    # The model loads when the UI starts, not on the first question.
    threading.Thread(target=services.warm_up, name="vigie-warm-up", daemon=True).start()
    return services


def texts() -> Texts:
    return Texts(st.session_state.get("lang", "fr"))


def language_switch(where) -> None:
    where.radio(
        "Langue · Language", list(LANGUAGES), format_func=LANGUAGES.get, key="lang",
        horizontal=True,
    )  # fmt: skip


def signed_in(services, t: Texts) -> Session | None:
    """The browser session's Vigie session, or None (login form shown). A session unused
    for `session_idle_minutes` ends; with `trusted_user_header` set and the UI on a
    loopback address, the reverse proxy's header names the user instead of the form."""
    settings: Settings = services.settings
    now = time.monotonic()
    session: Session | None = st.session_state.get("vigie_session")
    if session is not None:
        idle = now - st.session_state.get("vigie_seen", now)
        if idle > settings.session_idle_minutes * 60:
            session.expire()
            sign_out()
            st.session_state["vigie_notice"] = t("login.expired")
            session = None
        elif not session.is_current():
            # Disabled, or clearance changed by an admin: sign in again to take it up.
            sign_out()
            st.session_state["vigie_notice"] = t("login.changed")
            session = None
    if session is None and settings.trusted_user_header and settings.ui_host in LOOPBACK:
        name = st.context.headers.get(settings.trusted_user_header)
        if name:
            try:
                session = trusted_sign_in(services, name)
            except UserError as exc:
                st.error(str(exc))
                st.stop()
            st.session_state["vigie_session"] = session
    if session is not None:
        st.session_state["vigie_seen"] = now
    return session


def sign_out() -> None:
    """Forget everything this browser session was shown or typed, language aside."""
    for key in list(st.session_state):
        if key != "lang":
            del st.session_state[key]


def login_form(services, t: Texts) -> None:
    language_switch(st)
    st.title(t("title"))
    if notice := st.session_state.pop("vigie_notice", None):
        st.info(notice)
    with st.form("login"):
        name = st.text_input(t("login.name"), key="login_name")
        password = st.text_input(t("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        try:
            session = sign_in(services, name, password, channel="ui")
        except UserError as exc:
            st.error(str(exc))
            return
        st.session_state["vigie_session"] = session
        st.session_state["vigie_seen"] = time.monotonic()
        st.rerun()


def header(session: Session, t: Texts) -> None:
    user = session.user
    clearance = marking(user.level, user.caveats)
    left, right = st.columns([3, 2])
    left.markdown(f"### {t('title')}")
    right.markdown(
        f"<div class='vigie-clearance' style='text-align:right'>{user.name} · "
        f"{t('role.' + user.role)}<br>{t('clearance')} : <b>{clearance}</b></div>",
        unsafe_allow_html=True,
    )


def main() -> None:
    st.set_page_config(page_title="Vigie", layout="wide", initial_sidebar_state="expanded")
    services = get_services()
    t = texts()
    session = signed_in(services, t)
    if session is None:
        login_form(services, t)
        return
    allowed = [key for key, (action, _) in PAGES.items() if session.user.may(action)]
    if st.session_state.get("page") not in allowed:
        st.session_state["page"] = allowed[0]
    with st.sidebar:
        language_switch(st)
        st.radio(t("page"), allowed, format_func=lambda key: t(f"page.{key}"), key="page")
        if session.user.may(Action.ASK):
            conversation_list(session, t)
        if st.button(t("logout"), key="logout"):
            session.audit("logout")
            sign_out()
            st.rerun()
    screen = Screen()
    header(session, t)
    _, draw = PAGES[st.session_state["page"]]
    try:
        draw(session, t, screen)
    except VigieError as exc:  # the face's one boundary: an expected error is one line
        st.error(exc.one_line())
    finally:
        screen.bottom()


main()
