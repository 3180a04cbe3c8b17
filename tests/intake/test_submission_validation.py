"""Validation of a submission before anything is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from complaints.errors import InvalidArgument, TooLarge
from intake_service.settings import Limits
from intake_service.submission import Document, Submission, detect_type, validate

LIMITS = Limits(
    max_documents=2,
    max_document_bytes=100,
    max_total_document_bytes=150,
    max_description_chars=50,
    max_subject_chars=20,
    max_field_chars=20,
)


def sub(**overrides) -> Submission:
    fields: dict[str, Any] = dict(
        idempotency_key="k1",
        source_system="s",
        channel="web",
        subject="subj",
        description="desc",
        incident_date="",
        location="",
        name="",
        id_number="",
        phone="",
        email="",
        anonymous=False,
    )
    fields.update(overrides)
    return Submission(**fields)


def violations(s: Submission) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        validate(s, LIMITS, today=dt.date(2026, 6, 1))
    return dict(caught.value.violations)


def test_a_good_submission_passes():
    validate(
        sub(id_number="850101-14-5678", phone="+60 12-345 6789", email="a@b.my", incident_date="2026-05-31"),
        LIMITS,
        today=dt.date(2026, 6, 1),
    )


# Formats and required fields are declared in intake.proto (tests/intake/test_declared_rules.py);
# these are the rules that need settings, other fields or the calendar.
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": "x" * 51}, "description"),
        ({"subject": "nul\x00byte"}, "subject"),
        ({"incident_date": "2026-06-02"}, "incident_date"),
        ({"incident_date": "2026-02-30"}, "incident_date"),
        ({"anonymous": True, "name": "Ali"}, "complainant.anonymous"),
    ],
)
def test_each_bad_field_is_named(overrides, field):
    assert field in violations(sub(**overrides))


def test_every_bad_field_is_reported_at_once_with_the_declared_ones_once_each():
    declared = [("complainant.email", "must be an email address"), ("incident_date", "must be a date as YYYY-MM-DD")]
    with pytest.raises(InvalidArgument) as caught:
        validate(
            sub(description="x" * 51, incident_date="15/01/2026", email="x"),
            LIMITS,
            declared,
            today=dt.date(2026, 6, 1),
        )
    assert [f for f, _ in caught.value.violations] == ["complainant.email", "incident_date", "description"]


def test_size_limits_are_resource_exhausted():
    with pytest.raises(TooLarge) as caught:
        validate(sub(documents=[Document("a.txt", "text/plain", b"x" * 101)]), LIMITS)
    assert "documents[0].content" in dict(caught.value.violations)
    with pytest.raises(TooLarge):
        validate(sub(documents=[Document(f"{i}.txt", "", b"x") for i in range(3)]), LIMITS)
    with pytest.raises(TooLarge):
        validate(sub(documents=[Document("a.txt", "", b"x" * 80), Document("b.txt", "", b"x" * 80)]), LIMITS)


def test_document_type_comes_from_content_not_name():
    assert detect_type(b"%PDF-1.7\n...") == "application/pdf"
    assert detect_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert detect_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert detect_type(b"II*\x00....") == "image/tiff"
    assert detect_type(b"Surat aduan biasa") == "text/plain"
    assert detect_type(b"MZ\x90\x00\x03\x00\x00\x00") is None
    # Markup is what it is, not plain text: its text is read, it is never rendered.
    assert detect_type(b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>") == "image/svg+xml"
    assert detect_type(b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg><text>x</text></svg>') == "image/svg+xml"
    assert detect_type(b"  <!DOCTYPE HTML>\n<html><body>x</body></html>") == "text/html"
    assert detect_type(b"<p>Surat</p>") == "text/html"
    assert detect_type(b"<pelapor> 3 < 4") == "text/plain"
    doc = Document("evidence.pdf", "application/pdf", b"plain words, not a pdf")
    validate(sub(documents=[doc]), LIMITS)
    assert doc.detected_type == "text/plain"
    assert len(doc.sha256) == 64
