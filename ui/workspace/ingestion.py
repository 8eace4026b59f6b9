"""The operator's page: start a batch from a server folder (inside the import roots) with
live progress; the quarantine with reasons and a retry; pages to rescan; batches;
ledger totals."""

from __future__ import annotations

import streamlit as st

from app.results import ArchiveStatus, BatchReport, FileRow
from app.session import Session
from ui.i18n import Texts
from ui.workspace.screen import Screen
from vigie.contracts import FileOutcome, FileState, Level
from vigie.users import UserError


def ingestion_page(session: Session, t: Texts, screen: Screen) -> None:
    st.caption(t("ingest.caption"))
    start_batch(session, t)
    ledger_view(session, t, session.status())


def ledger_view(session: Session, t: Texts, status: ArchiveStatus) -> None:
    """Totals, quarantine, pages to re-scan and batches: only what the user may see."""
    if not status.states:
        st.info(t("ingest.empty"))
        return
    st.subheader(t("ingest.totals"))
    st.table(
        [
            {t("ingest.state"): t(f"state.{state}")}
            | {t(f"ingest.{k}"): t.number(getattr(count, k)) for k in COLUMNS}
            for state, count in sorted(status.states.items())
        ]
    )
    quarantine(session, t, status.quarantined)
    if status.rescans:
        st.subheader(t("ingest.rescan"))
        st.table(
            [{t("ingest.file"): r.path, t("ingest.pages"): ", ".join(map(str, r.rescan_pages))}
             for r in status.rescans]
        )  # fmt: skip
    if status.reviews:
        st.subheader(t("ingest.review"))
        st.table([{t("ingest.file"): r.path, t("ingest.reason"): r.review} for r in status.reviews])
    if status.confirmations:
        st.subheader(t("ingest.confirm"))
        st.caption(t("ingest.confirm_how"))
        st.table(
            [{t("ingest.file"): r.path, t("ingest.marking"): f"{m.level.label}? p. {m.page}, "
              f"{t('ingest.line')} {m.line} : {m.evidence}"}
             for r in status.confirmations for m in r.to_confirm]
        )  # fmt: skip
    if status.batches:
        st.subheader(t("ingest.batches"))
        shown = status.batches[:20]
        st.table([{t("search.batch"): batch, t("ingest.files"): t.number(n)} for batch, n in shown])


COLUMNS = ("files", "pages", "chunks")


def start_batch(session: Session, t: Texts) -> None:
    roots = ", ".join(str(r) for r in session.import_roots())
    with st.form("ingest_form"):
        folder = st.text_input(t("ingest.folder"), key="ingest_folder")
        st.caption(f"{t('ingest.roots')} : {roots}")
        level = st.selectbox(
            t("ingest.level"), [None, *Level], key="ingest_level",
            format_func=lambda v: t("ingest.level_none") if v is None else v.label,
        )  # fmt: skip
        started = st.form_submit_button(t("ingest.start"), type="primary")
    if not (started and folder.strip()):
        return
    try:
        path = session.import_folder(folder)
    except UserError as exc:
        st.error(str(exc))
        return
    files = session.files_in(path)
    bar = st.progress(0.0, text=t("ingest.running", path=path))
    done: list[FileOutcome] = []

    def progress(outcome: FileOutcome) -> None:
        done.append(outcome)
        share = min(1.0, len(done) / max(1, files))
        bar.progress(share, text=f"{len(done)} / {files} — {outcome.path} : {outcome.state}")

    report = session.ingest([path], level=level, progress=progress)
    bar.progress(1.0, text=t("ingest.done", batch=report.batch))
    show_report(t, report)


def show_report(t: Texts, report: BatchReport) -> None:
    totals = report.to_dict()["totals"]
    st.success(
        f"{t('ingest.done', batch=report.batch)} : "
        + ", ".join(f"{t(f'state.{k}')} {t.number(v)}" for k, v in totals.items() if v)
    )
    if report.stopped:
        st.error(report.stopped)
    for outcome in report.outcomes:
        if outcome.state in (FileState.QUARANTINED, FileState.REFUSED):
            st.warning(f"{outcome.path} — {t(f'state.{outcome.state}')} : {outcome.reason}")


def quarantine(session: Session, t: Texts, entries: list[FileRow]) -> None:
    if not entries:
        return
    st.subheader(t("ingest.quarantine"))
    retried = None
    for entry in entries:
        name, reason, button = st.columns([3, 5, 1])
        name.markdown(f"`{entry.path}`")
        reason.caption(entry.reason)
        if button.button(t("ingest.retry"), key=f"retry_{entry.sha256[:16]}"):
            retried = entry
    if st.button(t("ingest.retry_all"), key="retry_quarantine"):
        with st.spinner(t("ingest.running", path=t("ingest.quarantine"))):
            show_report(t, session.retry_quarantine())
    elif retried is not None:
        with st.spinner(t("ingest.running", path=retried.path)):
            try:
                show_report(t, session.retry_file(retried.sha256))
            except UserError as exc:
                st.error(str(exc))
