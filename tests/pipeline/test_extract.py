"""Document extraction: text PDFs, OCR of images (Malay and English), the
vision model for unreadable images, HTML and SVG read as text, and bad
documents that must never fail the complaint (nor leave a repr in their
error). Tests make their own PDFs and PNGs."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator

import pytest

from complaints.taxonomy import CATEGORIES
from ops.fake_llm import FakeLLM
from pipeline_service.analyzer.llm import LLMAnalyzer
from pipeline_service.extract import extract, ocr_available
from pipeline_service.settings import LLMSettings
from pipeline_service.stages import Extraction, analyse
from pipeline_service.store import Lease, Work
from tests.data.documents import encrypted_pdf, noise_png, text_pdf, text_png

needs_ocr = pytest.mark.skipif(
    not ocr_available(), reason="tesseract is not installed (make installs it where apt works)"
)


def test_a_text_pdf_is_read_with_the_pdf_library():
    result = extract("application/pdf", text_pdf("Invois INV-2291 kepada JKR", "Jumlah RM48,500.00"))
    assert result.status == "extracted" and result.method == "pdf"
    assert "INV-2291" in result.text and "RM48,500.00" in result.text


def test_corrupt_and_encrypted_pdfs_record_an_error_instead_of_failing():
    whole = text_pdf("Laporan audit dalaman")
    assert extract("application/pdf", whole[: len(whole) // 3]).status == "error"
    assert extract("application/pdf", b"%PDF-1.7\n garbage \x00\xff").status == "error"
    encrypted = extract("application/pdf", encrypted_pdf())
    assert (encrypted.status, encrypted.error) == ("error", "PDF is encrypted")


@needs_ocr
def test_an_image_is_read_by_ocr_in_malay_with_a_confidence():
    result = extract(
        "image/png", text_png("Pegawai kastam meminta rasuah RM5,000", "di pelabuhan Klang pada 12 Mac 2025.")
    )
    assert result.status == "extracted" and result.method == "ocr"
    assert "meminta rasuah RM5,000" in result.text and "12 Mac 2025" in result.text
    assert result.confidence is not None and result.confidence > 80


@needs_ocr
def test_an_unreadable_or_broken_image_is_not_text():
    assert extract("image/png", noise_png()).status == "not_extracted"
    assert extract("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).status == "error"


def test_an_extraction_error_is_a_clean_message_without_reprs_or_addresses():
    # The analytics role reads these. sys.executable stands in for an OCR engine
    # that exists, so the broken image is opened (and refused) before any OCR.
    pdf = extract("application/pdf", b"%PDF-1.7\n garbage \x00\xff").error
    image = extract("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, tesseract=sys.executable).error
    assert image == "unreadable image (UnidentifiedImageError)"
    assert re.fullmatch(r"unreadable PDF \(\w+\)", pdf), pdf


HTML = (
    b"<!DOCTYPE html><html><head><title>Tender JKR</title><script>alert('x')</script><style>p {color: red}"
    b"</style></head><body><p>Kontrak diberi kepada <b>Maju Jaya Sdn Bhd</b> tanpa tender.</p>"
    b"<img src='http://203.0.113.9/track.png'></body></html>"
)
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>fetch("http://203.0.113.9")</script>'
    b'<text x="1" y="10">Resit RM500 kepada pegawai</text></svg>'
)


def test_html_and_svg_are_read_as_the_text_between_their_tags_never_run():
    page, drawing = extract("text/html", HTML), extract("image/svg+xml", SVG)
    assert (page.status, page.method, drawing.status, drawing.method) == ("extracted", "markup", "extracted", "markup")
    assert page.text.splitlines() == ["Tender JKR", "Kontrak diberi kepada", "Maju Jaya Sdn Bhd", "tanpa tender."]
    assert drawing.text == "Resit RM500 kepada pegawai"


async def test_an_svg_never_goes_to_the_vision_model(fake):
    fake.clear()
    analyzer = LLMAnalyzer(llm_settings(fake))
    try:
        outcome = await analyse(
            work([("image/svg+xml", SVG), ("image/svg+xml", b"<svg></svg>")]),
            analyzer,
            Extraction(tesseract="/nonexistent/tesseract"),
        )
    finally:
        await analyzer.close()
    assert [outcome.extracted[i].method for i in (1, 2)] == ["markup", "markup"]
    assert fake.received("image_text") == []


def test_without_tesseract_an_image_is_marked_not_extracted():
    result = extract("image/png", text_png("Resit"), tesseract="/nonexistent/tesseract")
    assert (result.status, result.error) == ("not_extracted", "no OCR engine installed (tesseract)")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def llm_settings(fake: FakeLLM, **changes) -> LLMSettings:
    return fake.settings(
        **{
            "model": "m",
            "api_key": "",
            "retries": 1,
            "breaker_reset_seconds": 30,
            "vision_model": "vision-m",
            "embedding_model": "embed-m",
            **changes,
        }
    )


def work(documents: list[tuple[str, bytes]], **fields) -> Work:
    docs = [
        {"id": i + 1, "ordinal": i, "detected_type": kind, "content": content}
        for i, (kind, content) in enumerate(documents)
    ]
    identity = fields.pop("identity", {"name": "", "id_number": "", "phone": "", "email": ""})
    base = dict(subject="Aduan", description="Pegawai kastam meminta wang.", location="Klang")
    base.update(fields)
    return Work(Lease(uuid.uuid4(), 1, 1), identity=identity, documents=docs, **base)


async def test_an_unreadable_image_goes_to_the_vision_model_and_a_broken_pdf_does_not_fail_the_complaint(fake):
    fake.clear()
    analyzer = LLMAnalyzer(llm_settings(fake))
    try:
        outcome = await analyse(
            work([("image/png", noise_png()), ("application/pdf", b"%PDF-1.4 broken")]),
            analyzer,
            Extraction(tesseract="/nonexistent/tesseract"),
        )
    finally:
        await analyzer.close()
    image, pdf = outcome.extracted[1], outcome.extracted[2]
    assert (image.status, image.method) == ("extracted", "vision")
    assert image.text == "Resit bayaran RM500 kepada pegawai kastam."
    assert pdf.status == "error"
    (vision,) = fake.received("image_text")
    assert any(p["type"] == "image_url" for p in vision.body["messages"][-1]["content"])
    # The transcription is part of what the model reads.
    assert "Resit bayaran RM500" in fake.received("analysis")[0].body["messages"][-1]["content"]
    assert outcome.analysis.category in CATEGORIES


@needs_ocr
async def test_a_clean_page_stays_with_ocr_and_never_reaches_the_vision_model(fake):
    fake.clear()
    analyzer = LLMAnalyzer(llm_settings(fake))
    try:
        outcome = await analyse(
            work([("image/png", text_png("Saman JPJ dibatalkan selepas bayaran RM200"))]), analyzer, Extraction()
        )
    finally:
        await analyzer.close()
    assert outcome.extracted[1].method == "ocr"
    assert fake.received("image_text") == []


async def test_the_complainants_identity_never_reaches_a_prompt(fake):
    fake.clear()
    identity = {
        "name": "Nur Aisyah binti Kamal",
        "id_number": "900214-10-5522",
        "phone": "+60 13-778 2301",
        "email": "aisyah.k@example.my",
    }
    evidence = "Pengadu: Nur Aisyah binti Kamal, IC 900214105522, tel 013-7782301, aisyah.k@example.my"
    analyzer = LLMAnalyzer(llm_settings(fake, vision_model=""))
    try:
        outcome = await analyse(
            work(
                [("text/plain", evidence.encode())],
                subject="Aduan oleh Nur Aisyah binti Kamal",
                description="Saya Nur Aisyah binti Kamal (013-778 2301) melaporkan pegawai polis meminta rasuah RM300.",
                identity=identity,
            ),
            analyzer,
        )
    finally:
        await analyzer.close()
    sent = " ".join(r.text() for r in fake.received())
    assert len(fake.received()) == 2  # the analysis and the embedding
    for secret in ("Aisyah", "900214", "778", "7782301", "aisyah.k@"):
        assert secret not in sent
        assert secret not in outcome.subject + outcome.description + outcome.analysis.summary
    assert "[PELAPOR]" in sent
