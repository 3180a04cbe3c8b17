"""Masks the complainant's own identity in text: intake masks the fields the
analytics role may read (location, document file names) as it stores them,
and the pipeline masks subject, description and evidence before any
analysis, so identity never reaches an LLM prompt, an entity, a summary or
an analytics answer."""
from __future__ import annotations

import re

MASK = "[PELAPOR]"


def _digits_pattern(value: str) -> str:
    # Matches the digits however they were spaced or dashed in the text, and a
    # Malaysian number with or without its +60 country code.
    digits = re.sub(r"\D", "", value)
    if digits.startswith("60"):
        digits = digits[1:]
    body = r"[\s-]?".join(re.escape(d) for d in digits)
    return r"(?:\+?6[\s-]?)?" + body if digits.startswith("0") else body


def redact(text: str, *, name: str = "", id_number: str = "", phone: str = "", email: str = "") -> str:
    patterns = []
    if name.strip():
        patterns.append(r"\s+".join(re.escape(part) for part in name.split()))
    if email.strip():
        patterns.append(re.escape(email.strip()))
    for number in (id_number, phone):
        if len(re.sub(r"\D", "", number)) >= 6:
            patterns.append(_digits_pattern(number))
    if not patterns:
        return text
    return re.sub("|".join(f"(?:{p})" for p in patterns), MASK, text, flags=re.IGNORECASE)
