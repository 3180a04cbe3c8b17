"""Demo data: realistic Malay and English complaints with PDF and PNG evidence,
written as a JSONL file with an evidence folder, then sent to a running
`make run` over the bulk stream (`make demo`).

    python -m ops.demo                      # 40 complaints into .data/demo, then submit
    python -m ops.demo --count 200 --no-submit

Everything is made here from a seed (names, IC numbers and phones are
invented), so the same seed gives the same complaints, idempotency keys and
evidence bytes (dates count back from a fixed day, the PDFs carry a fixed
creation date), whatever the day: running it twice stores nothing twice.
Several complaints tell of the same incident, in either language, so the
pipeline groups them into cases. Needs fpdf2 (a dev dependency) for the PDFs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# Incident dates count back from this day, not from today: the same seed must
# give the same bytes on any day, or a second run is refused ALREADY_EXISTS.
ANCHOR = dt.date(2026, 1, 31)
PLACES = [
    "Cheras, Kuala Lumpur",
    "Shah Alam, Selangor",
    "Johor Bahru, Johor",
    "Kota Kinabalu, Sabah",
    "Kuching, Sarawak",
    "Ipoh, Perak",
    "George Town, Pulau Pinang",
    "Kuantan, Pahang",
    "Seremban, Negeri Sembilan",
    "Alor Setar, Kedah",
]
OFFICIALS = [
    "Inspektor Rahman",
    "Sarjan Kamal",
    "Encik Azlan",
    "Puan Rosnah",
    "Tuan Haji Ismail",
    "Dato' Seri Halim",
    "Encik Lee Chong Wei",
    "Puan Kavitha",
    "Encik Gopal",
    "Cik Nurul Huda",
]
COMPANIES = [
    "Syarikat Maju Jaya Sdn Bhd",
    "Bina Teguh Enterprise",
    "Teras Gemilang Sdn Bhd",
    "Mega Niaga Resources",
    "Sinar Timur Holdings Sdn Bhd",
    "Cahaya Bumi Construction",
]
FIRST = ["Ahmad", "Siti", "Muhammad", "Nur", "Tan", "Lim", "Wong", "Raj", "Priya", "Farah", "Hafiz", "Mei Ling"]
LAST = ["bin Abdullah", "binti Hassan", "Wei Jie", "Ah Kow", "a/l Muthu", "a/p Rajan", "bin Osman", "binti Yusof"]

# (language, agency, subject, description): {official}, {place}, {amount}, {company}, {date} filled in.
STORIES = [
    (
        "ms",
        "Jabatan Pengangkutan Jalan (JPJ)",
        "Pegawai JPJ meminta rasuah",
        "Pada {date}, {official} dari JPJ di sekatan jalan {place} meminta wang tunai RM{amount} supaya saman "
        "kenderaan saya dibatalkan. Beliau berkata saman tidak akan direkodkan jika saya membayar segera.",
    ),
    (
        "en",
        "Royal Malaysia Police (PDRM)",
        "Police officer asked for money at a roadblock",
        "On {date}, {official} at a police roadblock in {place} demanded RM{amount} in cash to drop a summons. "
        "He said the summons would not be recorded if I paid on the spot.",
    ),
    (
        "ms",
        "Majlis Bandaraya",
        "Lesen perniagaan diluluskan selepas bayaran",
        "{official}, pegawai pelesenan majlis bandaraya di {place}, meminta RM{amount} untuk meluluskan lesen "
        "premis saya dengan cepat. Bayaran dibuat melalui akaun {company} pada {date}.",
    ),
    (
        "en",
        "Public Works Department (JKR)",
        "Road tender awarded to a relative's company",
        "A road repair tender in {place} worth RM{amount} was awarded on {date} to {company}, owned by the brother "
        "of {official}, who sat on the evaluation committee and did not declare the interest.",
    ),
    (
        "ms",
        "Pejabat Tanah dan Galian",
        "Geran tanah dipalsukan",
        "Saya mendapati geran tanah di {place} telah dipindah milik kepada {company} menggunakan dokumen palsu. "
        "{official} di pejabat tanah meluluskan pindah milik itu pada {date} tanpa semakan, dengan bayaran RM{amount}.",
    ),
    (
        "en",
        "Ministry of Health hospital",
        "False claims for medical supplies",
        "{company} submitted invoices of RM{amount} on {date} for medical supplies never delivered to the hospital "
        "in {place}. {official} in procurement certified the delivery.",
    ),
    (
        "ms",
        "Sekolah kerajaan",
        "Wang tabung sekolah diselewengkan",
        "Wang tabung PIBG berjumlah RM{amount} yang diamanahkan kepada {official} di sebuah sekolah di {place} "
        "telah dipindahkan ke akaun peribadi pada {date}. Tiada penyata kewangan dibentangkan.",
    ),
    (
        "en",
        "Inland Revenue Board (LHDN)",
        "Tax officer offered to reduce an assessment",
        "{official}, a tax officer in {place}, offered on {date} to reduce my company's tax assessment if "
        "RM{amount} was paid to {company}, which he said belongs to his associate.",
    ),
    (
        "ms",
        "Jabatan Imigresen",
        "Permit pekerja asing dengan bayaran tambahan",
        "Ejen bernama {official} di {place} menjanjikan permit kerja untuk 20 pekerja asing dengan bayaran "
        "RM{amount} kepada pegawai imigresen melalui {company} pada {date}.",
    ),
    (
        "en",
        "Bank and shell companies",
        "Large transfers through shell companies",
        "Between {date} and now, about RM{amount} moved through {company} and two other shell companies in {place}. "
        "{official} opened the accounts; the money came from a government contract.",
    ),
    (
        "en",
        "City council",
        "Rude counter staff",
        "On {date} the counter staff at the council office in {place} were rude and kept me waiting for three hours. "
        "This is a service complaint, not about money.",
    ),
]


@dataclass(frozen=True)
class Incident:
    story: int
    official: str
    place: str
    amount: int
    company: str
    date: dt.date


def _ic(rng: random.Random) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 40 * 365))
    return f"{born:%y%m%d}-{rng.randrange(1, 15):02d}-{rng.randrange(1000, 9999)}"


def _complainant(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.3:
        return {"anonymous": True}
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return {
        "name": name,
        "id_number": _ic(rng),
        "phone": f"+60 1{rng.randrange(0, 9)}-{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        "email": f"{name.split()[0].lower()}{rng.randrange(10, 99)}@contoh.my",
    }


def _pdf(path: Path, title: str, lines: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    # fpdf2 stamps the current time into the metadata (and the file ID derived from it).
    pdf.set_creation_date(dt.datetime.combine(ANCHOR, dt.time(), dt.UTC))
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 7, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def _png(path: Path, lines: list[str]) -> None:
    """A clean scan of a note or receipt: black text on white, large enough to OCR."""
    font = ImageFont.load_default(size=28)
    image = Image.new("RGB", (1200, 90 + 48 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((50, 45 + 48 * i), line, fill="black", font=font)
    image.save(path, optimize=True)


def generate(count: int, folder: Path, seed: int = 2026) -> Path:
    """Writes `count` complaints to folder/complaints.jsonl and their evidence
    to folder/evidence; returns the JSONL path."""
    rng = random.Random(seed)
    evidence = folder / "evidence"
    evidence.mkdir(parents=True, exist_ok=True)
    incidents = [
        Incident(
            rng.randrange(len(STORIES)),
            rng.choice(OFFICIALS),
            rng.choice(PLACES),
            rng.choice([300, 500, 1500, 5000, 20000, 85000, 250000, 1200000]),
            rng.choice(COMPANIES),
            ANCHOR - dt.timedelta(days=rng.randrange(3, 300)),
        )
        for _ in range(max(1, count * 2 // 3))
    ]
    path = folder / "complaints.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            # A third of the complaints retell an earlier incident: cases to group.
            incident = incidents[n] if n < len(incidents) else rng.choice(incidents)
            _language, agency, subject, template = STORIES[incident.story]
            text = template.format(
                official=incident.official,
                place=incident.place,
                amount=f"{incident.amount:,}",
                company=incident.company,
                date=f"{incident.date:%d/%m/%Y}",
            )
            documents = []
            if rng.random() < 0.5:
                name = f"demo-{seed}-{n:04d}-bukti.pdf"
                _pdf(
                    evidence / name,
                    "RESIT / RECEIPT" if rng.random() < 0.5 else "SURAT ADUAN / LETTER",
                    [
                        f"Agensi / Agency: {agency}",
                        f"Tempat / Place: {incident.place}",
                        f"Jumlah / Amount: RM{incident.amount:,}",
                        f"Penerima / Payee: {incident.company}",
                        f"Tarikh / Date: {incident.date:%d/%m/%Y}",
                        text,
                    ],
                )
                documents.append({"path": f"evidence/{name}", "content_type": "application/pdf"})
            if rng.random() < 0.3:
                name = f"demo-{seed}-{n:04d}-gambar.png"
                _png(
                    evidence / name,
                    [
                        "RESIT BAYARAN",
                        f"Diterima daripada: {incident.company}",
                        f"Jumlah: RM{incident.amount:,}",
                        f"Tarikh: {incident.date:%d/%m/%Y}",
                        f"Tandatangan: {incident.official}",
                    ],
                )
                documents.append({"path": f"evidence/{name}", "content_type": "image/png"})
            complaint = {
                "idempotency_key": f"demo-{seed}-{n:04d}",
                "source_system": "demo",
                "channel": rng.choice(["web", "email", "counter", "hotline"]),
                "complainant": _complainant(rng),
                "subject": subject,
                "description": text,
                "incident_date": incident.date.isoformat(),
                "location": incident.place,
                "documents": documents,
            }
            out.write(json.dumps(complaint, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--folder", type=Path, default=Path(os.environ.get("DATA_DIR", ".data")) / "demo")
    parser.add_argument("--no-submit", action="store_true", help="only write the files")
    args = parser.parse_args(argv)
    path = generate(args.count, args.folder, args.seed)
    print(f"wrote {args.count} complaints to {path}")
    if args.no_submit:
        return 0
    from ops import cli

    return cli.main(["bulk", str(path)])


if __name__ == "__main__":
    sys.exit(main())
