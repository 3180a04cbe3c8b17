"""Rule and gazetteer extraction of Malaysian entities from complaint text.

Each mention keeps where it was found (for evaluation against the labelled
corpus, ops/corpus/) and a normalised value: amounts as "RM5,000.00"
whether written "RM5k" or "lima ribu ringgit", phones and IC numbers as
digits, plates without spaces, agencies by their canonical name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline_service.analyzer import Entity

TYPES = ("PERSON", "AGENCY", "COMPANY", "AMOUNT", "PHONE", "IC_NUMBER", "VEHICLE_PLATE", "DATE", "LOCATION")


@dataclass(frozen=True)
class Mention:
    type: str
    value: str
    start: int
    end: int


# -- identifiers ---------------------------------------------------------------

_IC = re.compile(r"(?<![\d-])(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))-?(\d{2})-?(\d{4})(?![\d-])")
# Mobile (01x), landline (0x), with or without +60 / 60, and 1-300/1-800 lines;
# digits grouped by spaces, dashes or dots.
_PHONE = re.compile(
    r"(?<![\w+-])(?:(?:\+?60[\s-]?|0)(?:1\d[\s.-]?\d{3,4}[\s.-]?\d{3,4}|[3-9]\d?[\s.-]?\d{3,4}[\s.-]?\d{3,4})"
    r"|1[\s-]?[38]00[\s.-]?\d{2,3}[\s.-]?\d{3,4}|\(0\d{1,2}\)\s?\d{3,4}[\s.-]?\d{4})(?![\w-])"
)
# Peninsular, Sabah/Sarawak and Putrajaya prefixes, then 1-4 digits, then an
# optional suffix letter: "WXY 1234", "BKA 5678 C", "QAA 123".
_PLATE = re.compile(
    r"(?<![\w-])((?:[ABCDFJKMNPRTVW][A-HJ-NP-Y]{0,2}|Q[A-Z]{1,2}|S[A-Z]{1,2}|PUTRAJAYA)\s?\d{1,4}(?:\s?[A-HJ-NP-Z])?)(?![\w-])"
)
_NOT_A_PLATE = {
    "RM",
    "MACC",
    "SPRM",
    "PDRM",
    "JPJ",
    "JKR",
    "LHDN",
    "KKM",
    "KPM",
    "SK",
    "SMK",
    "PT",
    "PTD",
    "KM",
    "BK",
    "MB",
    "MP",
    "DBKL",
    "MBPJ",
    "MBSA",
    "MBJB",
    "MPKJ",
    "MPS",
    "A",
    "B",
    "C",
    "D",
    "F",
    "J",
    "K",
    "M",
    "N",
    "P",
    "R",
    "T",
    "V",
    "W",
    "S",
    "COVID",
    "SST",
    "SPM",
    "PMR",
    "UPSR",
    "STPM",
    "CCTV",
}

# -- money ---------------------------------------------------------------------

_SCALE = {
    "juta": 10**6,
    "million": 10**6,
    "mil": 10**6,
    "m": 10**6,
    "ribu": 1000,
    "k": 1000,
    "thousand": 1000,
    "bilion": 10**9,
    "billion": 10**9,
    "ratus": 100,
    "hundred": 100,
}
_FIGURE_AMOUNT = re.compile(
    r"(?:\bRM\s?|\bMYR\s?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(juta|million|mil|ribu|thousand|bilion|billion|k|m)\b)?"
    r"|\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s?(juta|million|ribu|thousand|bilion|billion|k)?\s?(?:ringgit|RM)\b"
    r"|\b(\d{1,3}(?:\.\d)?)\s?(ribu|juta|k)\b(?!\s?(?:orang|people|km|kilometer|meter|unit|buah|keping|kg|tan|pelajar|"
    r"students?|pekerja|workers?|ahli|members?|penduduk|residents?|kali|times|hektar|ekar|acres?|sqft|kaki))",
    re.IGNORECASE,
)
_NUMBER_WORDS: dict[str, float] = {
    "satu": 1,
    "dua": 2,
    "tiga": 3,
    "empat": 4,
    "lima": 5,
    "enam": 6,
    "tujuh": 7,
    "lapan": 8,
    "sembilan": 9,
    "sepuluh": 10,
    "sebelas": 11,
    "setengah": 0.5,
    "one": 1,
    "a": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "half": 0.5,
}
_MULTIPLIERS = {
    "belas": 0,
    "puluh": 10,
    "ratus": 100,
    "hundred": 100,
    "ribu": 1000,
    "thousand": 1000,
    "juta": 10**6,
    "million": 10**6,
}
_LEADING = "|".join(w for w in _NUMBER_WORDS if w != "a") + "|seratus|seribu|sejuta|sebelas"
_FOLLOWING = "|".join([*_NUMBER_WORDS, *_MULTIPLIERS, "seratus", "seribu", "sejuta", "dan", "and"])
# "lima ribu ringgit", "tiga ratus lima puluh ringgit", "two thousand ringgit".
_WORD_AMOUNT = re.compile(rf"\b((?:{_LEADING})(?:[\s-]+(?:{_FOLLOWING}))*)\s+ringgit\b", re.IGNORECASE)


def _words_value(words: str) -> float | None:
    """ "lima ribu", "tiga ratus lima puluh", "two thousand five hundred" -> a number."""
    total = below = pending = 0.0
    for token in re.findall(r"[a-z]+", words.lower()):
        if token in ("dan", "and"):
            continue
        if token in ("seratus", "seribu", "sejuta"):
            pending, token = pending or 1, {"seratus": "ratus", "seribu": "ribu", "sejuta": "juta"}[token]
        if token in _NUMBER_WORDS:
            pending += _NUMBER_WORDS[token]
        elif token == "belas":
            below, pending = below + pending + 10, 0
        elif token in ("puluh", "ratus", "hundred"):
            below, pending = below + (pending or 1) * _MULTIPLIERS[token], 0
        elif token in _MULTIPLIERS:
            total, below, pending = total + ((below + pending) or 1) * _MULTIPLIERS[token], 0, 0
        else:
            return None
    value = total + below + pending
    return value if value > 0 else None


def _money(value: float) -> str:
    return f"RM{value:,.2f}"


def _figure_value(m: re.Match[str]) -> float | None:
    groups = m.groups()
    for whole, cents, scale in (groups[0:3], groups[3:6], (groups[6], None, groups[7])):
        if whole is None:
            continue
        if cents is None and "." in whole:
            whole, cents = whole.split(".")
        number = float(whole.replace(",", "") + "." + (cents or "0"))
        return number * _SCALE.get((scale or "").lower(), 1)
    return None


# -- dates ---------------------------------------------------------------------

_MONTH_NUMBERS = {
    "januari": 1,
    "january": 1,
    "jan": 1,
    "februari": 2,
    "february": 2,
    "feb": 2,
    "mac": 3,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "mei": 5,
    "may": 5,
    "jun": 6,
    "june": 6,
    "julai": 7,
    "july": 7,
    "jul": 7,
    "ogos": 8,
    "august": 8,
    "aug": 8,
    "ogo": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "october": 10,
    "oct": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "disember": 12,
    "december": 12,
    "dec": 12,
    "dis": 12,
}
_MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?:(\d{{1,2}})[/.-](\d{{1,2}})[/.-](\d{{4}}|\d{{2}})"
    rf"|(\d{{4}})-(\d{{2}})-(\d{{2}})"
    rf"|(\d{{1,2}})(?:hb|haribulan|st|nd|rd|th)?\s*(?:hb\.?\s*)?(?:haribulan\s+)?({_MONTH})\.?(?:,?\s+(\d{{4}}))?"
    rf"|({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?)\b",
    re.IGNORECASE,
)


def _date_value(m: re.Match[str]) -> str | None:
    g = m.groups()
    if g[0]:
        day, month, year = int(g[0]), int(g[1]), g[2]
        year = year if len(year) == 4 else "20" + year
    elif g[3]:
        year, month, day = g[3], int(g[4]), int(g[5])
    elif g[6]:
        day, month, year = int(g[6]), _MONTH_NUMBERS[g[7].lower()], g[8]
    else:
        month, day, year = _MONTH_NUMBERS[g[9].lower()], int(g[10]), g[11]
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    return f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


# -- people --------------------------------------------------------------------

_TITLE = (
    r"Tan Sri|Puan Sri|Toh Puan|Dato'?\s?S(?:e)?ri|Dato’\s?Sri|Datuk Seri|Datuk Wira|Dato'|Dato’|Datuk|"
    r"Datin Paduka|Datin|"
    r"Dato|Tun|Tengku|Tunku|Raja|Yang Berhormat|YB|Tuan Haji|Tuan Hj\.?|Tuan|Haji|Hajah|Hj\.?|Hjh\.?|Encik|En\.?|"
    r"Puan|Pn\.?|Cik|Cikgu|Ustaz|Ustazah|Pak Cik|Pakcik|Mak Cik|Makcik|Pak|Mak|Abang|Kak|Dr\.?|Doktor|Ir\.?|Ts\.?|"
    r"Prof\.?|Profesor|Inspektor|Insp\.?|Sarjan Mejar|Sarjan|Sjn\.?|Koperal|Kpl\.?|Lans Koperal|L/Kpl\.?|"
    r"Konstabel|Kons\.?|ASP|DSP|Supt\.?|ACP|SAC|Kapten|Capt\.?|Mejar|Leftenan|Mr\.?|Mrs\.?|Ms\.?|Madam|Mdm\.?|"
    r"Sir|Uncle|Aunty|Auntie|Sister|Officer|Pegawai|Bro|Boss|Towkay|Tauke|Apek|Ah"
)
_NAME_WORD = r"[A-Z][a-zA-Z'’@-]+"
_PATRONYM = r"(?i:bin|binti|bt\.?|bte\.?|bn\.?|b\.|a/l|a/p|s/o|d/o|anak|ak\.?)"
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_PATRONYM}\s+)?{_NAME_WORD}){{0,4}}"
_PERSON_TITLED = re.compile(rf"\b(?:{_TITLE})\s+(?:[A-Z]\.\s?)?{_NAME}")
# Untitled: "Ahmad bin Ali", "Suresh a/l Muniandy", "Ting anak Jalong".
_PERSON_PATRONYM = re.compile(
    rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}\s+{_PATRONYM}\s+{_NAME_WORD}(?:\s+{_NAME_WORD})?"
)
_CHINESE_SURNAMES = (
    "Tan|Lim|Lee|Wong|Ng|Chan|Chong|Ong|Goh|Teh|Chua|Yap|Low|Leong|Lau|Loh|Koh|Khoo|Liew|Chin|Foo|Ho|Yeoh|Soh|"
    "Cheah|Choo|Kok|Kwan|Lai|Lam|Liow|Mah|Ooi|Phang|Poh|Quek|Sim|Siew|Tay|Toh|Wee|Yong|Chew|Chia|Hew|Ang|Chai|"
    "Cheong|Chiew|Chu|Fong|Gan|Heng|Hii|Kang|Kee|Kuan|Kwok|Lew|Liang|Loo|Lum|Neoh|Pang|Saw|Seow|Tang|Thong|Tiong|"
    "Woo|Yam|Yee|Yeo|Yew|Yip|Chee|Chong|Choong|Hoo|Kho|Ling|Ngu|Sia|Teo|Ting|Wan|Wu|Zhang|Chang|Huang|Hwang"
)
_PERSON_CHINESE = re.compile(
    rf"\b(?:(?:{_TITLE})\s+)?(?:{_CHINESE_SURNAMES})\s+(?:Ah\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b"
)
# Introduced by name: "bernama Zulkifli", "tag nama ROSLI", "orang panggil Rizal",
# or set beside who they are: "his wife, Rosnah", "the owner is Shahrul Nizam".
_PERSON_NAMED = re.compile(
    rf"(?:\b(?:bernama|namanya|nama dia|nama|named|called|dikenali sebagai|panggil(?: dia)?|name|nama tag|"
    rf"tag nama|name tag|badge nama|nama pada (?:tag|baju)|nama di (?:tag|baju)|tag|atas nama|in the name of|"
    rf"the name|name of)(?:\s+(?:said|is|ialah|was))?\s+[\"'“‘]?"
    rf"|\b(?i:wife|husband|son|daughter|brother|sister|cousin|friend|owner|director|treasurer|manager|chairman|"
    rf"isteri|suami|anak|adik|abang|kakak|kawan|pemilik|pengarah|bendahari|pengurus|menantu|ipar|worker|kerani|"
    rf"clerk|supervisor|penyelia|pengerusi|tauke|boss|neighbour|neighbor|colleague|jiran|rakan|sepupu|guy|sorang|"
    rf"seorang)(?:'s)?"
    # a few words may come between: "kawan lama I, Haziq", "neighbour on the 18th floor, Sabri"
    rf"(?:(?:\s+(?:[a-z0-9][\w'’-]*|I)){{0,5}},|\s+(?:is|ialah|iaitu))\s+)({_NAME})"
)
_NOT_NAME_WORDS = {
    "Sdn",
    "Bhd",
    "Berhad",
    "Jalan",
    "Taman",
    "Kampung",
    "Kg",
    "Balai",
    "Hospital",
    "Klinik",
    "Sekolah",
    "Majlis",
    "Jabatan",
    "Pejabat",
    "Bandar",
    "Seksyen",
    "Lot",
    "Tol",
    "Plaza",
    "Menara",
    "Wisma",
    "Bangunan",
    "Universiti",
    "Kementerian",
    "Polis",
    "Daerah",
    "Negeri",
    "Bank",
    "Syarikat",
    "Persatuan",
    "Koperasi",
    "The",
    "I",
    "Saya",
    "Kami",
    "Dia",
    "He",
    "She",
    "We",
    "They",
    "It",
    "This",
    "That",
    "On",
    "In",
    "At",
    "And",
    "But",
    "So",
    "Then",
    "Lepas",
    "Selepas",
    "Pada",
    "Dan",
    "Tapi",
    "Yang",
    "Kalau",
    "If",
    "When",
    "Bila",
    "Semalam",
    "Today",
    "Hari",
    "Minggu",
    "Bulan",
    "Tahun",
    "Encik",
    "Puan",
    "Tuan",
    "Cik",
    "RM",
    "MACC",
    "SPRM",
    "Road",
    "Street",
}


_TITLE_ONLY = re.compile(rf"(?:{_TITLE}|Corporal|Sergeant|Inspector|Penguasa|Pengarah|Tuan Pengarah)", re.IGNORECASE)


def _person_end(text: str, start: int, end: int) -> int:
    """Cuts a name before words that start places, bodies or a new sentence,
    and before an acronym after a name in mixed case ("En. Azhar JPJ")."""
    title = _LEADING_TITLE.match(text, start, end)
    skip = title.end() - start if title else 0
    words = list(re.finditer(r"\S+", text[start:end]))
    for i, w in enumerate(words):
        word = w.group(0).strip(".,;:")
        acronym = len(word) >= 2 and word.isupper() and not all(x.group(0).isupper() for x in words[:i])
        if i and w.start() >= skip and (word in _NOT_NAME_WORDS or acronym):
            return start + words[i - 1].end()
    return end


_LEADING_TITLE = re.compile(rf"(?:{_TITLE})\s+")
# A titled name right after these words is a street's or a building's.
_NAMED_AFTER = re.compile(
    r"(?:Jalan|Jln\.?|Taman|Tmn\.?|Lorong|Persiaran|Lebuh|Lebuhraya|Kampung|Kg\.?|Bandar|Masjid|"
    r"Sekolah|SMK|SK|Hospital|Universiti|Kolej|Dewan|Wisma|Menara|Plaza|Stadium|Institut)\s+$"
)


# -- bodies and places ---------------------------------------------------------

# Malaysian public bodies: canonical name -> ways complaints write it.
AGENCIES: dict[str, tuple[str, ...]] = {
    "Polis Diraja Malaysia (PDRM)": (
        "PDRM",
        "Polis Diraja Malaysia",
        "Royal Malaysia Police",
        "Royal Malaysian Police",
    ),
    "Jabatan Pengangkutan Jalan (JPJ)": ("JPJ", "Jabatan Pengangkutan Jalan", "Road Transport Department"),
    "Jabatan Imigresen Malaysia": ("Immigration Department", "Jabatan Imigresen", "Jabatan Imigresen Malaysia"),
    "Jabatan Kastam Diraja Malaysia (JKDM)": (
        "JKDM",
        "Royal Malaysian Customs",
        "Customs Department",
        "Jabatan Kastam Diraja Malaysia",
    ),
    "Agensi Penguatkuasaan Maritim Malaysia (APMM)": (
        "APMM",
        "Maritim Malaysia",
        "Malaysian Maritime Enforcement Agency",
        "MMEA",
    ),
    "Lembaga Hasil Dalam Negeri (LHDN)": ("LHDN", "Lembaga Hasil Dalam Negeri", "Inland Revenue Board", "IRB", "LHDNM"),
    "Jabatan Kerja Raya (JKR)": ("JKR", "Jabatan Kerja Raya", "Public Works Department", "PWD"),
    "Kementerian Kesihatan Malaysia (KKM)": ("KKM", "Kementerian Kesihatan", "Ministry of Health", "MOH"),
    "Kementerian Pendidikan Malaysia (KPM)": ("KPM", "Kementerian Pendidikan", "Ministry of Education", "MOE"),
    "Dewan Bandaraya Kuala Lumpur (DBKL)": ("DBKL", "Dewan Bandaraya Kuala Lumpur", "Kuala Lumpur City Hall"),
    "Pejabat Tanah dan Galian (PTG)": ("PTG", "Pejabat Tanah dan Galian"),
    "Suruhanjaya Pencegahan Rasuah Malaysia (SPRM)": ("SPRM", "MACC", "Suruhanjaya Pencegahan Rasuah Malaysia"),
    "Jabatan Bomba dan Penyelamat": ("Fire and Rescue Department", "JBPM", "Jabatan Bomba"),
    "Jabatan Pendaftaran Negara (JPN)": ("JPN", "Jabatan Pendaftaran Negara", "National Registration Department"),
    "Kumpulan Wang Simpanan Pekerja (KWSP)": ("KWSP", "EPF", "Kumpulan Wang Simpanan Pekerja"),
    "Pertubuhan Keselamatan Sosial (PERKESO)": ("PERKESO", "SOCSO", "Pertubuhan Keselamatan Sosial"),
    "Jabatan Kebajikan Masyarakat (JKM)": ("JKM", "Jabatan Kebajikan Masyarakat", "Social Welfare Department"),
    "Perbadanan Tabung Pendidikan Tinggi Nasional (PTPTN)": ("PTPTN",),
    "Majlis Amanah Rakyat (MARA)": ("MARA",),
    "Lembaga Kemajuan Tanah Persekutuan (FELDA)": ("FELDA",),
    "Agensi Antidadah Kebangsaan (AADK)": ("AADK", "Agensi Antidadah Kebangsaan"),
    "Jabatan Penjara Malaysia": ("Jabatan Penjara", "Prisons Department"),
    "Bank Negara Malaysia": ("Bank Negara", "BNM"),
    "Jabatan Agama Islam": ("JAIS", "JAWI", "JAIJ", "JAIK", "JAIPk", "MAIS"),
    "Jabatan Alam Sekitar (JAS)": ("JAS", "Jabatan Alam Sekitar"),
    "Suruhanjaya Syarikat Malaysia (SSM)": ("SSM", "Suruhanjaya Syarikat Malaysia", "Companies Commission"),
    "Jabatan Kemajuan Masyarakat (KEMAS)": ("KEMAS",),
    "Jabatan Perpaduan Negara dan Integrasi Nasional (JPNIN)": ("JPNIN",),
    "Lembaga Hasil (LHDN) Tribunal": ("Tribunal Tuntutan Pembeli Rumah", "Tribunal for Homebuyer Claims"),
}
# Councils by acronym (MBJB, MBSA, MBPJ, MPKj, MPSepang, DBKU), public
# universities (UM, UKM, UiTM, UMK...), hospitals (HKL, HSNZ, HUKM), and the
# Capitalised words "Imigresen", "Kastam", "Bomba" (lower case they are generic).
_COUNCIL_ACRONYM = re.compile(
    r"\b(?:MB[A-Z]{1,3}|MP(?!V\b)[A-Z][A-Za-z]{0,7}|MD[A-Z][A-Za-z]{0,6}|DB[A-Z]{1,2}|PBT|"
    r"UM|UKM|UPM|USM|UTM|UiTM|UUM|UIAM|IIUM|UNIMAS|UMS|UMT|UMK|UMP|UTHM|UTeM|UniMAP|UPSI|USIM|UPNM|UniSZA|"
    r"HKL|HSNZ|HUKM|HUSM|HRPZ|HTAR|HSA|HRPB|HPP|HTJ|HSB|PPUM|PPD|JPNS|Imigresen|Kastam|Bomba)(?![\w-])"
)
_PLACE_NAME = r"(?:[A-Z][\w'’()-]*|\d+[A-Z]?)(?:\s+(?:[A-Z][\w'’()-]*|\d+[A-Z]?|dan|&|de|di|al|bin)){0,4}"
_INSTITUTION = re.compile(
    r"\b(?:(?:Majlis\s+(?:Bandaraya|Perbandaran|Daerah)|Dewan\s+Bandaraya|Hospital(?:\s+Besar|\s+Pakar)?|"
    r"Klinik\s+Kesihatan|Klinik\s+Desa|Klinik\s+Pergigian|Sekolah\s+(?:Kebangsaan|Menengah(?:\s+Kebangsaan)?|"
    r"Jenis\s+Kebangsaan(?:\s+\((?:Cina|Tamil)\))?|Rendah|Agama)|SMK|SK|SJKC|SJK\s?\((?:C|T)\)|SJK|SMJK|SMKA|SBP|MRSM|"
    r"Kolej(?:\s+Vokasional|\s+Komuniti)?|Universiti|Politeknik|Institut|Balai\s+Polis|Ibu\s+Pejabat\s+Polis(?:\s+Daerah|\s+Kontinjen)?|"
    r"IPD|IPK|Pejabat\s+Tanah(?:\s+dan\s+Galian|\s+Daerah)?|Pejabat\s+Daerah(?:\s+dan\s+Tanah)?|Pejabat\s+Pendidikan\s+Daerah|"
    r"Jabatan\s+Pendidikan(?:\s+Negeri)?|Jabatan\s+Kesihatan(?:\s+Negeri)?|Jabatan|Pejabat|Kementerian|Lembaga|Perbadanan|"
    r"Pusat\s+Kesihatan|Penjara|Mahkamah|Unit|Bahagian|Suruhanjaya|Majlis\s+Agama\s+Islam)\s+(?:[A-Z][\w'’()-]*|\d+)(?:\s+(?:[A-Z][\w'’()-]*|\d+|dan)){0,4}"
    r"|(?:[A-Z][\w'’-]*\s+){1,4}(?i:City\s+Council|Municipal\s+Council|District\s+Council|Land\s+Office|"
    r"District\s+Office|District\s+Land\s+Office|Police\s+Station|Police\s+Headquarters|Health\s+Office|"
    r"Education\s+Office)|(?:[A-Z][\w'’-]*\s+){1,4}(?:Hospital|Health\s+Clinic|Clinic|Secondary\s+School|"
    r"Primary\s+School|School|University|College|Department|Council)|Tribunal(?:\s+[A-Z][\w'’-]*){1,4})"
)
_COMPANY = re.compile(
    r"\b((?:[A-Z][\w&'’.-]*\s+){1,5}?(?:Sdn\.?\s*Bhd\.?|Berhad|Bhd\.?|Enterprise|Enterprises|Holdings|Trading|"
    r"Resources|Construction|Engineering|Services|Ventures|Industries|Corporation|Plt|PLT|Group|Solutions|Supplies|"
    r"Logistics|Development|Properties|Motor|Motors|Agency|Agencies|Sdn))(?=\W|$)"
)
# Well-known companies written without a suffix.
COMPANIES = (
    "Maybank",
    "CIMB",
    "Public Bank",
    "RHB",
    "Hong Leong Bank",
    "AmBank",
    "Bank Islam",
    "Bank Rakyat",
    "BSN",
    "Bank Simpanan Nasional",
    "Affin Bank",
    "Alliance Bank",
    "OCBC",
    "HSBC",
    "UOB",
    "Standard Chartered",
    "Agrobank",
    "Bank Muamalat",
    "Grab",
    "Petronas",
    "Shell",
    "Touch 'n Go",
    "Touch n Go",
    "Luno",
    "Binance",
    "J&T",
    "Pos Laju",
    "Pos Malaysia",
    "Indah Water",
    "Alam Flora",
    "SWM Environment",
    "Popular",
    "Shopee",
    "Lazada",
    "Astro",
    "Celcom",
    "Maxis",
    "Digi",
    "Unifi",
    "Telekom Malaysia",
    "TNB",
    "Tenaga Nasional",
    "SADA",
    "Air Selangor",
    "Ranhill SAJ",
    "PBAPP",
    "Syabas",
    "Prasarana",
    "KTMB",
    "AirAsia",
    "Malaysia Airlines",
    "Lotus's",
    "Mydin",
    "Giant",
    "Econsave",
    "99 Speedmart",
    "KK Mart",
    "Tesco",
    "Gamuda",
    "IJM",
    "Sime Darby",
    "FGV",
    "Top Glove",
)
_COMPANY_NAMES = re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(c) for c in COMPANIES) + r")(?![\w'])")
# "Syarikat Jasa Lumut Bina", "Kedai Gajet Murah", "Restoran Sri Menanti", "Chop Heng Scrap".
_COMPANY_PREFIXED = re.compile(
    r"\b(?:Syarikat|Kedai|Restoran|Hotel|Akademi Memandu|Institut Memandu|Sekolah Memandu|Chop|Butik|Bengkel|"
    r"Pusat Tuisyen|Kilang|Firma|Tetuan|Agensi Pekerjaan|Klinik Swasta|Farmasi)(?:\s+(?:[A-Z][\w&'’-]*|\d+)){1,5}"
    r"|\b(?:[A-Z][\w&'’-]*\s+){1,4}(?:Money Changer|Brothers|Bros\.?|Agro|Motor|Workshop|Hardware|Travel|Tours|Store|"
    r"Shop|Assets|Digital|Saintifik|Scientific|Technologies|Technology|Tech|Consultancy|Consultants)\b"
    # Named by what it is: "contractor Teguh Jaya", "the supplier was Azka Saintifik".
    r"|(?<=\bcontractor )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bkontraktor )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bsupplier was )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bwinner was )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bpembekal )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bkilang )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bpekerja )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bcompany )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
    r"|(?<=\bmoney changer )(?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}"
)
_COMPANY_LEAD_DROP = {
    "The",
    "A",
    "An",
    "Di",
    "Dari",
    "Oleh",
    "Dengan",
    "Kepada",
    "By",
    "From",
    "To",
    "With",
    "And",
    "Dan",
    "Pada",
    "At",
}
_LOCATION = re.compile(
    r"\b(?:Jalan|Jln\.?|Lorong|Lebuh|Lebuhraya|Persiaran|Taman|Tmn\.?|Kampung|Kampong|Kg\.?|Bandar|Seksyen|Section|"
    r"Pekan|Pulau|Bukit|Sungai|Sg\.?|Tol|Plaza\s+Tol|Simpang|Batu|Desa|Felda|Pangsapuri|Flat|Apartment|Kuarters|"
    r"Padang|Pasar|Medan|Wisma|Menara|Kompleks|Dataran|Pelabuhan|Port|Lapangan\s+Terbang|Stesen|Terminal|KLIA2?)"
    r"\s+(?:[A-Z0-9][\w'’/-]*)(?:\s+(?:[A-Z0-9][\w'’/-]*)){0,3}"
    r"|\b(?:[A-Z][\w'’-]*\s+){0,2}(?:Road|Street|Avenue|Highway|Expressway|Toll|Roundabout|Market|Mall|Jetty)\b"
)
# Towns and states written alone ("di Kajang", "in Ipoh").
_TOWNS = (
    "Kuala Lumpur|Petaling Jaya|Shah Alam|Subang Jaya|Klang|Kajang|Bangi|Cheras|Ampang|Puchong|Putrajaya|Cyberjaya|"
    "Seremban|Nilai|Melaka|Malacca|Johor Bahru|Batu Pahat|Muar|Kluang|Segamat|Pasir Gudang|Skudai|Kulai|Ipoh|Taiping|"
    "Teluk Intan|Kuala Kangsar|Sitiawan|Butterworth|George Town|Georgetown|Bukit Mertajam|Alor Setar|Sungai Petani|"
    "Kulim|Langkawi|Kangar|Kota Bharu|Kuala Terengganu|Kemaman|Dungun|Kuantan|Temerloh|Bentong|Raub|Cameron Highlands|"
    "Kota Kinabalu|Sandakan|Tawau|Lahad Datu|Keningau|Kuching|Miri|Sibu|Bintulu|Sri Aman|Labuan|Rawang|Selayang|"
    "Gombak|Sepang|Semenyih|Banting|Kuala Selangor|Sabak Bernam|Port Dickson|Rembau|Tampin|Jasin|Alor Gajah|"
    "Pontian|Kota Tinggi|Mersing|Tangkak|Kuala Pilah|Jerantut|Pekan|Rompin|Machang|Pasir Mas|Tanah Merah|Gua Musang|"
    "Besut|Marang|Kuala Krai|Selangor|Johor|Perak|Pulau Pinang|Penang|Kedah|Perlis|Kelantan|Terengganu|Pahang|"
    "Negeri Sembilan|Sabah|Sarawak|Wangsa Maju|Setapak|Kepong|Bangsar|Brickfields|Chow Kit|Kampung Baru|Sentul|"
    "Puncak Alam|Seri Kembangan|Serdang|Balakong|Dengkil|Jenjarom|Kapar|Meru|Sungai Buloh|Damansara|Mont Kiara"
)
# Every state's districts and their main towns, the short forms everyone
# writes, and the places abroad complaints send money or people to.
_DISTRICTS = (
    "Arau|Padang Besar|Kubang Pasu|Jitra|Padang Terap|Kuala Nerang|Pokok Sena|Pendang|Kuala Muda|Baling|"
    "Bandar Baharu|Kota Setar|Seberang Perai|Nibong Tebal|Kepala Batas|Bayan Lepas|Balik Pulau|Air Itam|Perai|"
    "Manjung|Lumut|Batu Gajah|Kampar|Gopeng|Tapah|Bidor|Tanjung Malim|Slim River|Parit Buntar|Kerian|Gerik|"
    "Lenggong|Bagan Serai|Bagan Datuk|Hilir Perak|Perak Tengah|Seri Iskandar|Kinta|Chemor|Lahat|"
    "Simpang Pulai|Ayer Tawar|Pantai Remis|Hulu Langat|Hulu Selangor|Kuala Kubu Bharu|Batang Kali|Salak Tinggi|"
    "Kuala Langat|Tanjung Karang|Sungai Besar|Batu Caves|Bandar Baru Bangi|Beranang|Kota Damansara|Port Klang|"
    "Pulau Indah|Ijok|Titiwangsa|Bukit Bintang|Segambut|Lembah Pantai|Bandar Tun Razak|Seputeh|Sri Petaling|"
    "Bukit Jalil|Pudu|Jempol|Bahau|Jelebu|Kuala Klawang|Johol|Senawang|Mantin|Lukut|Ayer Keroh|Masjid Tanah|"
    "Merlimau|Iskandar Puteri|Nusajaya|Senai|Ledang|Yong Peng|Ayer Hitam|Simpang Renggam|Labis|Gelang Patah|Masai|"
    "Ulu Tiram|Kota Iskandar|Kuala Lipis|Lipis|Maran|Genting Highlands|Karak|Mentakab|Triang|Muadzam Shah|Gambang|"
    "Tanah Rata|Brinchang|Kuala Rompin|Jengka|Kuala Nerus|Chukai|Setiu|Hulu Terengganu|Kerteh|Jerteh|"
    "Pasir Puteh|Bachok|Jeli|Rantau Panjang|Ketereh|Kubang Kerian|Wakaf Bharu|Semporna|Kudat|Ranau|Beaufort|"
    "Penampang|Putatan|Tuaran|Kota Belud|Kota Marudu|Pitas|Beluran|Kinabatangan|Kunak|Tenom|Tambunan|Nabawan|"
    "Sipitang|Kuala Penyu|Inanam|Likas|Telupid|Tongod|Kota Samarahan|Samarahan|Serian|Sarikei|Mukah|Kapit|Limbang|"
    "Lawas|Betong|Saratok|Simunjan|Lundu|Marudi|Belaga|Kanowit|Dalat|Tatau|Lubok Antu|Padawan|Asajaya|Julau|"
    "KL|KK|JB|PJ|"
    "Singapore|Singapura|Thailand|Indonesia|Brunei|Bangkok|Hatyai|Hat Yai|Jakarta|Batam|Bandung|Hong Kong|Dubai|"
    "Bali|Phuket|Maldives|Europe|Eropah"
)
_TOWN = re.compile(
    r"\b(?:" + "|".join(sorted({*_TOWNS.split("|"), *_DISTRICTS.split("|")}, key=len, reverse=True)) + r")\b"
)
_NOT_PLACE = (
    r"(?:Januari|Februari|Mac|April|Mei|Jun|Julai|Ogos|September|Oktober|November|Disember|January|February|"
    r"March|May|June|July|August|October|December|Isnin|Selasa|Rabu|Khamis|Jumaat|Sabtu|Ahad|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday|I|The|This|That|My|Our|His|Her|Their|RM|Encik|Puan|Tuan|"
    r"Cik|Mr|Mrs|Ms|Dr|Dato|Datuk|Inspektor|Sarjan|Koperal|Facebook|WhatsApp|Telegram|Instagram|TikTok|"
    r"Shopee|Lazada|Google|Twitter|YouTube|Nilai projek)\b"
)
# An agency's branch: "JPJ Kedah", "LHDN Kota Bharu", "JKR Daerah Kluang".
_BRANCH = re.compile(
    rf"(?:\s+(?:Daerah|Negeri|Cawangan|Bahagian|Zon|Wilayah))?(?:\s+(?!{_NOT_PLACE})[A-Z][a-z]+){{1,2}}"
)
# A capitalised place after "di", "kat", "in", "from"... ("di Tanjung Rambutan",
# "in Perai"), and the places listed after one ("Kampung Sungai Pasir, Kuala Muda").
_PLACE_AFTER = re.compile(
    rf"(?:(?<=\bdi )|(?<=\bkat )|(?<=\bdekat )|(?<=\bke )|(?<=\bdari )|(?<=\bin )|(?<=\bat )|(?<=\bfrom )|"
    rf"(?<=\bto )|(?<=\barea )|(?<=\bkawasan )|(?<=\bdaerah )|(?<=\bmukim )|(?<=\bMukim )|(?<=\bnear )|"
    rf"(?<=\bberhampiran )|(?<=\bsekitar )|(?<=\baround ))(?!{_NOT_PLACE})[A-Z][a-z'’]+(?:\s+[A-Z][a-z'’]+){{0,2}}"
)


def _canonical_agency_patterns() -> list[tuple[str, re.Pattern[str]]]:
    def pattern(aliases: tuple[str, ...]) -> re.Pattern[str]:
        # Acronyms match in capitals only ("MOH", not "moh"); names in any case.
        parts = [re.escape(a) if a.isupper() else "(?i:" + re.escape(a) + ")" for a in aliases]
        return re.compile(r"\b(?:" + "|".join(parts) + r")\b")

    return [(name, pattern(aliases)) for name, aliases in AGENCIES.items()]


_AGENCY_PATTERNS = _canonical_agency_patterns()
_TRAILING = " .,;:()'’\"-"


def _clean_span(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in _TRAILING and not (text[end - 1] == ")" and "(" in text[start:end]):
        end -= 1
    while start < end and text[start] in _TRAILING:
        start += 1
    return start, end


def mentions(text: str) -> list[Mention]:
    """Every entity mention in `text`, with where it is and its normalised value.
    Where two mentions overlap, the earlier-listed kind keeps the span (an IC
    number is not also a phone, a council is not also a place)."""
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, value: str | None, start: int, end: int, *, overlap_ok: bool = False) -> None:
        start, end = _clean_span(text, start, end)
        if value is None or end <= start:
            return
        if not overlap_ok and any(a < end and start < b for a, b in taken):
            return
        found.append(Mention(kind, " ".join(value.split()), start, end))
        taken.append((start, end))

    for m in _IC.finditer(text):
        add("IC_NUMBER", "".join(m.groups()), m.start(), m.end())
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        add("PHONE", "0" + digits[2:] if digits.startswith("60") else digits, m.start(), m.end())
    for m in _DATE.finditer(text):
        add("DATE", _date_value(m), m.start(), m.end())
    for m in _FIGURE_AMOUNT.finditer(text):
        value = _figure_value(m)
        add("AMOUNT", _money(value) if value else None, m.start(), m.end())
    for m in _WORD_AMOUNT.finditer(text):
        value = _words_value(m.group(1))
        add("AMOUNT", _money(value) if value else None, m.start(), m.end())
    for m in _PLATE.finditer(text):
        plate = m.group(1).replace(" ", "")
        letters = re.match(r"[A-Z]+", plate)
        if letters and letters.group(0) not in _NOT_A_PLATE and any(ch.isdigit() for ch in plate):
            add("VEHICLE_PLATE", plate, m.start(1), m.end(1))
    for m in _COMPANY.finditer(text):
        start = m.start(1)
        words = m.group(1).split()
        while words and words[0] in _COMPANY_LEAD_DROP and len(words) > 2:
            start = text.index(words[1], start + len(words[0]))
            words = words[1:]
        if len(words) >= 2 and words[0].rstrip(".") not in ("Sdn", "Bhd", "Berhad"):  # not "Sdn Bhd" alone
            add("COMPANY", text[start : m.end(1)], start, m.end(1))
    for m in _COMPANY_NAMES.finditer(text):
        add("COMPANY", m.group(0), m.start(), m.end())
    for m in _COMPANY_PREFIXED.finditer(text):
        add("COMPANY", m.group(0), m.start(), m.end())
    for m in _INSTITUTION.finditer(text):
        add("AGENCY", m.group(0), m.start(), m.end())
    for m in _COUNCIL_ACRONYM.finditer(text):
        branch = _BRANCH.match(text, m.end())
        add("AGENCY", m.group(0), m.start(), branch.end() if branch else m.end())
    for name, pattern in _AGENCY_PATTERNS:
        for m in pattern.finditer(text):
            branch = _BRANCH.match(text, m.end())
            add("AGENCY", name, m.start(), branch.end() if branch else m.end())
    for regex in (_PERSON_CHINESE, _PERSON_TITLED, _PERSON_PATRONYM):
        for m in regex.finditer(text):
            if _NAMED_AFTER.search(text, 0, m.start()):
                continue
            end = _person_end(text, m.start(), m.end())
            if not _TITLE_ONLY.fullmatch(text[m.start() : end]):
                add("PERSON", text[m.start() : end], m.start(), end)
    for m in _PERSON_NAMED.finditer(text):
        end = _person_end(text, m.start(1), m.end(1))
        if not _TITLE_ONLY.fullmatch(text[m.start(1) : end]):
            add("PERSON", text[m.start(1) : end], m.start(1), end)
    for regex in (_LOCATION, _TOWN, _PLACE_AFTER):
        for m in regex.finditer(text):
            add("LOCATION", m.group(0), m.start(), m.end())
    return sorted(found, key=lambda x: (x.start, x.type))


def extract(text: str) -> list[Entity]:
    """The distinct entities of `text`, in order of first mention."""
    return list(dict.fromkeys(Entity(m.type, m.value) for m in mentions(text)))
