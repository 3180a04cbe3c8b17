"""Text out of evidence documents. CPU-bound: callers run it in a thread.

A corrupt or encrypted document gives an extraction error for that document;
it never fails the complaint.
"""
from __future__ import annotations

import io
import logging
import shutil
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_PDF_PAGES = 200


@dataclass
class Extracted:
    status: str  # extracted, not_extracted, error
    text: str = ""
    error: str = ""


def _pdf(content: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            return Extracted("error", error="PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        return Extracted("error", error=f"unreadable PDF: {exc}"[:300])
    text = "\n".join(p.strip() for p in pages if p.strip())
    if not text:
        return Extracted("not_extracted", error="PDF has no text layer (scanned pages are not OCRed yet)")
    return Extracted("extracted", text)


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def _image(content: bytes) -> Extracted:
    if not ocr_available():
        return Extracted("not_extracted", error="no OCR engine installed (tesseract)")
    try:
        import pytesseract
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return Extracted("not_extracted", error="pytesseract or Pillow is not installed")
    try:
        with Image.open(io.BytesIO(content)) as image:
            text = pytesseract.image_to_string(image, lang="msa+eng")
    except (UnidentifiedImageError, OSError, pytesseract.TesseractError) as exc:
        return Extracted("error", error=f"unreadable image: {exc}"[:300])
    text = text.strip()
    return Extracted("extracted", text) if text else Extracted("not_extracted", error="OCR found no text")


def extract(detected_type: str, content: bytes) -> Extracted:
    try:
        if detected_type == "application/pdf":
            return _pdf(content)
        if detected_type.startswith("image/"):
            return _image(content)
        if detected_type == "text/plain":
            return Extracted("extracted", content.decode("utf-8", errors="replace"))
        return Extracted("not_extracted", error=f"no extractor for {detected_type}")
    except Exception as exc:  # a document must never fail the complaint
        log.warning("extraction failed", extra={"fields": {"type": detected_type, "error": repr(exc)[:200]}})
        return Extracted("error", error=f"extraction failed: {exc}"[:300])
