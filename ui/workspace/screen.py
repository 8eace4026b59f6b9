"""The classification banners: the highest level on screen, at the top and the bottom
of every page, in the conventional colours (`ui.banner`).

The top banner is a placeholder drawn first and redrawn as soon as a page shows
something higher (before an answer streams, its sources' level is known), so the
banner is never below what the reader sees. The bottom one is drawn last.
"""

from __future__ import annotations

import html

import streamlit as st

from ui.banner import BANNER_COLOURS
from vigie.contracts import Level, marking


def banner_html(level: Level, where: str, marking: str = "") -> str:
    background, text = BANNER_COLOURS[level]
    label = html.escape(marking or level.label)
    return (
        f"<div class='vigie-banner vigie-banner-{where}' data-level='{int(level)}' "
        f"style='background:{background};color:{text};text-align:center;font-weight:bold;"
        f"padding:2px;font-family:sans-serif;letter-spacing:0.05em'>{label}</div>"
    )


class Screen:
    """What the page shows, as far as classification goes."""

    def __init__(self) -> None:
        self.highest = Level.NON_PROTEGE
        self.caveats: set[str] = set()
        self._top = st.empty()
        self._draw_top()

    @property
    def marking(self) -> str:
        return marking(self.highest, self.caveats)

    def show(self, level: Level, caveats: tuple[str, ...] | list[str] = ()) -> None:
        """Something of `level` (with `caveats`) is about to be on screen."""
        if level > self.highest or not self.caveats.issuperset(caveats):
            self.highest = max(self.highest, level)
            self.caveats.update(caveats)
            self._draw_top()

    def _draw_top(self) -> None:
        self._top.markdown(banner_html(self.highest, "top", self.marking), unsafe_allow_html=True)

    def bottom(self) -> None:
        st.markdown(banner_html(self.highest, "bottom", self.marking), unsafe_allow_html=True)

    def show_sources(self, answer) -> None:
        """Every passage given to the model: known before the first token streams."""
        for hit in answer.sources:
            self.show(hit.chunk.level, hit.chunk.caveats)

    def show_label(self, answer) -> None:
        """A finished answer: what it cites (every source when it cites none)."""
        for citation in answer.shown_citations:
            self.show(citation.level, citation.caveats)
