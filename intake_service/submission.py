"""A complaint as submitted, and the rules it must meet before it is stored
that intake.proto cannot declare: limits that are settings, rules across
fields, dates that must exist, types detected from content."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from complaints.constants import TIMEZONE
from complaints.errors import InvalidArgument, TooLarge
from complaints.redact import introduced, redact_all
from intake_service.settings import Limits


@dataclass
class Document:
    filename: str
    declared_type: str
    content: bytes
    detected_type: str = ""
    sha256: str = ""


@dataclass
class Submission:
    idempotency_key: str
    source_system: str
    channel: str
    subject: str
    description: str
    incident_date: str
    location: str
    name: str
    id_number: str
    phone: str
    email: str
    anonymous: bool
    documents: list[Document] = field(default_factory=list)
    # sha256 of the request as received, to tell a true repeat from a reused key.
    fingerprint: bytes = b""

    def masked(self, text: str) -> str:
        """`text` with this complainant's own identity masked: the fields',
        and any the subject or description gives as the writer's own (an
        anonymous complaint signed in its text; redact.introduced)."""
        return redact_all(text, self._identities)

    @functools.cached_property
    def _identities(self) -> list[dict[str, str]]:
        fields = {"name": self.name, "id_number": self.id_number, "phone": self.phone, "email": self.email}
        return [fields, *introduced([self.subject, self.description])]

    @property
    def source(self) -> str:
        """source_system as stored: masked, since analytics shows it. The
        idempotency key is scoped by this value."""
        return self.masked(self.source_system)

    @property
    def incident(self) -> dt.date | None:
        return dt.date.fromisoformat(self.incident_date) if self.incident_date else None


# How HTML begins (the WHATWG MIME sniffing standard's list), after any
# whitespace, in any case, followed by a space or ">".
_HTML_STARTS = (
    "<!doctype html",
    "<html",
    "<head",
    "<script",
    "<iframe",
    "<h1",
    "<div",
    "<font",
    "<table",
    "<a",
    "<style",
    "<title",
    "<b",
    "<body",
    "<br",
    "<p",
    "<!--",
)


def _markup_type(text: str) -> str | None:
    """HTML or SVG by how the text begins: stored as what it is (its text is
    read, it is never rendered), not as plain text."""
    head = text[:1024].lstrip("\ufeff \t\r\n").lower()
    if head.startswith("<svg") or (head.startswith("<?xml") and "<svg" in head):
        return "image/svg+xml"
    for start in _HTML_STARTS:
        if head.startswith(start) and head[len(start) : len(start) + 1] in (" ", ">", "\t", "\n", "\r"):
            return "text/html"
    return None


def detect_type(content: bytes) -> str | None:
    """The document type from its first bytes, never from its name."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    if printable < 0.95 * len(text):
        return None
    return _markup_type(text) or "text/plain"


def _text(violations: list[tuple[str, str]], name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        violations.append((name, f"is {len(value)} characters; at most {limit} are allowed"))
    if "\x00" in value:
        violations.append((name, "must not contain NUL characters"))


def validate(
    sub: Submission, limits: Limits, declared: Iterable[tuple[str, str]] = (), today: dt.date | None = None
) -> None:
    """Raises InvalidArgument (or TooLarge for size limits) naming every bad
    field: those of `declared` (the proto's rules, checked by the caller) and
    those found here, once per field."""
    found = list(declared)
    at_fault = {name for name, _ in found}
    bad: list[tuple[str, str]] = []
    too_large: list[tuple[str, str]] = []
    _text(bad, "idempotency_key", sub.idempotency_key, limits.max_field_chars)
    _text(bad, "source_system", sub.source_system, limits.max_field_chars)
    _text(bad, "channel", sub.channel, limits.max_field_chars)
    _text(bad, "subject", sub.subject, limits.max_subject_chars)
    _text(bad, "description", sub.description, limits.max_description_chars)
    _text(bad, "location", sub.location, limits.max_subject_chars)
    _text(bad, "complainant.name", sub.name, limits.max_field_chars)
    if sub.anonymous and (sub.name or sub.id_number or sub.phone or sub.email):
        bad.append(("complainant.anonymous", "is true, so name, id_number, phone and email must be empty"))
    if sub.incident_date and "incident_date" not in at_fault:
        try:
            when = dt.date.fromisoformat(sub.incident_date)
        except ValueError:
            bad.append(("incident_date", "is not a date that exists"))
        else:
            if when > (today or dt.datetime.now(TIMEZONE).date()):
                bad.append(("incident_date", "must not be in the future"))

    if len(sub.documents) > limits.max_documents:
        too_large.append(
            ("documents", f"has {len(sub.documents)} documents; at most {limits.max_documents} are allowed")
        )
    total = 0
    for i, doc in enumerate(sub.documents):
        where = f"documents[{i}]"
        total += len(doc.content)
        _text(bad, f"{where}.filename", doc.filename, 255)
        _text(bad, f"{where}.content_type", doc.declared_type, limits.max_field_chars)
        if not doc.content:
            continue  # a declared rule: content is required
        if len(doc.content) > limits.max_document_bytes:
            too_large.append(
                (f"{where}.content", f"is {len(doc.content)} bytes; at most {limits.max_document_bytes} are allowed")
            )
        else:
            detected = detect_type(doc.content)
            if detected is None:
                bad.append(
                    (
                        f"{where}.content",
                        "is not a PDF, PNG, JPEG, TIFF or UTF-8 text, HTML or SVG file (checked by content, not name)",
                    )
                )
            else:
                doc.detected_type = detected
                doc.sha256 = hashlib.sha256(doc.content).hexdigest()
    if total > limits.max_total_document_bytes:
        too_large.append(
            ("documents", f"total {total} bytes; at most {limits.max_total_document_bytes} are allowed per complaint")
        )

    bad = found + [(name, what) for name, what in bad if name not in at_fault]
    if too_large:
        raise TooLarge(too_large + bad)
    if bad:
        raise InvalidArgument(bad)
