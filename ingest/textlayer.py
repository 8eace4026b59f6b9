"""Judge whether a PDF page's text layer is real text or garbage that must be OCRed.

A text layer can be present and still useless: a font without a Unicode map
makes pdfium return glyph codes instead of characters (control characters,
C1 controls, private-use code points, U+FFFD, letter soup), and some
generators write letter soup that looks readable but is shifted (a Caesar
cipher of the real text). Counting characters is then not enough to decide
that a page needs no OCR, so each page's text is judged by three checks, the
first that fails giving the reason:

1. **Bad characters.** Control characters (other than tab, line breaks and
   pdfium's soft-hyphen marker U+0002), private-use, surrogate and unassigned
   code points and U+FFFD, over all non-space characters. Genuine pages of
   the corpus stay under 4 % (a form whose check boxes come out as U+0003);
   every page of a PDF whose fonts lack a Unicode map is at 8.7 % or more.
2. **Word shape.** The share of the text (in characters) that lies in
   word-shaped tokens: words (lower case, Capitalised, CAPITALS, camelCase,
   joined by hyphens or apostrophes), numbers, short codes. Pure punctuation
   (dot leaders, bullets, rules) is not a token, so tables of contents and
   number-heavy tables pass. Genuine pages: 66 % or more (a page that is
   mostly a file name); letter soup: 39 % or less.
3. **Language.** Only on pages with enough words of Latin letters, so
   titles, short pages and small tables are never judged on it. French or
   English prose has plenty of function words ("le", "de", "et", "the",
   "of", ...); a list of names or a table has few, but its letters are still
   distributed like a Latin-script language's. Letter soup made of
   word-shaped tokens, a Caesar-shifted text for one, has neither: its few
   "function words" are accidents of the shift, and its letter profile is
   off (cosine to French or English letter frequencies at most 0.77 over
   all 25 shifts of every genuine page, against 0.90 or more for the genuine
   pages themselves).

The thresholds sit between those measures, taken on every page of the
born-digital corpus and of the PDF whose fonts lack a Unicode map.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# Share of bad characters above which a text is garbage (with at least MIN_BAD_CHARS of them).
MAX_BAD_CHAR_RATIO = 0.08
MIN_BAD_CHARS = 2
# Share of the tokens' characters in word-shaped tokens below which a text is garbage, judged
# from MIN_SHAPE_TOKENS tokens. Weighed by length: letter soup has short tokens ("D", "L") that
# happen to be word-shaped between long ones that are not.
MIN_WORD_SHAPE_RATIO = 0.5
MIN_SHAPE_TOKENS = 8
# The language check is made from MIN_LATIN_WORDS words of two or more Latin letters. The text
# reads as French or English prose with at least MIN_FUNCTION_WORD_RATIO function words among
# them, MIN_DISTINCT_FUNCTION_WORDS different ones; failing that, its letters must still be
# distributed like those of a Latin-script language (lists of names, tables): cosine similarity
# of the letter counts to French or English frequencies of at least MIN_LETTER_PROFILE.
MIN_LATIN_WORDS = 60
MIN_FUNCTION_WORD_RATIO = 0.10
MIN_DISTINCT_FUNCTION_WORDS = 5
MIN_LETTER_PROFILE = 0.80

# pdfium writes U+0002 for a hyphen that breaks a word at the end of a line.
_BENIGN_CONTROLS = frozenset("\t\n\r\x02")
_BAD_CATEGORIES = frozenset({"Cc", "Co", "Cs", "Cn"})

# Common French and English function words of two letters or more (one-letter words are left
# out: a shifted alphabet turns any letter into another one-letter "word").
FUNCTION_WORDS = frozenset(
    """
    au aux avec ce ces cet cette dans de des du elle en est et il ils je la le les leur leurs
    lui mais ne ni nous on ou où par pas pour que qui sa se ses son sont sur un une vous été
    être sans sous entre aussi plus ont fait comme dont
    the of and to in is for that on with as by at from be are was were it its this an or not
    which have has had but all their they he she we you his her will would can may shall been
    into than these those there such any other no if our
    """.split()
)

# Letter frequencies (per cent) of English and French text, accents folded.
_ENGLISH_LETTERS = dict(
    zip(
        "etaoinshrdlcumwfgypbvkjxqz",
        (12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8)
        + (2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07),
        strict=True,
    )
)
_FRENCH_LETTERS = dict(
    zip(
        "esaitnrulodcmpvqfbghjxyzwk",
        (14.7, 7.9, 7.6, 7.5, 7.2, 7.1, 6.6, 6.3, 5.5, 5.4, 3.7, 3.3, 3.0)
        + (3.0, 1.8, 1.4, 1.1, 0.9, 0.9, 0.7, 0.5, 0.4, 0.1, 0.1, 0.05, 0.05),
        strict=True,
    )
)

# Separators inside a token: dot leaders glued to a word, dashes and brackets ("book—memory",
# "l'assuré(e)").
_SEPARATORS = re.compile(r"\.{2,}|…+|_{2,}|·{2,}|[—–―()\[\]{}]")
_NUMBER = re.compile(
    r"[+\-−]?\d[\d.,:/\-−%°'’]*(?:h\d*|e|er|ère|ème|st|nd|rd|th|s)?", re.IGNORECASE
)
_JOINERS = re.compile(r"[-‐‑'’./&_]")
_WORD_PARTS = re.compile(r"[-‐‑'’]")


@dataclass(frozen=True)
class TextLayerVerdict:
    """Whether a text layer reads as real text, why not, and the measures behind it."""

    plausible: bool
    reason: str
    bad_char_ratio: float
    word_shape_ratio: float | None  # None: fewer than MIN_SHAPE_TOKENS tokens
    function_word_ratio: float | None  # None: fewer than MIN_LATIN_WORDS words
    letter_profile: float | None  # None: fewer than MIN_LATIN_WORDS words


def text_layer_is_plausible(text: str) -> bool:
    """True when `text` (a page's text layer) reads as real text, False when it needs OCR."""
    return judge_text_layer(text).plausible


def judge_text_layer(text: str) -> TextLayerVerdict:
    """Judge a page's text layer by bad characters, word shape and language."""
    chars = [c for c in text if not c.isspace()]
    bad = sum(1 for c in chars if _is_bad_char(c))
    bad_ratio = bad / len(chars) if chars else 0.0
    tokens = _tokens(text)
    shape_ratio = None
    if len(tokens) >= MIN_SHAPE_TOKENS:
        shaped = sum(len(t) for t in tokens if _is_word_shaped(t))
        shape_ratio = shaped / sum(len(t) for t in tokens)
    words = _latin_words(tokens)
    function_ratio = profile = None
    distinct = 0
    if len(words) >= MIN_LATIN_WORDS:
        functional = [w for w in words if w in FUNCTION_WORDS]
        function_ratio, distinct = len(functional) / len(words), len(set(functional))
        profile = _letter_profile("".join(words))

    def verdict(plausible: bool, reason: str) -> TextLayerVerdict:
        return TextLayerVerdict(plausible, reason, bad_ratio, shape_ratio, function_ratio, profile)

    if bad >= MIN_BAD_CHARS and bad_ratio > MAX_BAD_CHAR_RATIO:
        return verdict(False, f"{bad_ratio:.0%} of the characters are control or unmapped codes")
    if shape_ratio is not None and shape_ratio < MIN_WORD_SHAPE_RATIO:
        return verdict(False, f"only {shape_ratio:.0%} of the text is in word-shaped tokens")
    if function_ratio is not None and profile is not None:
        prose = (
            function_ratio >= MIN_FUNCTION_WORD_RATIO and distinct >= MIN_DISTINCT_FUNCTION_WORDS
        )
        if not prose and profile < MIN_LETTER_PROFILE:
            return verdict(
                False,
                f"{function_ratio:.0%} function words and letter profile {profile:.2f}:"
                " not French or English",
            )
    return verdict(True, "reads as text")


def _is_bad_char(char: str) -> bool:
    if char in _BENIGN_CONTROLS:
        return False
    return char == "\ufffd" or unicodedata.category(char) in _BAD_CATEGORIES


def _is_edge_noise(char: str) -> bool:
    """Punctuation and symbols that may wrap a word: quotes, brackets, bullets, math."""
    return unicodedata.category(char)[0] in "PS" or _is_bad_char(char)


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens, stripped of wrapping punctuation; pure punctuation dropped."""
    tokens = []
    for raw in _SEPARATORS.sub(" ", text.replace("\x02", "")).split():
        start, end = 0, len(raw)
        while start < end and _is_edge_noise(raw[start]):
            start += 1
        while end > start and _is_edge_noise(raw[end - 1]):
            end -= 1
        if start < end:
            tokens.append(raw[start:end])
    return tokens


def _is_word_shaped(token: str) -> bool:
    """A word, a number, or a short code made of those, joined by hyphens, dots, apostrophes."""
    if _NUMBER.fullmatch(token):
        return True
    parts = [p for p in _JOINERS.split(token) if p]
    return bool(parts) and all(_is_part_shaped(p) for p in parts)


def _is_part_shaped(part: str) -> bool:
    if _NUMBER.fullmatch(part):
        return True
    if part.isalpha():
        return _case_shaped(part)
    # Letters and digits mixed: codes such as "A1", "COVID19", "1er", "x86", "3D".
    letters = "".join(c for c in part if c.isalpha())
    return part.isalnum() and len(part) <= 12 and _case_shaped(letters)


def _case_shaped(letters: str) -> bool:
    """lower, Capitalised, CAPITALS, camelCase, CAPITALs or a caseless script; not case soup."""
    if len(letters) <= 1 or letters.islower() or letters.isupper():
        return True
    if not any(c.islower() or c.isupper() for c in letters):
        return True
    if letters[:-1].isupper() and letters[-1] == "s":
        return True
    humps, start = [], 0
    for i in range(1, len(letters)):
        if letters[i].isupper() and letters[i - 1].islower():
            humps.append(letters[start:i])
            start = i
    humps.append(letters[start:])
    # camelCase ("iPhone", "McDonald", "getId"): humps after the first are Capitalised and
    # not as short as those of random case ("xQzTr").
    if len(humps) > 3 or not all(len(h) == 1 or h[1:].islower() for h in humps):
        return False
    return all(len(h) >= 3 for h in humps[1:-1]) and (len(humps) == 1 or len(humps[-1]) >= 2)


def _latin_words(tokens: list[str]) -> list[str]:
    """Lower-case words of two or more Latin letters, split at hyphens and apostrophes."""
    words = []
    for token in tokens:
        for part in _WORD_PARTS.split(token.lower()):
            if len(part) >= 2 and part.isalpha() and _fold(part).isascii():
                words.append(part)
    return words


def _fold(text: str) -> str:
    """Accents and ligatures undone: "cœur été" -> "coeur ete"; other letters stay."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _letter_profile(text: str) -> float:
    """Cosine similarity of the letter counts to English or French frequencies, the closer."""
    counts = Counter(c for c in _fold(text) if "a" <= c <= "z")
    norm = math.sqrt(sum(n * n for n in counts.values()))
    if not norm:
        return 0.0
    best = 0.0
    for reference in (_ENGLISH_LETTERS, _FRENCH_LETTERS):
        dot = sum(n * reference.get(c, 0.0) for c, n in counts.items())
        best = max(best, dot / norm / math.sqrt(sum(f * f for f in reference.values())))
    return best
