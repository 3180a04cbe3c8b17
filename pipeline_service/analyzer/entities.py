"""Rule and gazetteer extraction of Malaysian entities from complaint text."""
from __future__ import annotations

import re

from pipeline_service.analyzer import Entity

_IC = re.compile(r"\b(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))-(\d{2})-(\d{4})\b")
_PHONE = re.compile(r"(?<![\d-])(?:\+?60|0)(?:1\d[-\s]?\d{3,4}[-\s]?\d{4}|[3-9][-\s]?\d{3,4}[-\s]?\d{4})(?![\d-])")
_AMOUNT = re.compile(
    r"\bRM\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(juta|million|ribu|bilion|billion|k)\b)?",
    re.IGNORECASE,
)
_MONTHS = (
    "Januari|Februari|Mac|April|Mei|Jun|Julai|Ogos|September|Oktober|November|Disember|"
    "January|February|March|May|June|July|August|October|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Ogo|Sep|Sept|Oct|Okt|Nov|Dec|Dis"
)
_DATE = re.compile(
    rf"\b(\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}\s+(?:{_MONTHS})\.?\s+\d{{4}})\b",
    re.IGNORECASE,
)
# Peninsular, Sabah/Sarawak and Putrajaya prefixes, then 1-4 digits, then an
# optional suffix letter: "WXY 1234", "BKA 5678 C", "QAA 123".
_PLATE = re.compile(r"\b((?:[ABCDFJKMNPRTVW][A-HJ-NP-Y]{0,2}|Q[A-Z]{1,2}|S[A-Z]{1,2}|PUTRAJAYA)\s?\d{1,4}(?:\s?[A-HJ-NP-Z])?)\b")
_COMPANY = re.compile(
    r"\b((?:[A-Z][\w&'.-]*\s+){0,5}?[A-Z][\w&'.-]*\s+(?:Sdn\.?\s*Bhd\.?|Berhad|Bhd\.?|Enterprise|Holdings|Trading|Resources))(?=\W|$)"
)
_HONORIFIC = (
    r"Tan Sri|Puan Sri|Toh Puan|Dato'?\s?Sri|Datuk Seri|Dato'|Dato’|Datuk|Datin|Dato|Tun|Tengku|"
    r"Encik|En\.|Puan|Pn\.|Cik|Tuan|Haji|Hajah|Hj\.|Dr\.|Ir\.|Inspektor|Insp\.|Sarjan|Sjn\.|Koperal|Kpl\.|"
    r"ASP|DSP|ACP|Mr\.?|Mrs\.?|Ms\.?|Madam"
)
_PERSON = re.compile(
    rf"\b(?:{_HONORIFIC})\s+((?:[A-Z][a-zA-Z'’@-]+)(?:\s+(?:bin|binti|bt\.?|bn\.?|a/l|a/p|anak|[A-Z][a-zA-Z'’@-]+)){{0,4}})"
)
_NOT_A_PLATE = {"RM", "MACC", "SPRM", "PDRM", "JPJ", "JKR", "LHDN"}

# Malaysian public bodies: canonical name -> ways complaints write it.
AGENCIES: dict[str, tuple[str, ...]] = {
    "Polis Diraja Malaysia (PDRM)": ("PDRM", "Polis Diraja Malaysia", "Royal Malaysia Police", "balai polis", "pegawai polis", "anggota polis", "police"),
    "Jabatan Pengangkutan Jalan (JPJ)": ("JPJ", "Jabatan Pengangkutan Jalan", "Road Transport Department"),
    "Jabatan Imigresen Malaysia": ("Imigresen", "Immigration Department", "Jabatan Imigresen", "immigration officer"),
    "Jabatan Kastam Diraja Malaysia (JKDM)": ("JKDM", "Kastam", "Royal Malaysian Customs", "customs officer", "Customs Department"),
    "Agensi Penguatkuasaan Maritim Malaysia (APMM)": ("APMM", "Maritim Malaysia", "Malaysian Maritime Enforcement Agency", "MMEA"),
    "Lembaga Hasil Dalam Negeri (LHDN)": ("LHDN", "Lembaga Hasil Dalam Negeri", "Inland Revenue Board", "IRB"),
    "Jabatan Kerja Raya (JKR)": ("JKR", "Jabatan Kerja Raya", "Public Works Department"),
    "Kementerian Kesihatan Malaysia (KKM)": ("KKM", "Kementerian Kesihatan", "Ministry of Health", "MOH"),
    "Kementerian Pendidikan Malaysia (KPM)": ("KPM", "Kementerian Pendidikan", "Ministry of Education", "Jabatan Pendidikan"),
    "Dewan Bandaraya Kuala Lumpur (DBKL)": ("DBKL", "Dewan Bandaraya Kuala Lumpur", "Kuala Lumpur City Hall"),
    "Pejabat Tanah dan Galian (PTG)": ("PTG", "Pejabat Tanah dan Galian", "Pejabat Tanah", "Land Office", "land office"),
    "Suruhanjaya Pencegahan Rasuah Malaysia (SPRM)": ("SPRM", "MACC", "Suruhanjaya Pencegahan Rasuah"),
    "Jabatan Bomba dan Penyelamat": ("Bomba", "Fire and Rescue Department"),
    "Jabatan Pendaftaran Negara (JPN)": ("JPN", "Jabatan Pendaftaran Negara", "National Registration Department"),
    "Tenaga Nasional Berhad (TNB)": ("TNB", "Tenaga Nasional"),
    "Kumpulan Wang Simpanan Pekerja (KWSP)": ("KWSP", "EPF", "Kumpulan Wang Simpanan Pekerja"),
}
_COUNCIL = re.compile(r"\b((?:Majlis\s+(?:Bandaraya|Perbandaran|Daerah)|Dewan\s+Bandaraya)\s+(?:[A-Z][a-zA-Z]+\s?){1,3})")


def _alias_pattern(aliases: tuple[str, ...]) -> re.Pattern[str]:
    # Acronyms match in capitals only ("MOH", not "moh"); names in any case.
    parts = [re.escape(a) if a.isupper() else "(?i:" + re.escape(a) + ")" for a in aliases]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b")


_AGENCY_PATTERNS = [(name, _alias_pattern(aliases)) for name, aliases in AGENCIES.items()]


def _amount(match: re.Match[str]) -> str:
    whole = int(match.group(1).replace(",", ""))
    cents = int((match.group(2) or "0").ljust(2, "0"))
    scale = {"juta": 1_000_000, "million": 1_000_000, "ribu": 1_000, "k": 1_000, "bilion": 10**9, "billion": 10**9}
    factor = scale.get((match.group(3) or "").lower(), 1)
    value = whole * factor + (cents * factor) / 100
    return f"RM{value:,.2f}"


def extract(text: str) -> list[Entity]:
    found: dict[tuple[str, str], None] = {}

    def add(kind: str, value: str) -> None:
        value = " ".join(value.split()).strip(" .,;:")
        if value:
            found[(kind, value)] = None

    for m in _IC.finditer(text):
        add("IC_NUMBER", m.group(0))
    ic_spans = [m.span() for m in _IC.finditer(text)]
    for m in _PHONE.finditer(text):
        if not any(a <= m.start() < b for a, b in ic_spans):
            add("PHONE", re.sub(r"[\s-]", "", m.group(0)))
    for m in _AMOUNT.finditer(text):
        add("AMOUNT", _amount(m))
    for m in _DATE.finditer(text):
        add("DATE", m.group(1))
    for m in _PLATE.finditer(text):
        plate = m.group(1).replace(" ", "")
        letters = re.match(r"[A-Z]+", plate)
        if letters and letters.group(0) not in _NOT_A_PLATE and any(ch.isdigit() for ch in plate):
            add("VEHICLE_PLATE", plate)
    for name, pattern in _AGENCY_PATTERNS:
        if pattern.search(text):
            add("AGENCY", name)
    for m in _COUNCIL.finditer(text):
        add("AGENCY", m.group(1))
    for m in _COMPANY.finditer(text):
        add("COMPANY", m.group(1))
    for m in _PERSON.finditer(text):
        add("PERSON", m.group(0))
    return [Entity(kind, value) for kind, value in found]
