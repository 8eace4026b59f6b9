"""The administrator's pages: users (add, change clearance and caveats, disable or
enable) and the audit trail (verify the chain, read the latest records)."""

from __future__ import annotations

import json

import streamlit as st

from app.session import Session
from ui.i18n import Texts
from ui.workspace.screen import Screen
from vigie.audit import AuditError
from vigie.contracts import Level
from vigie.users import Role, UserError

AUDIT_SHOWN = 50


def caveat_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def users_page(session: Session, t: Texts, screen: Screen) -> None:
    st.caption(t("users.caption"))
    if notice := st.session_state.pop("users_notice", None):
        st.success(notice)
    users = session.users()
    st.table(
        [
            {
                t("users.name"): u.name,
                t("users.role"): t(f"role.{u.role}"),
                t("users.level"): u.level.label,
                t("users.caveats"): ", ".join(sorted(u.caveats)),
                "": t("users.active") if u.active else t("users.disabled"),
            }
            for u in users
        ]
    )
    add_user(session, t)
    change_user(session, t, [u.name for u in users])


def add_user(session: Session, t: Texts) -> None:
    with st.expander(t("users.add")), st.form("user_add", clear_on_submit=True):
        name = st.text_input(t("users.name"), key="new_name")
        role = st.selectbox(
            t("users.role"), list(Role), format_func=lambda r: t(f"role.{r}"), key="new_role"
        )
        level = st.selectbox(
            t("users.level"), list(Level), format_func=lambda v: v.label, key="new_level"
        )
        caveats = st.text_area(t("users.caveats"), key="new_caveats", height=68)
        password = st.text_input(t("users.password"), type="password", key="new_password")
        if not st.form_submit_button(t("users.add"), type="primary"):
            return
    try:
        user = session.add_user(name.strip().lower(), role, level, caveat_lines(caveats), password)
    except (UserError, ValueError) as exc:
        st.error(str(exc))
        return
    st.session_state["users_notice"] = t("users.added", name=user.name)
    st.rerun()  # the table and the list of names above now include the new user


def change_user(session: Session, t: Texts, names: list[str]) -> None:
    with st.expander(t("users.change")):
        name = st.selectbox(t("users.name"), names, key="edit_name")
        current = session.account(name) if name else None
        if current is None:
            return
        with st.form("user_edit"):
            role = st.selectbox(
                t("users.role"), list(Role), index=list(Role).index(current.role),
                format_func=lambda r: t(f"role.{r}"), key=f"edit_role_{name}",
            )  # fmt: skip
            level = st.selectbox(
                t("users.level"), list(Level), index=int(current.level),
                format_func=lambda v: v.label, key=f"edit_level_{name}",
            )  # fmt: skip
            caveats = st.text_area(
                t("users.caveats"), "\n".join(sorted(current.caveats)), height=68,
                key=f"edit_caveats_{name}",
            )  # fmt: skip
            active = st.checkbox(t("users.active"), current.active, key=f"edit_active_{name}")
            if not st.form_submit_button(t("users.save"), type="primary"):
                return
        try:
            user = session.change_user(
                name, role=role, level=level, caveats=caveat_lines(caveats), active=active
            )
        except (UserError, ValueError) as exc:
            st.error(str(exc))
            return
        st.session_state["users_notice"] = t("users.saved", name=user.name)
        st.rerun()


def audit_page(session: Session, t: Texts, screen: Screen) -> None:
    from vigie.users import Action

    session.require(Action.READ_AUDIT)
    st.caption(t("audit.caption"))
    clicked = st.button(t("audit.verify"), key="audit_verify")
    if clicked or "audit_checked" not in st.session_state:
        result = session.verify_audit(record=clicked)
        st.session_state["audit_checked"] = (result.ok, result.records, result.reason)
    ok, records, reason = st.session_state["audit_checked"]
    if ok:
        st.success(t("audit.ok", n=t.number(records)))
    else:
        st.error(t("audit.broken", reason=reason))
    try:
        recent = session.recent_audit(AUDIT_SHOWN)
    except AuditError:  # a line that is not a record: the error above names it
        return
    st.dataframe(
        [
            {
                "n°": r.seq,
                t("audit.when"): r.time,
                t("audit.who"): r.actor,
                t("audit.what"): r.action,
                t("audit.details"): json.dumps(r.details, ensure_ascii=False)[:300],
            }
            for r in reversed(recent)
        ],
        width="stretch",
        hide_index=True,
    )
