"""Tell French from English with a count of frequent function words.

Only the two languages of the archives are told apart, without a model: each
word is looked up in two short lists of words that are frequent in one
language and rare in the other (words shared by both, such as "a", "on",
"plus", are left out). Letters with French diacritics count for French too.
A tie, including text with no telling word at all (numbers, names, a short
title), returns `default`, which is "fr": the archives are mostly French, and
the chunker passes the document's own language as the default for its chunks.
"""

from __future__ import annotations

import re
import unicodedata

FRENCH_WORDS = frozenset(
    """le la les des du de un une et est sont dans pour par sur que qui au aux ce cette ces
    il elle ils nous vous pas ne avec être été était leur leurs sa son ses mais ou où
    entre selon lors dont tout tous toute sans aussi comme peut doit article présent""".split()
)
ENGLISH_WORDS = frozenset(
    """the of and to in is are was were that for with this these those be been by from at
    or which have has had not it its their they will would shall should can may
    an into than there such any all also who whom""".split()
)

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_FRENCH_LETTERS = re.compile(r"[éèêëàâçîïôûùœ]")


def strip_accents(text: str) -> str:
    """The text with its diacritics removed ("Spécial" -> "Special"), case kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def language_scores(text: str) -> tuple[int, int]:
    """(French evidence, English evidence) found in `text`."""
    french = english = 0
    for word in _WORD.findall(text.lower()):
        # "l'article", "d'un", "qu'il": judge the part after the elision.
        if "'" in word or "’" in word:
            head, _, word = word.replace("’", "'").partition("'")
            if head in {"l", "d", "qu", "n", "s", "j", "c", "m", "t"}:
                french += 1
        if word in FRENCH_WORDS:
            french += 1
        elif word in ENGLISH_WORDS:
            english += 1
    french += len(_FRENCH_LETTERS.findall(text.lower()))
    return french, english


def detect_language(text: str, default: str = "fr") -> str:
    """ "fr" or "en", whichever has more evidence; `default` on a tie."""
    french, english = language_scores(text)
    if french == english:
        return default
    return "fr" if french > english else "en"


def confident_language(text: str) -> str | None:
    """ "fr" or "en" when the evidence is one-sided enough to act on, else None.

    Used to keep a query's word matching to passages in its own language; a
    short query with no telling word, or with evidence both ways, gets None.
    """
    french, english = language_scores(text)
    if french >= 1 and french >= 3 * english:
        return "fr"
    if english >= 1 and english >= 3 * french:
        return "en"
    return None


# Frequent words of the other languages a question may come in, rare in French and
# English (words shared with them, such as "de", "a", "in", "die", are left out).
OTHER_WORDS = {
    "German": frozenset(
        "der das und ist nicht ein eine wer wie wo warum welche welcher wurde wurden "
        "hat haben mit auf für von dem den zu im sich auch nach bei".split()
    ),
    "Spanish": frozenset(
        "el los las es y del por con una qué quién cómo cuándo dónde cuál fue hay "
        "está son para sus pero".split()
    ),
    "Italian": frozenset(
        "il gli della dello è chi che cosa quando dove perché sono era nel per con "
        "una della degli".split()
    ),
    "Portuguese": frozenset(
        "o os da do das dos é não em uma quem quando onde porque foi são com para".split()
    ),
    "Dutch": frozenset("het een niet wie wat waar wanneer waarom zijn werd hij zij voor".split()),
}
# Letters French and English do not use, telling one of these languages.
OTHER_LETTERS = {"Spanish": "ñ¿¡áíóú", "German": "ßäöü", "Portuguese": "ãõ"}
# Scripts neither French nor English is written in, by the first code point of a range.
_SCRIPTS = (
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x3040, 0x30FF, "Japanese kana"),
    (0x4E00, 0x9FFF, "Chinese characters"),
    (0xAC00, 0xD7AF, "Hangul"),
)


def _script(character: str) -> str | None:
    point = ord(character)
    return next((name for low, high, name in _SCRIPTS if low <= point <= high), None)


def unserved_language(text: str) -> str | None:
    """The language or script a question is written in when it is neither French nor
    English, else None. A question with no telling word (names, numbers) is served."""
    letters = [c for c in text if c.isalpha()]
    scripts: dict[str, int] = {}
    for character in letters:
        if (name := _script(character)) is not None:
            scripts[name] = scripts.get(name, 0) + 1
    if letters and scripts and sum(scripts.values()) > len(letters) / 2:
        return max(scripts, key=scripts.__getitem__) + " script"
    words = [w.replace("’", "'").split("'")[-1] for w in _WORD.findall(text.lower())]
    french, english = language_scores(text)
    lowered = text.lower()
    for name, vocabulary in OTHER_WORDS.items():
        told = sum(w in vocabulary for w in words)  # names with such letters are not enough
        count = told + sum(lowered.count(letter) for letter in OTHER_LETTERS.get(name, ""))
        if told and count >= 2 and count > french + english:
            return name
    return None
