"""Text out of evidence documents. CPU-bound: callers run it in a thread.

Text PDFs through pypdf; images through Tesseract (Malay and English) with its
mean word confidence, which tells a clean page (~90) from an unreadable photo
(~40) so the caller may send the latter to a vision model; HTML and SVG as the
text between their tags, never rendered (no script, style, link or image is
followed). A corrupt or encrypted document gives an extraction error for that
document; it never fails the complaint.

An error is stored where the analytics role reads it, so it is a fixed
message naming the exception's type, never the exception's own text (which
may quote object reprs with memory addresses, or the document's bytes).
"""

from __future__ import annotations

import html.parser
import io
import logging
import os
import shutil
from dataclasses import dataclass

# One OpenMP thread per Tesseract run: with several pages in flight, more
# threads only fight over two cores (a page drops from ~5 s to ~1.4 s).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

log = logging.getLogger(__name__)

MAX_PDF_PAGES = 200
MAX_IMAGE_FRAMES = 20
OCR_TIMEOUT_SECONDS = 120
OCR_LANGUAGES = "msa+eng"
# Markup whose text is read, never rendered; an SVG is not an image to OCR.
MARKUP_TYPES = ("text/html", "image/svg+xml")


@dataclass
class Extracted:
    status: str  # extracted, not_extracted, error
    text: str = ""
    error: str = ""
    method: str = ""  # pdf, ocr, vision, text
    confidence: float | None = None  # OCR's mean word confidence, 0-100


def _pdf(content: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            return Extracted("error", error="PDF is encrypted", method="pdf")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        return Extracted("error", error=f"unreadable PDF ({type(exc).__name__})", method="pdf")
    text = "\n".join(p.strip() for p in pages if p.strip())
    if not text:
        return Extracted("not_extracted", error="PDF has no text layer (scanned pages are not OCRed yet)", method="pdf")
    return Extracted("extracted", text, method="pdf")


def ocr_available(tesseract: str = "tesseract") -> bool:
    return shutil.which(tesseract) is not None


def _ocr_frame(image, tesseract: str) -> tuple[str, list[float]]:
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract
    data = pytesseract.image_to_data(
        image.convert("RGB"), lang=OCR_LANGUAGES, timeout=OCR_TIMEOUT_SECONDS, output_type=pytesseract.Output.DICT
    )
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if word.strip() and conf >= 0:
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(word)
            confidences.append(conf)
    return "\n".join(" ".join(words) for words in lines.values()), confidences


def _image(content: bytes, tesseract: str) -> Extracted:
    if not ocr_available(tesseract):
        return Extracted("not_extracted", error="no OCR engine installed (tesseract)", method="ocr")
    import pytesseract
    from PIL import Image, ImageSequence, UnidentifiedImageError

    texts: list[str] = []
    confidences: list[float] = []
    try:
        with Image.open(io.BytesIO(content)) as image:
            for frame in ImageSequence.Iterator(image):
                if len(texts) >= MAX_IMAGE_FRAMES:
                    break
                text, conf = _ocr_frame(frame, tesseract)
                texts.append(text)
                confidences += conf
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        pytesseract.TesseractError,
        RuntimeError,
    ) as exc:
        return Extracted("error", error=f"unreadable image ({type(exc).__name__})", method="ocr")
    text = "\n".join(t for t in texts if t.strip())
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    if not text:
        return Extracted("not_extracted", error="OCR found no text", method="ocr", confidence=confidence)
    return Extracted("extracted", text, method="ocr", confidence=confidence)


class _Text(html.parser.HTMLParser):
    """The text of HTML or SVG markup, without what a browser would run or style."""

    SKIPPED = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def _markup(content: bytes) -> Extracted:
    parser = _Text()
    parser.feed(content.decode("utf-8", errors="replace"))
    parser.close()
    text = "\n".join(parser.parts)
    if not text:
        return Extracted("not_extracted", error="no text between the tags", method="markup")
    return Extracted("extracted", text, method="markup")


def extract(detected_type: str, content: bytes, tesseract: str = "tesseract") -> Extracted:
    try:
        if detected_type == "application/pdf":
            return _pdf(content)
        if detected_type in MARKUP_TYPES:
            return _markup(content)
        if detected_type.startswith("image/"):
            return _image(content, tesseract)
        if detected_type == "text/plain":
            return Extracted("extracted", content.decode("utf-8", errors="replace"), method="text")
        return Extracted("not_extracted", error=f"no extractor for {detected_type}")
    except Exception as exc:  # a document must never fail the complaint
        log.warning("extraction failed", extra={"fields": {"type": detected_type, "error": type(exc).__name__}})
        return Extracted("error", error=f"extraction failed ({type(exc).__name__})")
