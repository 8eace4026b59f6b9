"""Lexical (sparse) vectors for hybrid search: French- and English-aware BM25 weights.

Text is lower-cased and accent-folded, elisions are split ("l'état" -> "état",
"qu'il" -> "il"), stop words of both languages are dropped, and each word is
reduced by the Snowball stemmer of the text's language (French or English).
Each stem is hashed to a stable index; a passage's value for it is BM25's
saturated term frequency with length normalisation, and the store's sparse
vector carries Qdrant's IDF modifier, so the collection supplies the IDF. A
query's vector weighs each of its stems 1.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Iterator

from vigie.language import detect_language, strip_accents

K1 = 1.2
B = 0.75
AVERAGE_LENGTH = 60.0  # stems in a typical chunk; BM25 needs a reference length

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Elided articles and pronouns before an apostrophe: l' d' j' m' n' s' t' c' qu' jusqu' ...
_ELISION = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)

_STOP_FR = """au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les
leur leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
ses son sur ta te tes toi ton tu un une vos votre vous est sont ete etre avoir a ont etait
y dont ou comme plus tres aussi cela ca sans sous entre vers chez si quel quelle quels quelles
"""
_STOP_EN = """a an and are as at be by for from has have he her his i in is it its of on or she
that the their them they this to was were will with you your what which who whom how when where
why do does did not no but if than then there these those been being into about over such
"""
STOP_WORDS = frozenset((_STOP_FR + _STOP_EN).split())


@functools.cache
def _stemmer(language: str):  # noqa: ANN202 - an nltk SnowballStemmer
    with _nltk_without_scipy_stats():
        from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english" if language == "en" else "french")


@contextlib.contextmanager
def _nltk_without_scipy_stats() -> Iterator[None]:
    """Import nltk without scipy.stats: nltk's package init imports its collocation
    metrics, which import scipy.stats (Fisher's exact test, never used here) for about
    1.5 s, a third of a CLI search's start. Marked absent while nltk is imported (nltk
    falls back without it), then forgotten, so that a later import finds it. Only in a
    process with no other thread (the CLI), which could import scipy.stats meanwhile."""
    if "nltk" in sys.modules or "scipy.stats" in sys.modules or threading.active_count() > 1:
        yield
        return
    sys.modules["scipy.stats"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("scipy.stats", 0) is None:
            del sys.modules["scipy.stats"]


def tokens(text: str, language: str | None = None) -> list[str]:
    """The stems of `text` that count for search, in order."""
    language = language or detect_language(text)
    stem = _stemmer(language).stem
    words = _WORD.findall(strip_accents(_ELISION.sub(" ", text)).lower())
    return [stem(word) for word in words if word not in STOP_WORDS and len(word) > 1]


def _index(stem: str) -> int:
    return zlib.crc32(stem.encode("utf-8")) & 0x7FFFFFFF


def passage_vector(text: str, language: str | None = None) -> tuple[list[int], list[float]]:
    """(indices, values): BM25 term weights of a passage (IDF comes from the store)."""
    counts = Counter(_index(stem) for stem in tokens(text, language))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_LENGTH)
    indices = sorted(counts)
    return indices, [round(counts[i] * (K1 + 1) / (counts[i] + norm), 4) for i in indices]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values): each distinct stem of the query, weight 1."""
    indices = sorted({_index(stem) for stem in tokens(text)})
    return indices, [1.0] * len(indices)
