"""A tiny French/English detector: counts frequent function words.

Good enough to route prompts and messages ("answer in the question's
language") and to tag chunks; it needs no model and no network.
"""

from __future__ import annotations

import re

_FRENCH = frozenset(
    "le la les des du de un une et est sont dans pour par sur avec que qui quoi quel quelle "
    "quels quelles au aux ce cette ces il elle ils elles nous vous pas ne plus ou où été être "
    "a ont avait fait leur leurs son sa ses mais comme donc aussi très sans entre selon".split()
)
_ENGLISH = frozenset(
    "the of and to in is are was were for on with that which who what when where how this these "
    "those it its by from at as be been has have had not or but an a their there they we you "
    "will would should can could into about than".split()
)
_WORD = re.compile(r"[a-zàâäçéèêëîïôöùûüÿœæ']+", re.IGNORECASE)


def detect_language(text: str, default: str = "fr") -> str:
    """'fr' or 'en'; `default` when the text gives no signal either way."""
    words = [w.strip("'") for w in _WORD.findall(text.lower())]
    french = sum(1 for w in words if w in _FRENCH)
    english = sum(1 for w in words if w in _ENGLISH)
    if any(c in text for c in "éèêàçùœ"):
        french += 1
    if french == english:
        return default
    return "fr" if french > english else "en"
