"""Evidence documents the tests make for themselves: text PDFs, an encrypted
PDF, PNG pages with Malay text for OCR, and an unreadable image."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from tests.helpers import pdf_document


def text_pdf(*lines: str) -> bytes:
    return pdf_document("\n".join(lines))


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf("Sulit: senarai bayaran"))))
    writer.encrypt("rahsia", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_png(*lines: str) -> bytes:
    font = ImageFont.load_default(size=36)
    image = Image.new("L", (1400, 90 * len(lines) + 60), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 90 * i), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def noise_png() -> bytes:
    pixels = (np.random.default_rng(7).random((240, 480)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()
