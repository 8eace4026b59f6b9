"""Read classification markings (level and caveats) from the text of a document's pages.

A document's classification is whatever its markings say: the banner printed
at the top and bottom of each page, the capitals of a cover page, the portion
marks at the start of paragraphs. The pages are read line by line; every line
that carries a marking gives one `Marking`, and `document_marking` keeps the
highest level found on any page (a marking never lowers the level) and the
union of the caveats.

All comparisons are made on *folded* text: upper case, accents stripped,
punctuation, hyphens and underscores turned into spaces, whitespace collapsed
("Très-Secret // Défense" folds to "TRES SECRET DEFENSE").

Three kinds of marking are read:

1. **Banner lines.** A short line whose content is a level name (any name
   `Level.parse` knows: current French names, pre-2021 names, NATO names),
   optionally with caveats, separators ("//", "-", "/") and at most
   `MAX_EXTRA_TOKENS` (3) words of page "furniture" (numbers beside them are
   not counted; the line has at most `MAX_BANNER_TOKENS` words in all): a
   copy or page number ("EXEMPLAIRE N° 3 SUR 5", "PAGE 2 / 5"), a label
   ("CLASSIFICATION :", "NIVEAU DE PROTECTION :"), a stray single character
   left by OCR. A connector or number prefix ("DE", "SUR", "OF", "NO") is
   furniture only next to other furniture. Any other word makes the line
   prose ("le secret professionnel ...", "Secret de famille", "de diffusion
   restreinte"), not a banner. Banner lines are read case-insensitively and
   with OCR tolerance: each level name or caveat is matched against a window
   of the line's words by Levenshtein distance (rapidfuzz) with a budget that
   grows with the name's length (1 edit up to 7 characters, 2 up to 15, 3
   beyond), after undoing the usual OCR digit confusions (0/O, 1/I, 5/S,
   8/B) inside words and joining letter-spaced words ("S E C R E T"). So
   "DIFFUS1ON RESTRElNTE", "SECRET DEFENSF", "TRÈS SECRÈT" or "C0NFIDENTIEL
   DÉFENSE" still read. Guards against false positives:

   - a fuzzy window must begin and end like the name it matches, so the
     budget never swallows a whole neighbouring word ("DE DIFFUSION
     RESTREINTE" is not "DIFFUSION RESTREINTE" plus noise);
   - real words that sit within the budget of a level name are never fuzzy
     matches: "DÉCRET", "SECRETS", "SECRÈTE", and "CONFIDENTIEL" (which is not
     a level of the French scale on its own; "CONFIDENTIEL DÉFENSE" is);
   - numbers count as furniture only when the marking is written in capitals
     ("SECRET - EXEMPLAIRE N° 3" reads, the table row "Secret 120" does not);
   - a line not written in capitals that ends like a sentence (".", ",", ";",
     "!", "?") is the tail of a wrapped paragraph ("... gardé le / secret."),
     not a banner.

2. **Distinctive multi-word markings** (`DISTINCTIVE`: "DIFFUSION
   RESTREINTE", "CONFIDENTIEL DÉFENSE", "SECRET DÉFENSE", "TRÈS SECRET
   DÉFENSE", the NATO names, "COSMIC TOP SECRET", "NON PROTÉGÉ") and the known
   caveats are read anywhere in any line, but only when every word is written
   in UPPER CASE in the original text, and exactly (no OCR tolerance): "la
   mention SECRET DÉFENSE" is a marking, "une diffusion restreinte aux
   membres du conseil" is not. Single-word names ("SECRET") and generic
   phrases ("TOP SECRET", "TRÈS SECRET") are only read from banner lines.

3. **Portion markings** at the start of a line or paragraph, in capitals
   between parentheses, possibly after a list bullet or number: "(NP)",
   "(DR)", "(S)", "(TS)", pre-2021 "(CD)", "(SD)", "(TSD)", NATO "(NU)",
   "(NR)", "(NC)", "(NS)", "(CTS)", optionally with "SF" for SPÉCIAL FRANCE:
   "(S SF)", "(DR-SF)", "(S//SF)".

Markings are read with their strength (`Marking.kind`). Banner lines and capitals
are strong, as are portion marks of two letters or more. A lone one-letter mark,
"(S)", is weak: French and Québec administrations write "(s)" or "(S)" before a
signature ("signé"), so "(S) Jean Dupont" under "Le maire" is a signature and not a
marking at all (a mark followed by a person's name or a title, with a title such as
maire, greffier, directeur on its line or the next to it). A weak mark counts only
in a document that also has a banner or at least `SEVERAL_PORTIONS` portion-marked
paragraphs; otherwise `weigh_markings` leaves it out of the level and returns it
"to confirm", with its page and line, for a person cleared to it to decide.

Caveats are returned in the canonical form given in `known_caveats` (by
default `DEFAULT_CAVEATS`). A caveat found on a line with no level name
implies at least DIFFUSION RESTREINTE: restriction caveats only ever accompany
protected information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from vigie.contracts import Level
from vigie.language import strip_accents

DEFAULT_CAVEATS: tuple[str, ...] = ("SPÉCIAL FRANCE",)

# Every level name Level.parse knows, as written on documents. Parsing them
# here keeps the mapping to levels in one place (vigie.contracts).
LEVEL_NAMES: tuple[str, ...] = (
    "NON PROTÉGÉ",
    "UNCLASSIFIED",
    "NATO UNCLASSIFIED",
    "DIFFUSION RESTREINTE",
    "RESTRICTED",
    "NATO RESTRICTED",
    "SECRET",
    "CONFIDENTIEL DÉFENSE",
    "SECRET DÉFENSE",
    "CONFIDENTIAL",
    "NATO CONFIDENTIAL",
    "NATO SECRET",
    "TRÈS SECRET",
    "TRÈS SECRET DÉFENSE",
    "TOP SECRET",
    "COSMIC TOP SECRET",
)

# Level names distinctive enough to be read anywhere in a line, in capitals.
DISTINCTIVE: tuple[str, ...] = (
    "NON PROTÉGÉ",
    "DIFFUSION RESTREINTE",
    "CONFIDENTIEL DÉFENSE",
    "SECRET DÉFENSE",
    "TRÈS SECRET DÉFENSE",
    "NATO UNCLASSIFIED",
    "NATO RESTRICTED",
    "NATO CONFIDENTIAL",
    "NATO SECRET",
    "COSMIC TOP SECRET",
)

PORTION_LEVELS: dict[str, Level] = {
    "NP": Level.NON_PROTEGE,
    "NU": Level.NON_PROTEGE,
    "DR": Level.DIFFUSION_RESTREINTE,
    "NR": Level.DIFFUSION_RESTREINTE,
    "S": Level.SECRET,
    "CD": Level.SECRET,
    "SD": Level.SECRET,
    "NC": Level.SECRET,
    "NS": Level.SECRET,
    "TS": Level.TRES_SECRET,
    "TSD": Level.TRES_SECRET,
    "CTS": Level.TRES_SECRET,
}
SPECIAL_FRANCE = "SPÉCIAL FRANCE"  # what the portion suffix "SF" stands for

MAX_EXTRA_TOKENS = 3  # furniture words (numbers not counted) beside a banner marking
MAX_BANNER_TOKENS = 12  # longer lines are never banners
EVIDENCE_CHARS = 120

# Words that may sit on a banner line beside the marking.
_FURNITURE_WORDS = frozenset(
    {
        "EXEMPLAIRE",
        "EXEMPLAIRES",
        "EX",
        "EXPL",
        "COPIE",
        "COPY",
        "PAGE",
        "PAGES",
        "ANNEXE",
        "FEUILLET",
        "ORIGINAL",
        "CLASSIFICATION",
        "NIVEAU",
        "MENTION",
        "PROTECTION",
    }
)
# Connectors and number prefixes: furniture only beside other furniture
# ("NIVEAU DE PROTECTION", "3 SUR 5", "NO 3"; not "No secret").
_CONNECTORS = frozenset({"DE", "DU", "SUR", "OF", "NO", "NUMERO"})
# Single letters that are words in their own right, not OCR specks.
_WORD_LETTERS = frozenset({"A", "Y"})
# Real words within the fuzzy budget of a level name: never fuzzy matches.
_NEAR_MISSES = frozenset(
    {
        "DECRET",
        "DECRETS",
        "SECRETS",
        "SECRETE",
        "SECRETES",
        "CONFIDENTIEL",
        "CONFIDENTIELS",
        "CONFIDENTIELLE",
        "CONFIDENTIELLES",
    }
)
_OCR_DIGITS = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})
_EDGE_SIMILARITY = 60.0  # fuzz.ratio of a window's first/last word to the name's
_CAPITALS_SHARE = 0.75  # share of upper-case letters for a marking "written in capitals"
_SENTENCE_END = ".,;!?"
_WORD = re.compile(r"[^\W_]+")
_PORTION = re.compile(
    r"^\s*(?:[-–•*]\s*|\d+(?:\.\d+)*[.)]?\s+|[a-z][.)]\s+)?"
    r"\(\s*(?P<abbr>CTS|TSD|TS|SD|CD|DR|NP|NU|NR|NC|NS|S)"
    r"(?:\s*[-/]{0,2}\s*(?P<sf>SF))?\s*\)"
)


# How strong a marking's evidence is: a banner (or capitals, or a spoken marking), a
# portion mark of two letters or more, or a lone one-letter portion mark ("(S)").
MarkingKind = Literal["banner", "portion", "weak"]
SEVERAL_PORTIONS = 2  # portion-marked paragraphs that make a lone "(S)" count

# Titles beside a signature: "(S) Jean Dupont" under "Le maire" signs, it does not mark.
_SIGNATURE_TITLES = frozenset(
    {
        "MAIRE", "MAIRESSE", "GREFFIER", "GREFFIERE", "DIRECTEUR", "DIRECTRICE", "SECRETAIRE",
        "PRESIDENT", "PRESIDENTE", "TRESORIER", "TRESORIERE", "PREFET", "PREFETE", "MINISTRE",
        "ADJOINT", "ADJOINTE", "CONSEILLER", "CONSEILLERE", "NOTAIRE", "JUGE", "CHEF",
        "GENERAL", "COLONEL", "COMMANDANT", "CAPITAINE", "LIEUTENANT", "AMIRAL", "DOYEN",
        "RECTEUR", "COMMISSAIRE", "GOUVERNEUR", "SIGNE", "MAYOR", "CLERK", "DIRECTOR",
        "SECRETARY", "CHAIRMAN", "CHAIR", "TREASURER", "COMMISSIONER", "SIGNED",
    }
)  # fmt: skip
SIGNATURE_REACH = 3  # lines of text around a mark where a signature's title may stand
_MARK_BESIDE = re.compile(r"\(\s*[sS]\s*\)")  # "(s) Marie Roy", a second signature
_SIGNATURE_END = re.compile(r"[,_;:(]")  # where a signature's name ends
_NAME_PARTICLES = frozenset({"DE", "DU", "DES", "LA", "LE", "D", "L", "VAN", "VON", "ET"})


@dataclass(frozen=True)
class Marking:
    """A classification marking read on one line of one page."""

    level: Level
    caveats: frozenset[str]
    page: int
    evidence: str  # the line it was read from, truncated to EVIDENCE_CHARS
    kind: MarkingKind = "banner"
    line: int = 0  # its line in the page text as read (a paragraph is one), from 1


@dataclass(frozen=True)
class _Token:
    text: str  # as written
    key: str  # folded
    cmp: str  # folded, OCR digit confusions undone: what fuzzy matching compares


@dataclass(frozen=True)
class _Phrase:
    """A level name or a caveat, as matched against folded text."""

    key: str
    words: tuple[str, ...]
    level: Level | None = None
    caveat: str | None = None


@dataclass(frozen=True)
class _Cover:
    """One reading of a banner line: its names, and what was left over."""

    extras: int
    distance: int
    levels: frozenset[Level]
    caveats: frozenset[str]

    def rank(self) -> tuple[int, int, int]:
        """Fewer leftover tokens first, then fewer edits, then the higher level."""
        return (self.extras, self.distance, -max(self.levels, default=-1))


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    phrase: _Phrase
    distance: int


# --- folding -------------------------------------------------------------------------


def _fold_word(word: str) -> str:
    return strip_accents(word).upper()


def fold(text: str) -> str:
    """Upper case, accents stripped, punctuation to spaces, whitespace collapsed."""
    return " ".join(_fold_word(word) for word in _WORD.findall(text))


def _ocr_key(key: str) -> str:
    """Undo OCR digit-for-letter confusions inside words ("DIFFUS1ON"), not in numbers."""
    if any(c.isalpha() for c in key) and any(c.isdigit() for c in key):
        return key.translate(_OCR_DIGITS)
    return key


def _tokens(line: str) -> list[_Token]:
    tokens = []
    for word in _WORD.findall(line):
        key = _fold_word(word)
        tokens.append(_Token(word, key, _ocr_key(key)))
    return tokens


def _join_spaced_letters(tokens: list[_Token]) -> list[_Token]:
    """Join runs of three or more single letters: "S E C R E T" is one word."""
    joined: list[_Token] = []
    run: list[_Token] = []

    def flush() -> None:
        if len(run) >= 3:
            text = "".join(t.text for t in run)
            key = "".join(t.key for t in run)
            joined.append(_Token(text, key, _ocr_key(key)))
        else:
            joined.extend(run)
        run.clear()

    for token in tokens:
        if len(token.key) == 1 and token.key.isalpha():
            run.append(token)
        else:
            flush()
            joined.append(token)
    flush()
    return joined


# --- phrases -------------------------------------------------------------------------


def _phrase(name: str, level: Level | None = None, caveat: str | None = None) -> _Phrase:
    key = fold(name)
    return _Phrase(key, tuple(key.split()), level, caveat)


@cache
def _level_phrases() -> tuple[_Phrase, ...]:
    return tuple(_phrase(name, level=Level.parse(name)) for name in LEVEL_NAMES)


@cache
def _distinctive_phrases() -> tuple[_Phrase, ...]:
    return tuple(_phrase(name, level=Level.parse(name)) for name in DISTINCTIVE)


def _caveat_phrases(known_caveats: Iterable[str]) -> tuple[_Phrase, ...]:
    return tuple(_phrase(c, caveat=c) for c in known_caveats if fold(c))


def _canonical_caveat(name: str, caveats: Sequence[_Phrase]) -> str:
    """The known caveat's own spelling of `name`, or `name` if it is not in the list."""
    key = fold(name)
    return next((p.caveat for p in caveats if p.key == key and p.caveat), name)


# --- banner lines --------------------------------------------------------------------


def _budget(key: str) -> int:
    """Edits tolerated when matching a name of this length on a banner line."""
    return 1 if len(key) <= 7 else 2 if len(key) <= 15 else 3


def _edges_agree(window: Sequence[_Token], phrase: _Phrase) -> bool:
    """A fuzzy window must begin and end like the name (no whole extra word absorbed).

    The window's first word is compared with the name's first word over their
    common length from the start, the last words from the end: a word split
    ("SEC RET") or joined ("SECRETDEFENSE") by OCR still agrees, a neighbouring
    word ("DE DIFFUSION RESTREINTE") does not.
    """
    first, head = window[0].cmp, phrase.words[0]
    last, tail = window[-1].cmp, phrase.words[-1]
    size_first = min(len(first), len(head))
    size_last = min(len(last), len(tail))
    return (
        fuzz.ratio(first[:size_first], head[:size_first]) >= _EDGE_SIMILARITY
        and fuzz.ratio(last[-size_last:], tail[-size_last:]) >= _EDGE_SIMILARITY
    )


def _window_matches(tokens: Sequence[_Token], phrases: Sequence[_Phrase]) -> list[_Match]:
    matches = []
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + 5, len(tokens)) + 1):
            window = tokens[start:end]
            text = " ".join(t.cmp for t in window)
            for phrase in phrases:
                budget = _budget(phrase.key)
                if abs(len(text) - len(phrase.key)) > budget:
                    continue
                distance = Levenshtein.distance(text, phrase.key, score_cutoff=budget)
                if distance > budget:
                    continue
                if distance and (text in _NEAR_MISSES or not _edges_agree(window, phrase)):
                    continue
                matches.append(_Match(start, end, phrase, distance))
    return matches


def _is_furniture(token: _Token, capitals: bool) -> bool:
    """Page furniture that may stand beside a marking: labels, copy numbers, OCR specks."""
    key = token.key
    if key in _FURNITURE_WORDS:
        return True
    if any(c.isdigit() for c in key) and sum(c.isalpha() for c in key) <= 2:
        return capitals
    return len(key) == 1 and key not in _WORD_LETTERS


def _furniture(tokens: Sequence[_Token], capitals: bool) -> list[bool]:
    """Which tokens are furniture; a connector only counts beside other furniture."""
    plain = [_is_furniture(t, capitals) for t in tokens]
    flags = []
    for i, token in enumerate(tokens):
        beside = (i > 0 and plain[i - 1]) or (i + 1 < len(tokens) and plain[i + 1])
        flags.append(plain[i] or (token.key in _CONNECTORS and beside))
    return flags


def _in_capitals(tokens: Iterable[_Token]) -> bool:
    letters = [c for t in tokens for c in t.text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= _CAPITALS_SHARE * len(letters)


def _best_cover(
    tokens: Sequence[_Token], matches: Sequence[_Match], furniture: Sequence[bool]
) -> _Cover | None:
    """The best reading of the whole line as names plus furniture, if there is one."""
    by_start: dict[int, list[_Match]] = {}
    for match in matches:
        by_start.setdefault(match.start, []).append(match)

    best: list[_Cover | None] = [None] * (len(tokens) + 1)
    best[len(tokens)] = _Cover(0, 0, frozenset(), frozenset())
    for i in range(len(tokens) - 1, -1, -1):
        options: list[_Cover] = []
        rest = best[i + 1]
        if rest is not None and furniture[i]:
            extra = 0 if tokens[i].key.isdigit() else 1
            options.append(_Cover(rest.extras + extra, rest.distance, rest.levels, rest.caveats))
        for match in by_start.get(i, []):
            rest = best[match.end]
            if rest is None:
                continue
            phrase = match.phrase
            options.append(
                _Cover(
                    rest.extras,
                    rest.distance + match.distance,
                    rest.levels | ({phrase.level} if phrase.level is not None else set()),
                    rest.caveats | ({phrase.caveat} if phrase.caveat else set()),
                )
            )
        best[i] = min(options, key=_Cover.rank, default=None)
    return best[0]


def _read_banner(
    line: str, tokens: list[_Token], caveats: Sequence[_Phrase]
) -> tuple[set[Level], set[str]]:
    """Levels and caveats of a banner line; nothing when the line is not a banner."""
    tokens = _join_spaced_letters(tokens)
    if not tokens or len(tokens) > MAX_BANNER_TOKENS:
        return set(), set()
    marking_words = [
        t
        for t in tokens
        if t.key not in _FURNITURE_WORDS | _CONNECTORS and sum(c.isalpha() for c in t.key) > 1
    ]
    capitals = _in_capitals(marking_words)
    if not capitals and line.rstrip()[-1:] in set(_SENTENCE_END):
        return set(), set()
    matches = _window_matches(tokens, _level_phrases() + tuple(caveats))
    cover = _best_cover(tokens, matches, _furniture(tokens, capitals))
    if cover is None or cover.extras > MAX_EXTRA_TOKENS:
        return set(), set()
    return set(cover.levels), set(cover.caveats)


# --- capitals anywhere, portion marks ------------------------------------------------


def _read_capitals(tokens: Sequence[_Token], phrases: Sequence[_Phrase]) -> list[_Phrase]:
    """Distinctive names and caveats written in capitals anywhere in the line."""
    keys = [t.key for t in tokens]
    present = set(keys)
    found = []
    for phrase in phrases:
        if not set(phrase.words) <= present:
            continue
        size = len(phrase.words)
        for start in range(len(tokens) - size + 1):
            window = tokens[start : start + size]
            if tuple(keys[start : start + size]) == phrase.words and all(
                t.text.isupper() for t in window
            ):
                found.append(phrase)
                break
    return found


def _read_portion(
    line: str, caveats: Sequence[_Phrase]
) -> tuple[set[Level], set[str], MarkingKind | None]:
    match = _PORTION.match(line)
    if match is None:
        return set(), set(), None
    found_caveats = {_canonical_caveat(SPECIAL_FRANCE, caveats)} if match["sf"] else set()
    kind: MarkingKind = "weak" if len(match["abbr"]) == 1 and not match["sf"] else "portion"
    return {PORTION_LEVELS[match["abbr"]]}, found_caveats, kind


def _is_title_line(line: str) -> bool:
    return any(word in _SIGNATURE_TITLES for word in fold(line).split())


def _names_a_person(rest: str) -> bool:
    """What follows a mark, up to a comma, a rule or a second signature, is a name or a
    title ("Jean Dupont", "J.-P. DE LA TOUR, maire", "Le greffier", "Audrey Senécal
    ____ Greffière"): a few words, each capitalised, a particle or a title; not a
    sentence ("Le convoi part à l'aube")."""
    head = _SIGNATURE_END.split(_MARK_BESIDE.sub(",", rest))[0]
    words = _WORD.findall(head)
    return 1 <= len(words) <= 6 and all(
        w[0].isupper() or fold(w) in _NAME_PARTICLES | _SIGNATURE_TITLES for w in words
    )


def _is_signature(lines: Sequence[str], at: int) -> bool:
    """Line `at`, a lone one-letter mark, signs: a name or title follows the mark, and a
    title ("Mairesse", "Signé à ...") stands on its line or among the
    `SIGNATURE_REACH` lines of text before or after it (rules "_____" not counted)."""
    line = lines[at]
    match = _PORTION.match(line)
    if match is None or not _names_a_person(line[match.end() :]):
        return False
    near = [line]
    for step in (-1, 1):
        n, taken = at + step, 0
        while 0 <= n < len(lines) and taken < SIGNATURE_REACH:
            if _WORD.search(lines[n]):
                near.append(lines[n])
                taken += 1
            n += step
    return any(_is_title_line(text) for text in near)


# --- lines, pages, documents ---------------------------------------------------------


def _read_line(
    line: str, caveats: Sequence[_Phrase]
) -> tuple[Level | None, frozenset[str], MarkingKind]:
    tokens = _tokens(line)
    levels, found_caveats = _read_banner(line, tokens, caveats)
    for phrase in _read_capitals(tokens, _distinctive_phrases() + tuple(caveats)):
        if phrase.level is not None:
            levels.add(phrase.level)
        if phrase.caveat:
            found_caveats.add(phrase.caveat)
    strong = bool(levels)
    portion_levels, portion_caveats, portion = _read_portion(line, caveats)
    levels |= portion_levels
    found_caveats |= portion_caveats
    kind: MarkingKind = "banner" if strong or portion is None else portion
    if levels:
        return max(levels), frozenset(found_caveats), kind
    if found_caveats:
        return Level.DIFFUSION_RESTREINTE, frozenset(found_caveats), kind
    return None, frozenset(), kind


def read_markings(
    pages: Iterable[tuple[int, str]], known_caveats: Iterable[str] = DEFAULT_CAVEATS
) -> list[Marking]:
    """One `Marking` per line of `pages` ((page number, text) pairs) that carries one;
    a signature line ("(S) Jean Dupont" beside "Le maire") carries none."""
    caveats = _caveat_phrases(known_caveats)
    markings = []
    for page, text in pages:
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            level, found_caveats, kind = _read_line(line, caveats)
            if level is None or (kind == "weak" and _is_signature(lines, number - 1)):
                continue
            evidence = line.strip()[:EVIDENCE_CHARS]
            markings.append(Marking(level, found_caveats, page, evidence, kind, number))
    return markings


# What a speaker says before the marking: "ce document est classé secret défense",
# "this briefing is classified top secret", "niveau de protection : diffusion restreinte".
_SPOKEN_CUE = re.compile(
    r"\b(?:classée?s?|classifiée?s?|classified|classification|marked|niveau(?:\s+de\s+"
    r"protection)?|level|mention)\b\s*(?:[:,-]\s*)?(?:est\s+|is\s+|as\s+|:\s*)?"
    r"(?P<rest>[^.;!?]+)",
    re.IGNORECASE,
)
SPOKEN_MARKING_SECONDS = 60.0  # where a recording says its classification


def read_spoken_markings(
    segments: Iterable[tuple[float, str]],
    known_caveats: Iterable[str] = DEFAULT_CAVEATS,
    within: float = SPOKEN_MARKING_SECONDS,
) -> list[Marking]:
    """Markings spoken in a recording's first `within` seconds ((start, text) segments).

    Speech has no capitals, so each segment is read as if written in capitals: a
    distinctive name ("confidentiel défense", "diffusion restreinte", NATO names) counts
    anywhere, and a segment that is only a marking ("Secret.") is a banner. A bare level
    word inside a sentence counts only after a cue ("classé", "classified", "niveau de
    protection"): "c'est un secret" is not a marking, "document classé secret" is. The
    page of each marking is 1, its evidence the segment."""
    caveats = _caveat_phrases(known_caveats)
    markings = []
    for start, text in segments:
        if start >= within or not text.strip():
            continue
        lines = [text.upper()]
        for cue in _SPOKEN_CUE.finditer(text):  # what follows a cue, read a word at a time
            words = cue["rest"].upper().split()
            lines += [" ".join(words[:n]) for n in range(1, min(len(words), 6) + 1)]
        levels: list[Level] = []
        found: set[str] = set()
        for line in lines:
            level, line_caveats, _ = _read_line(line, caveats)
            if level is not None:
                levels.append(level)
                found |= line_caveats
        if levels:
            evidence = text.strip()[:EVIDENCE_CHARS]
            markings.append(Marking(max(levels), frozenset(found), 1, evidence))
    return markings


@dataclass(frozen=True)
class MarkingReading:
    """What a document's markings say once weighed: the level and caveats they give,
    and the weak marks above that level that did not count, for a person to confirm."""

    level: Level | None
    caveats: frozenset[str]
    to_confirm: tuple[Marking, ...] = ()


def weigh_markings(markings: Iterable[Marking]) -> MarkingReading:
    """The document's level from its markings, weak ones counted only beside a banner
    or among `SEVERAL_PORTIONS` portion-marked paragraphs or more."""
    markings = list(markings)
    portions = {(m.page, m.line) for m in markings if m.kind != "banner"}
    weak_count = any(m.kind == "banner" for m in markings) or len(portions) >= SEVERAL_PORTIONS
    if weak_count:
        return MarkingReading(*_highest(markings))
    level, caveats = _highest(m for m in markings if m.kind != "weak")
    pending = tuple(m for m in markings if m.kind == "weak" and (level is None or m.level > level))
    return MarkingReading(level, caveats, pending)


def document_marking(markings: Iterable[Marking]) -> tuple[Level | None, frozenset[str]]:
    """The level and caveats `weigh_markings` gives (a weak mark alone does not count)."""
    reading = weigh_markings(markings)
    return reading.level, reading.caveats


def _highest(markings: Iterable[Marking]) -> tuple[Level | None, frozenset[str]]:
    """The highest level marked on any page (None if none) and every caveat seen."""
    level: Level | None = None
    caveats: set[str] = set()
    for marking in markings:
        if level is None or marking.level > level:
            level = marking.level
        caveats |= marking.caveats
    return level, frozenset(caveats)
