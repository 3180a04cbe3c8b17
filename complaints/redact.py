"""Masks the complainant's own identity in text: intake masks the fields the
analytics role may read (source system, channel, location, document file
names) as it stores them, and the pipeline masks subject, description and
evidence before any analysis, so identity never reaches an LLM prompt, an
entity, a summary or an analytics answer.

Identity is written in many forms, so the text is normalised first (Unicode
NFKC, so full-width and other compatibility forms become plain letters and
digits; format characters such as zero-width spaces dropped; every script's
digits as ASCII), and then matched loosely:

- ID and phone numbers: the digits with any run of separators between them
  (spaces, dashes, dots, brackets), a phone with or without +60 or its 0;
- email: the address with its dots and @ spelt out ("siti dot whistle [at]
  example.com") or spaced, and its local part alone when it is distinctive;
- name: two or more of its words in their order, each whole or as an initial
  ("S." counts, but not only initials), with any separators between them (a
  line break, "_" in a file name) and with or without a patronymic connector
  (bin, binti, bt, bte, b., a/l, a/p, s/o, d/o, anak), in any case. One word
  of a longer name on its own is not masked: it would also mask everyone
  else who shares it (an accused "Ali" when the complainant is "Ali bin Abu").

Masked text is returned normalised.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

MASK = "[PELAPOR]"

# Any run of non-alphanumeric characters, between digits or words.
_SEP = r"[\W_]*"
# Not preceded / followed by a letter or digit.
_START, _END = r"(?<![^\W_])", r"(?![^\W_])"
# Patronymic connectors of Malay, Indian and Iban names, and their short forms.
_CONNECTOR = r"(?:binti|binte|bin|bte|bt|bnt|b|anak|ak|a[\W_]*[lp]|[sd][\W_]*o)"
_CONNECTOR_WORD = re.compile(_START + _CONNECTOR + r"\.?" + _END, re.IGNORECASE)
# Between two words of a name: separators, maybe a connector; or nothing
# after an initial's full stop ("S.N. Tarudin").
_NAME_GAP = rf"(?:[\W_]+(?:{_CONNECTOR}[\W_]+)?|(?<=\.))"
# Between parts of an email address: separators, maybe spelt out ("dot").
_EMAIL_DOT = rf"{_SEP}(?:(?:dot|titik|underscore|dash|hyphen){_SEP})?"
_EMAIL_AT = rf"{_SEP}(?:at{_SEP})?"
# A local part at least this long is masked on its own, too.
_DISTINCTIVE_LOCAL_PART = 6
# Fewer digits than this are not an ID or phone number worth matching.
_MIN_DIGITS = 6


def normalise(text: str) -> str:
    """NFKC, without format characters (category Cf: zero-width spaces and
    joiners, soft hyphens, direction marks), every decimal digit as ASCII."""
    if text.isascii():
        return text  # NFKC leaves ASCII alone, and it has no Cf characters
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        kind = unicodedata.category(ch)
        if kind == "Cf":
            continue
        out.append(str(unicodedata.digit(ch)) if kind == "Nd" else ch)
    return "".join(out)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\W_]+", text) if w]


def _number(value: str) -> str | None:
    digits = re.sub(r"\D", "", normalise(value))
    if len(digits) < _MIN_DIGITS:
        return None
    if digits.startswith("60"):
        digits = digits[1:]  # +60 12... is 012... at home
    if not digits.startswith("0"):
        return _SEP.join(digits)
    # With or without the country code, and with or without the trunk 0.
    return rf"(?:(?:\+{_SEP})?6{_SEP})?(?:0{_SEP})?" + _SEP.join(digits[1:])


def _email(value: str) -> list[str]:
    local, _, domain = normalise(value.strip()).rpartition("@")
    local_words, domain_words = _words(local), _words(domain)
    if not local_words:
        return []
    local_pattern = _EMAIL_DOT.join(map(re.escape, local_words))
    found = [_START + local_pattern + _EMAIL_AT + _EMAIL_DOT.join(map(re.escape, domain_words)) + _END]
    if len("".join(local_words)) >= _DISTINCTIVE_LOCAL_PART:
        found.append(_START + local_pattern + _END)
    return found


def _name_words(value: str) -> list[str]:
    return _words(_CONNECTOR_WORD.sub(" ", normalise(value)))


def _name(words: list[str]) -> list[str]:
    if len(words) == 1:
        return [_START + re.escape(words[0]) + _END] if len(words[0]) > 1 else []

    def word(w: str) -> str:
        initial = re.escape(w[0]) + r"\.?"
        return initial if len(w) == 1 else f"(?:{re.escape(w)}|{initial})"

    found = []
    # From each word, as many of the words after it as the text has (at least one).
    for i in range(len(words) - 1):
        tail = ""
        for w in reversed(words[i + 2 :]):
            tail = f"(?:{_NAME_GAP}{word(w)}{tail})?"
        found.append(_START + word(words[i]) + _NAME_GAP + word(words[i + 1]) + tail + _END)
    return found


@functools.lru_cache(maxsize=4096)
def _masker(name: str, id_number: str, phone: str, email: str) -> Callable[[str], str] | None:
    # At one position the first alternative that matches wins, so the most
    # specific come first: a whole email address, then the name (before an
    # email's local part, which may be the name's first words), then the rest.
    emails = _email(email) if email.strip() else []
    patterns = emails[:1]
    if names := _name(_name_words(name)):
        patterns.append("(?P<name>" + "|".join(names) + ")")
    patterns += [found for number in (id_number, phone) if (found := _number(number)) is not None]
    patterns += emails[1:]
    if not patterns:
        return None
    compiled = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)

    def mask(match: re.Match[str]) -> str:
        # Initials alone ("S. N.") are not the name.
        if match.lastgroup == "name" and all(len(w) == 1 for w in _words(match.group())):
            return match.group()
        return MASK

    return lambda text: compiled.sub(mask, text)


def redact(text: str, *, name: str = "", id_number: str = "", phone: str = "", email: str = "") -> str:
    """`text` (normalised) with this complainant's name, ID number, phone
    and email masked as MASK, in whatever form they are written."""
    masker = _masker(name, id_number, phone, email)
    return text if masker is None else masker(normalise(text))
