"""The classification banner's colours, shared by the UI and the exported answers.

The conventional banner colours (as on marked screens and cover sheets): green for
unprotected material, blue for restricted circulation, red for SECRET and orange
for TRÈS SECRET, each with the text colour that reads on it.
"""

from __future__ import annotations

from vigie.contracts import Level

# level -> (background, text), as #rrggbb
BANNER_COLOURS: dict[Level, tuple[str, str]] = {
    Level.NON_PROTEGE: ("#007a33", "#ffffff"),
    Level.DIFFUSION_RESTREINTE: ("#0033a0", "#ffffff"),
    Level.SECRET: ("#c8102e", "#ffffff"),
    Level.TRES_SECRET: ("#ff8c00", "#000000"),
}


def rgb(colour: str) -> tuple[int, int, int]:
    """'#c8102e' -> (200, 16, 46)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
