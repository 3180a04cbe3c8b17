"""The short forms people type in Malay, English and code-mixed complaints
("x nak", "dgn", "yg", "utk", "sbb", "pls", "betul2"), written out as the
corpus mostly spells them, so a cue word or a word n-gram learnt from one
spelling also counts for the other. Applied to the text the classifier's cue
and TF-IDF features read (model.py), never to what is stored or embedded."""

from __future__ import annotations

import re

# Each short form and the spelling the labelled corpus mostly uses for it
# (colloquial where the corpus is: "tak", not "tidak"). Forms that are
# also common words of their own ("dr" for Dr, "cam" for camera) are left out.
SHORT_FORMS: dict[str, str] = {
    "x": "tak",
    "tk": "tak",
    "yg": "yang",
    "dgn": "dengan",
    "dng": "dengan",
    "utk": "untuk",
    "sbb": "sebab",
    "org": "orang",
    "sy": "saya",
    "kt": "kat",
    "dkt": "dekat",
    "dpt": "dapat",
    "blh": "boleh",
    "bleh": "boleh",
    "bg": "bagi",
    "tgk": "tengok",
    "jgn": "jangan",
    "mcm": "macam",
    "tp": "tapi",
    "tpi": "tapi",
    "sbg": "sebagai",
    "mmg": "memang",
    "bkn": "bukan",
    "dlm": "dalam",
    "ckp": "cakap",
    "krn": "kerana",
    "byr": "bayar",
    "skrg": "sekarang",
    "lps": "lepas",
    "kpd": "kepada",
    "tlg": "tolong",
    "nk": "nak",
    "dh": "dah",
    "lg": "lagi",
    "thn": "tahun",
    "bln": "bulan",
    "pgw": "pegawai",
    "mintak": "minta",
    "jer": "je",
    "sume": "semua",
    "smua": "semua",
    "pastu": "lepas tu",
    "camtu": "macam tu",
    "u": "you",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "govt": "government",
    "dept": "department",
    "b4": "before",
    "thru": "through",
    "bcoz": "because",
    "bcos": "because",
    "coz": "because",
    "cuz": "because",
    "abt": "about",
    "ppl": "people",
    "msg": "message",
}

# A whole word, not part of a hyphenated or dotted one ("x-ray", "u.s."), an
# e-mail address or a contraction.
_SHORT = re.compile(
    r"(?<![\w.'’-])(" + "|".join(sorted(map(re.escape, SHORT_FORMS), key=len, reverse=True)) + r")(?![\w@'’-]|\.\w)"
)
# "betul2" is "betul-betul"; three letters at least, so "rm2" stays an amount.
_DOUBLED = re.compile(r"\b([a-z]{3,})2\b")
# "x" is "tak" before a word ("x nak"), a product before or after a number
# ("850 pelajar x RM45", "2 x 3").
_BEFORE_WORD = re.compile(r"\s+[a-z]+\b")


def normalise(text: str) -> str:
    """The text in lower case with its short forms written out."""
    lowered = _DOUBLED.sub(r"\1 \1", text.lower())

    def written_out(m: re.Match[str]) -> str:
        form = m.group(1)
        if form == "x" and (not _BEFORE_WORD.match(lowered, m.end()) or lowered[: m.start()].rstrip()[-1:].isdigit()):
            return form
        return SHORT_FORMS[form]

    return _SHORT.sub(written_out, lowered)
