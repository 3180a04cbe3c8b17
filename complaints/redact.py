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

The writer may also name themselves in the text whatever the fields say
(they may be empty: an anonymous complaint signed anyway). `introduced`
finds the identities a text gives as its writer's own: "nama saya ...",
"saya bernama ...", "my name is ...", "Saya Ahmad bin Ali, ..." or "I am
Rajesh Kumar, ..." at a sentence's start, "my number is ...", "IC saya
...", "emel saya ...", the plate of "kereta saya" or "my van". A name
given after "my boss, " or "ibu saya, " is somebody else's and stays.

Masked text is returned normalised.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

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


def _plate(value: str) -> str | None:
    """A vehicle plate's letter and digit runs with any separators between
    them: "JTQ 5127" is also "JTQ5127" and "jtq-5127"."""
    runs = re.findall(r"[A-Za-z]+|\d+", normalise(value))
    return _START + _SEP.join(map(re.escape, runs)) + _END if runs else None


@functools.lru_cache(maxsize=4096)
def _masker(name: str, id_number: str, phone: str, email: str, plate: str = "") -> Callable[[str], str] | None:
    # At one position the first alternative that matches wins, so the most
    # specific come first: a whole email address, then the name (before an
    # email's local part, which may be the name's first words), then the rest.
    emails = _email(email) if email.strip() else []
    patterns = emails[:1]
    if names := _name(_name_words(name)):
        patterns.append("(?P<name>" + "|".join(names) + ")")
    patterns += [found for number in (id_number, phone) if (found := _number(number)) is not None]
    patterns += [found] if plate and (found := _plate(plate)) else []
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


def redact(text: str, *, name: str = "", id_number: str = "", phone: str = "", email: str = "", plate: str = "") -> str:
    """`text` (normalised) with this complainant's name, ID number, phone,
    email and vehicle plate masked as MASK, in whatever form they are written."""
    masker = _masker(name, id_number, phone, email, plate)
    return text if masker is None else masker(normalise(text))


# A word of a name as written in a self-introduction: capitalised.
_CAPITALISED = r"(?:[A-Z\u00c0-\u00de][\w'\u2019-]*|[A-Z]\.)"
_TITLE = (
    r"(?:(?:Encik|En|Cik|Puan|Pn|Tuan|Mr|Mrs|Ms|Miss|Madam|Dr|Haji|Hj|Hajah|Hjh|Datuk|Dato'?|Datin|Tan Sri|Puan Sri)"
    r"\.?\s+)?"
)


def _given(least: int) -> str:
    """The name itself: `least` + 1 to six capitalised words, maybe with
    connectors between them."""
    return rf"({_CAPITALISED}(?:\s+(?:{_CONNECTOR}\.?\s+|@\s*)?{_CAPITALISED}){{{least},5}})"


_IS = r"\s*(?i:ialah|adalah|is)?\s*[:\-\u2013]?\s*"
_SENTENCE_START = r"(?:^|(?<=[.!?\n])\s*)"
_INTRODUCED_NAME = re.compile(
    "|".join(
        [
            # "nama saya Rahmat", "my name is Rajesh a/l Kumar"
            r"(?i:\b(?:nama\s+(?:saya|aku|sy)|(?:saya|aku)\s+bernama|my\s+name\s+is|my\s+name's|i\s+am\s+called)"
            r"|\b(?:saya|aku)\s+dikenali\s+sebagai)" + _IS + _TITLE + _given(0),
            # "Saya Ahmad bin Ali, guru ...", "Saya, Ahmad bin Ali, ...", "I am Rajesh Kumar, ..."
            _SENTENCE_START + r"(?:Saya|Aku|I\s+am|I'm|I)\s*,?\s+" + _TITLE + _given(1) + r"(?=\s*[,(])",
        ]
    )
)
_NUMBER = r"(\+?\d[\d\s().-]{4,20}\d)"
_INTRODUCED_NUMBER = re.compile(
    r"(?i:\b(?:my|saya)\s+(?:(?:phone|mobile|handphone|hp|contact|tel(?:ephone)?|ic|mykad|nric|identity\s+card)\s+)?"
    r"(?:number|no\b\.?|num\b)"
    r"|\b(?:nombor|no\b\.?|nmbr)\s*(?:telefon|tel|fon|hp|h/p|handphone|ic|kp|kad\s+pengenalan)?\s*saya"
    r"|\b(?:ic|mykad|nric|kad\s+pengenalan)\s+saya|\bmy\s+(?:ic|mykad|nric)"
    r"|\b(?:call|contact|reach|whatsapp)\s+me\s+(?:at|on)|\bhubungi\s+saya\s+(?:di|melalui|pada|ke))" + _IS + _NUMBER
)
_EMAIL = r"([^\s@,;:()<>]+@[^\s@,;:()<>]+\w)"
_INTRODUCED_EMAIL = re.compile(
    r"(?i:\b(?:my|saya)\s+e-?mail(?:\s+address)?|\be-?mel\s+saya|\be-?mail\s+me\s+at)" + _IS + _EMAIL
)
# After a self-introduction, the rest of its sentence ("no." and "tel." end
# none): "My name is ..., IC 910723-14-6677, phone +6019 876 5432, email ...".
_SENTENCE_REST = re.compile(r"[^\n!?]*?(?:(?<!\b[Nn]o)(?<!\b[Tt]el)[.!?](?=\s|$)|\n|$)")
_LABELLED_NUMBER = re.compile(
    r"(?i:\b(?:ic|kp|mykad|nric|phone|tel|telefon|hp|h/p|fon|no\b\.?|nombor|number|contact|handphone))\W{0,3}" + _NUMBER
)
_ANY_EMAIL = re.compile(_EMAIL)
# The writer's own vehicle ("Nombor kereta saya JTQ 5127", "Kereta saya Bezza
# warna kelabu, VHK 2271", "Lori I (KDF 3308)", "My van is WKN 6639") and its
# plate later in the clause: one to three capitals, a number, maybe a letter,
# but not an amount, a kilometre or a lot ("RM 200", "KM 12").
_OWN_VEHICLE = re.compile(
    r"(?i:\b(?:kereta|motosikal|motor|lori|van|kenderaan|teksi|bas)\s+(?:saya|aku|I)\b"
    r"|\bmy\s+(?:car|vehicle|motorcycle|motorbike|lorry|truck|van|bike|taxi)\b)"
    r"[^.!?\n]{0,40}?(?<![A-Za-z])(?!(?:RM|KM|MYR|NO|PT|LOT|KP|IC|JLN)\b)([A-Z]{1,3}\s?\d{1,4}(?:\s?[A-Z])?)\b"
)


def introduced(texts: Iterable[str]) -> list[dict[str, str]]:
    """The identities the texts give as their writer's own, each as the
    keyword arguments of `redact`."""
    out: list[dict[str, str]] = []
    for text in map(normalise, texts):
        for m in _INTRODUCED_NAME.finditer(text):
            out.append({"name": next(g for g in m.groups() if g)})
            rest = _SENTENCE_REST.match(text, m.end())
            tail = rest.group() if rest else ""
            out += [{"phone": n.group(1)} for n in _LABELLED_NUMBER.finditer(tail)]
            out += [{"email": e.group(1)} for e in _ANY_EMAIL.finditer(tail)]
        out += [{"phone": m.group(1)} for m in _INTRODUCED_NUMBER.finditer(text)]
        out += [{"email": m.group(1)} for m in _INTRODUCED_EMAIL.finditer(text)]
        out += [{"plate": m.group(1)} for m in _OWN_VEHICLE.finditer(text)]
    return out


def redact_all(text: str, identities: Iterable[Mapping[str, str]]) -> str:
    """`text` with each of these identities (`redact`'s keyword arguments)
    masked, those with an email address first: a name's words with an
    initial may match inside an address ("rajesh.k@..." is "Rajesh K.")."""
    for identity in sorted(identities, key=lambda i: not i.get("email")):
        text = redact(text, **identity)
    return text
