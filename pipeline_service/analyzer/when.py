"""When a complaint says something happened, as keys two reports of one
incident written in different languages have in common: the day of the week
("Sabtu", "Saturday", "Sat 14/3", or a full date's) and the hour of the clock
("11pm", "jam 11 malam", "pukul 11.40 malam", "2330hrs": 23). An hour said
without the part of the day ("pukul 7") is both its morning and its evening one.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Iterable

_WEEKDAYS = {
    "isnin": 0,
    "monday": 0,
    "mon": 0,
    "selasa": 1,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "rabu": 2,
    "wednesday": 2,
    "wed": 2,
    "khamis": 3,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "jumaat": 4,
    "jumat": 4,
    "friday": 4,
    "fri": 4,
    "sabtu": 5,
    "saturday": 5,
    "sat": 5,
    "ahad": 6,
    "sunday": 6,
    "sun": 6,
}
_WEEKDAY = re.compile(
    r"\b(isnin|selasa|rabu|khamis|jumaat|jumat|sabtu|ahad|(?:mon|tues|wednes|thurs|fri|satur|sun)day)s?\b", re.I
)
# Abbreviations are words too ("sat", "sun"): a day only capitalised and
# before a date or a part of the day ("Sat 14/3", "Fri night").
_WEEKDAY_SHORT = re.compile(
    r"\b(Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)\b\.?(?=,?\s*(?:\d|night|morning|afternoon|evening|malam|pagi|petang))"
)

# "11pm", "9.15 p.m.", "5.30am"
_TWELVE = re.compile(r"\b(1[0-2]|0?[1-9])(?:[.:][0-5]\d)?\s?([ap])\.?m\b\.?", re.I)
# "jam 11 malam", "pukul 10.40 malam", "pkl 3 petang", "pukul 12.30" (no part of the day)
_MALAY = re.compile(
    r"\b(?:jam|pukul|pkl)\s+(2[0-3]|1\d|0?\d)(?:[.:][0-5]\d)?(?:\s+lebih)?"
    r"(?:\s+(pagi|subuh|tengah\s?hari|petang|senja|malam|tengah\s?malam))?\b",
    re.I,
)
# "2330hrs", "23:30", "0700 hours"
_TWENTY_FOUR = re.compile(r"\b(2[0-3]|[01]\d)[:.]?[0-5]\d\s?(?:hrs?|hours|h)\b|\b(2[0-3]|1[3-9]):[0-5]\d\b", re.I)
# Hours a Malay part of the day adds to the 12-hour clock's.
_PART = {"pagi": 0, "subuh": 0, "tengahhari": 12, "petang": 12, "senja": 12, "malam": 12, "tengahmalam": 0}


def weekdays(text: str, dates: Iterable[str] = ()) -> set[int]:
    """The days of the week a text names (0 Monday), and those of its full
    dates (`dates`: ISO 8601, "2026-03-14"; those without a year say none)."""
    out = {_WEEKDAYS[m[1].lower()] for m in _WEEKDAY.finditer(text)}
    out |= {_WEEKDAYS[m[1].lower()] for m in _WEEKDAY_SHORT.finditer(text)}
    for date in dates:
        if m := re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", date):
            with contextlib.suppress(ValueError):  # a day its month does not have
                out.add(datetime.date(int(m[1]), int(m[2]), int(m[3])).weekday())
    return out


def hours(text: str) -> set[int]:
    """The hours (0-23) of the times a text tells."""
    out = {int(m[1]) % 12 + (12 if m[2].lower() == "p" else 0) for m in _TWELVE.finditer(text)}
    for m in _MALAY.finditer(text):
        hour, part = int(m[1]), re.sub(r"\s", "", (m[2] or "").lower())
        if hour > 12:
            out.add(hour)
        elif part:  # "12 malam" is midnight, "12 tengah hari" noon
            out.add(0 if (hour, part) == (12, "malam") else hour % 12 + _PART[part])
        else:
            out |= {hour % 12, hour % 12 + 12}
    out |= {int(m[1] or m[2]) for m in _TWENTY_FOUR.finditer(text)}
    return out
