"""Rule and gazetteer extraction of Malaysian entities from complaint text.

Each mention keeps where it was found (for evaluation against the labelled
corpus, ops/corpus/) and a normalised value: amounts as "RM5,000.00"
whether written "RM5k" or "lima ribu ringgit", phones and IC numbers as
digits, plates without spaces, agencies by their canonical name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline_service.analyzer import Entity, names

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
# The Malaysian plate grammar: a state letter (Peninsular A-W, Sabah S,
# Sarawak Q, Labuan L, taxis H, the forces Z) and up to two series letters
# (never I or O), then 1-4 digits without a leading zero, then an optional
# suffix letter ("WXY 1234", "BKA5678C", "SAB 4422 J", "QMF 8123", "W 6363 Q");
# or a special series ("PUTRAJAYA 8", "PATRIOT 1", "G1M 1234").
_PLATE = re.compile(
    r"(?<![\w/.-])((?:[ABCDFHJKLMNPQRSTVWZ][A-HJ-NP-Z]{0,2}|PUTRAJAYA|PATRIOT|SUKOM|MALAYSIA|G1M|1M4U|VIP)"
    r"(\s?)[1-9]\d{0,3}(?:\s?[A-HJ-NP-Z])?)(?![\w/-]|\.\d)"
)
# Letters + digits that name other things: bodies, forms and schemes ("CP204",
# "STR 2025", "PRU15"), machines, grades, exams.
_NOT_A_PLATE = names.word_set(
    """RM MACC SPRM PDRM JPJ JKR LHDN KKM KPM SK SMK SJK PT PTD PTG KM BK MB MP DBKL MBPJ MBSA MBJB MPKJ MPS SST SPM PMR
    UPSR STPM PT3 CCTV ATM CDM PKP PKPB PKPD PRU PRN STR BSH BPN CP RMK SOP PIN TAC OTP MH AK SMS MMS DVD CD TV MRT
    LRT BRT KTM ETS JKM JPN KWSP EPF SSM MCO SK SMKA MRSM KPT UPM UKM USM UTM UM UMS UMK UMP UMT"""
)
# Words before letters + digits that make them a grade, a model, a lot, a
# form, a flight, a room or a road ("gred N19", "Yamaha NVX 155", "Lot PT 1234",
# "Jalan SS 2/24") rather than a plate.
_NOT_A_PLATE_BEFORE = re.compile(
    r"\b(?i:gred|grade|lesen|licence|license|model|jenis|type|version|versi|form|borang|lot|unit|blok|block|level|aras|tingkat|bilik|room|"
    r"wad|ward|gate|pintu|platform|kaunter|counter|zon|zone|flight|penerbangan|seksyen|section|jalan|"
    r"jln|lorong|persiaran|fasa|phase|kod|code|siri|serial|saiz|size|rujukan|reference|ref|resit|receipt|"
    r"invois|invoice|akaun|account|no\.?\s?(?:lot|unit|rumah|siri|fail|akaun))"
    r"\W{0,3}$|(?:Honda|Yamaha|Suzuki|Kawasaki|Modenas|Toyota|Nissan|Mazda|Mitsubishi|BMW|Mercedes|Samsung|Galaxy|"
    r"iPhone|Apple|Oppo|Vivo|Huawei|Xiaomi|Redmi|Realme|Nokia|Canon|Nikon|Sony|HP|Dell|Lenovo|Asus|Acer|LG|"
    r"Panasonic|Daikin|Bosch|Makita|Hitachi|Komatsu|Volvo|Scania|Hino|Isuzu|Caterpillar|JCB|Nvidia|GeForce|Intel|AMD)"
    r"\s$"
)
# A vehicle mentioned just before: then even a short or glued plate is one.
_VEHICLE_BEFORE = re.compile(
    r"(?i:plat|plate|pendaftaran|registration|kenderaan|vehicle|kereta|car|motor|motosikal|motorsikal|moto|lori|"
    r"lorry|truck|trak|van|bas|bus|teksi|taxi|pikap|pickup|pick-up|SUV|MPV|ambulans|ambulance|treler|trailer|"
    r"jentera|Myvi|Axia|Bezza|Alza|Aruz|Ativa|Saga|Persona|Iriz|Exora|Wira|Waja|Kancil|Kelisa|Vios|Hilux|Civic|"
    r"Camry|Accord|Innova|Alphard|Vellfire|Triton|Navara|Ranger|Almera|Hiace|Starex|Avanza|Rush|BMW|Mercedes|Honda|"
    r"Toyota|Proton|Perodua|Nissan|Mazda|Mitsubishi|Isuzu|Hino|Ford|Kia|Hyundai|Lexus|Audi|Volvo|Yamaha|Suzuki)"
    r"\b[^.!?\n]{0,40}$"
)
# Road and area codes that look like short plates: "SS2", "PJU 7", "USJ 9".
_AREA_CODES = {"SS", "PJS", "PJU", "SJ", "BU", "TTDI", "PJ", "KL", "JB", "KK"}


def _is_plate(text: str, m: re.Match[str]) -> bool:
    """Whether a match of the plate grammar is a plate: never a known body,
    scheme or grade, nor after a word that makes it a model, lot or road; a
    glued or short one ("RS150", "DG41", "SS2") only with a vehicle near."""
    plate = m.group(1)
    letters = re.match(r"[A-Z]+", plate)
    prefix = letters.group(0) if letters else ""
    digits = re.search(r"\d+", plate)
    if not digits or not prefix:
        return False
    before = text[max(0, m.start() - 60) : m.start()]
    vehicle = bool(_VEHICLE_BEFORE.search(before))
    if _NOT_A_PLATE_BEFORE.search(before):
        return False
    if prefix in _NOT_A_PLATE or prefix in _AGENCY_ACRONYMS or _COUNCIL_ACRONYM.fullmatch(prefix):
        return vehicle and len(digits.group(0)) >= 3
    n, spaced, suffix = len(digits.group(0)), bool(m.group(2)), plate[-1].isalpha()
    if prefix in _AREA_CODES and n <= 2 and not suffix:
        return False
    if len(prefix) == 1:  # "W 6363 Q"; never "B40", "A4", "N95", "M404"
        return n >= 3 and (spaced or suffix or vehicle)
    if len(prefix) == 2 and not spaced and n < 4 and not suffix:  # "DG41", "MH370", "RS150"
        return vehicle
    return True


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
# What a number counts when it is not money: "dua ratus orang", "5 ribu km".
_COUNTED = (
    r"orang|people|persons?|km|kilometer|meter|unit|units|buah|keping|kg|tan|tonnes?|pelajar|students?|pekerja|"
    r"workers?|ahli|members?|penduduk|residents?|kali|times|hektar|ekar|acres?|sqft|kaki|feet|batang|biji|ekor|"
    r"helai|tahun|years?|bulan|months?|hari|days?|minggu|weeks?|jam|hours?|minit|minutes?|saat|seconds?|"
    r"haribulan|hb|pesakit|patients?|murid|pupils?|budak|kanak-kanak|children|kids|rumah|houses?|kereta|cars?|"
    r"liter|litres?|liters?|peratus|percent"
)
_FIGURE_AMOUNT = re.compile(
    r"(?:\bRM\s?|\bMYR\s?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(juta|million|mil|ribu|thousand|bilion|billion|k|m)\b)?"
    r"|\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s?(juta|million|ribu|thousand|bilion|billion|k)?\s?(?:ringgit|RM)\b"
    rf"|\b(\d{{1,3}}(?:\.\d)?)\s?(ribu|juta|ratus|k)\b(?!\s?(?:{_COUNTED})\b)",
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


def _alternatives(words: list[str]) -> str:
    """Longest first, whole words: else "eight" wins over "eighty" and "a" over "and"."""
    return "(?:" + "|".join(sorted(set(words), key=len, reverse=True)) + r")\b"


_LEADING = _alternatives([*(w for w in _NUMBER_WORDS if w != "a"), "seratus", "seribu", "sejuta", "sebelas"])
_FOLLOWING = _alternatives([*_NUMBER_WORDS, *_MULTIPLIERS, "seratus", "seribu", "sejuta", "dan", "and"])
# "lima ribu ringgit", "tiga ratus lima puluh ringgit", "two thousand ringgit".
# "lima ribu ringgit", "RM lima ribu", "tiga ratus lima puluh ringgit", "two thousand ringgit";
# without "ringgit", a sum with a scale in it ("dua ratus", "five hundred",
# "seribu") is money unless it counts something.
_WORD_AMOUNT = re.compile(
    rf"(?:\bRM\s?)?\b((?:{_LEADING}|a(?=\s+(?:hundred|thousand|million)))(?:[\s-]+(?:{_FOLLOWING}))*)"
    rf"(\s+ringgit\b|(?!\s+(?:{_COUNTED}|of)\b))",
    re.IGNORECASE,
)
_SCALED = re.compile(r"\b(?:puluh|ratus|ribu|juta|hundred|thousand|million|seratus|seribu|sejuta|ringgit|RM)\b", re.I)
# Cents, and other currencies ("50 sen", "USD 2,000", "S$500").
_OTHER_AMOUNT = re.compile(
    r"\b(\d{1,3})\s?sen\b|(?:\b(USD|SGD|US\$|S\$)|(?<![\w$])(\$))\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
)


def _other_amount(m: re.Match[str]) -> str:
    if m.group(1):
        return _money(int(m.group(1)) / 100)
    currency = {"US$": "USD", "S$": "SGD", "$": "USD"}.get(m.group(2) or m.group(3), m.group(2))
    return f"{currency}{float(m.group(4).replace(',', '') + '.' + (m.group(5) or '0')):,.2f}"


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
    rf"|(\d{{4}})[/.-](\d{{1,2}})[/.-](\d{{1,2}})"
    rf"|(\d{{1,2}})(?:hb|haribulan|st|nd|rd|th)?\s*(?:hb\.?\s*)?(?:haribulan\s+|of\s+)?({_MONTH})\.?(?:,?\s+(\d{{4}}))?"
    rf"|({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?)\b",
    re.IGNORECASE,
)

# Day and month alone ("on 9/5", "Jumaat 14/3"): a date only after a word
# that says so, since "2/3" may be a share and "24/7" is all the time.
_DAY_MONTH = re.compile(
    r"\b(?:on|pada|tarikh|date|dated|bertarikh|semalam|malam|pagi|petang|tengah\s?hari|hari|sejak|since|until|"
    r"hingga|sampai|before|after|sebelum|selepas|Isnin|Selasa|Rabu|Khamis|Jumaat|Sabtu|Ahad|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday),?\s+(([0-3]?\d)/([01]?\d))(?![/\d])",
    re.IGNORECASE,
)

# A day of the month said with the Malay marker and no month ("malam 14hb
# tu"): the month is the one being told. Its value is ISO 8601's day alone.
_DAY_ONLY = re.compile(r"\b([0-3]?\d)\s?(?:hb\b\.?|haribulan\b)", re.IGNORECASE)
# A day of a Hijri month ("27 Ramadan", "1 Syawal 1446H"): a day, though not
# one of the Gregorian calendar, so its value keeps the month's name.
_HIJRI_MONTHS = {
    "muharram": "Muharram",
    "muharam": "Muharram",
    "safar": "Safar",
    "rabiulawal": "Rabiulawal",
    "rabiul awal": "Rabiulawal",
    "rabiulakhir": "Rabiulakhir",
    "rabiul akhir": "Rabiulakhir",
    "jamadilawal": "Jamadilawal",
    "jamadil awal": "Jamadilawal",
    "jamadilakhir": "Jamadilakhir",
    "jamadil akhir": "Jamadilakhir",
    "rejab": "Rejab",
    "syaaban": "Syaaban",
    "syaban": "Syaaban",
    "sya'ban": "Syaaban",
    "ramadan": "Ramadan",
    "ramadhan": "Ramadan",
    "syawal": "Syawal",
    "zulkaedah": "Zulkaedah",
    "zulkaidah": "Zulkaedah",
    "zulhijjah": "Zulhijjah",
}
_HIJRI_DATE = re.compile(
    rf"\b([0-3]?\d)(?:hb|haribulan)?\s*({'|'.join(_HIJRI_MONTHS)})(?:\s+(1[34]\d\d)\s?H?)?\b", re.IGNORECASE
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
    r"Datin Paduka|Datin|Datu|Senator|"
    r"Dato|Tun|Tengku|Tunku|Raja|Yang Berhormat|YB|YBhg\.?|Tuan Haji|Tuan Hj\.?|Tuan|Haji|Hajah|Hajjah|Hj\.?|"
    r"Hjh\.?|Encik|Enche|En\.?|Cik Puan|Puan|Pn\.?|Cik|Cikgu|Ustaz|Ustazah|Imam|Pak Cik|Pakcik|Mak Cik|Makcik|"
    r"Pak|Mak|Tok|Abang|Bang|Abe|Kak|Akak|Adik|Dr\.?|Doktor|Ir\.?|Ts\.?|Sdr\.?|Sdri\.?|Saudara|Saudari|"
    r"Prof\.?\s?Madya|Assoc\.?\s?Prof\.?|Prof\.?|Profesor|Ketua Inspektor|Chief Inspector|Sub[\s-]Inspektor|"
    r"Inspektor|Inspector|Insp\.?|Sarjan Mejar|Sarjan|Sergeant|Sgt\.?|Sjn\.?|Lans Koperal|Lance Corporal|"
    r"L/Kpl\.?|Koperal|Corporal|Kpl\.?|Konstabel|Constable|Kons\.?|ASP|DSP|Supt\.?|ACP|SAC|Kapten|Capt\.?|Mejar|"
    r"Leftenan|(?:Penolong\s+)?Penguasa(?:\s+Bomba)?|Pegawai\s+Bomba|Ketua Kampung|Tok Ketua|Tok Batin|Penghulu|"
    r"Mr\.?|Mrs\.?|Ms\.?|Miss|Madam|Mdm\.?|Sir|Uncle|Aunty|"
    r"Auntie|Sister|Misi|Officer|"
    r"Pegawai|Bro|Bos|Boss|Towkay|Tauke|Taukeh|Apek"
)
# Titles are often typed in lower case ("cikgu Salmah", "boss Jerry"); the
# name after one is capitalised. "Ah" ("Ah Seng") only as written.
# Titles people also type in lower case; the rest ("Saudara", "Adik",
# "Imam", "Sister") are ordinary words in lower case ("anak saudara Dekan").
_LOWER_CASE_TITLES = (
    r"encik|en\.?|puan|pn\.?|cik|cikgu|ustaz|ustazah|pak\s?cik|mak\s?cik|pak|mak|kak|akak|abang|bang|abe|datuk|"
    r"dato'?|datin|dr\.?|doktor|inspektor|inspector|sarjan|sergeant|koperal|corporal|konstabel|constable|mr\.?|"
    r"mrs\.?|ms\.?|madam|uncle|aunty|auntie|officer|pegawai|bos|boss|tauke|towkay|taukeh|apek|tuan|haji|hj\.?"
)
_TITLES = rf"(?:{_TITLE}|Ah|(?:{_LOWER_CASE_TITLES})(?=\s))"
_NAME_WORD = r"[A-Z][a-zA-Z'’@-]+"
_PATRONYM = r"(?i:bin|binti|bt\.?|bte\.?|bn\.?|b\.|a/l|a/p|s/o|d/o|anak|ak\.?)"
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_PATRONYM}\s+)?{_NAME_WORD}){{0,4}}"
_PERSON_TITLED = re.compile(rf"\b{_TITLES}\s+(?:[A-Z]\.\s?)?{_NAME}")
# Untitled: "Ahmad bin Ali", "Suresh a/l Muniandy", "Ting anak Jalong".
_PERSON_PATRONYM = re.compile(
    rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}\s+{_PATRONYM}\s+{_NAME_WORD}(?:\s+{_NAME_WORD})?"
)
# Runs of capitalised words, in which names without a title are looked for
# by their shape (names.py): "Ahmad Fauzi", "Tan Kok Wing", "Kelvin Ong".
_CAPITALISED_RUN = re.compile(r"[A-Z][a-zA-Z'’@-]*(?:[ \t]+[A-Z][a-zA-Z'’@-]*)*")
# Titles that are also posts: a person only when a known name follows.
_ROLE_TITLE = re.compile(r"(?i:pegawai|officer)\s+")
_SHOP_NAME_IS = (
    r"(?i:nama|name of the)\s+(?i:kedai|shop|store|syarikat|company|restoran|kilang|factory)"
    r"(?:\s+(?i:itu|tu|ini|ni|dia|tersebut))?"
)
# A name introduced after a shop or a company is the business's, also where
# the sentence says where it is first ("money changer kat Jalan Wong Ah Fook,
# nama Permata Emas") but not when a person comes between ("kilang itu, seorang
# lelaki bernama Ng"), and a shop's name given as such ("nama kedai itu Sentosa").
_SHOP_BEFORE = re.compile(
    r"\b(?i:kedai|shop|store|syarikat|company|firma|restoran|page|money changer|kilang|factory|bengkel|workshop)"
    r"(?:\s+(?!(?i:seorang|lelaki|perempuan|wanita|man|woman|lady|guy|pengurus|manager|owner|pemilik|tauke|boss|"
    r"pekerja|staff|kerani|clerk|director|pengarah|dia|he|she)\b)[^\s.!?]+){0,6}\s+(?i:bernama|named|called|nama)\s+[\"'“‘]?$"
    rf"|\b{_SHOP_NAME_IS}(?:\s+(?i:ialah|adalah|is|was))?\s+[\"'“‘]?$"
)
_SURNAME_BEFORE = re.compile(r"\b([A-Z][a-z]+) $")
_TITLE_WORDS = names.word_set("Encik Puan Cik Tuan Mr Mrs Ms Dr Datuk Dato Haji Cikgu")
_CONNECTOR = {"bin", "binti", "bt", "bte", "bn", "b", "a/l", "a/p", "s/o", "d/o", "anak", "ak"}
_CHINESE_SYLLABLE = re.compile(r"[A-Z][a-z]{1,5}")


def _name_key(word: str) -> str:
    return word.strip("'’.,").capitalize() if word.isupper() else word.strip("'’.,")


def _starts_name(word: str) -> bool:
    key = _name_key(word)
    return key in names.GIVEN or key in names.HEREDITARY or key in names.CHINESE_SURNAMES


def _untitled_people(text: str) -> list[tuple[int, int]]:
    """Names without a title, found by their shape in runs of capitalised
    words: a given name or hereditary prefix and the name words after it,
    or a Chinese surname and one or two given-name syllables; a known given
    name may stand alone. Not inside a road's, a building's or a town's name."""
    spans = []
    for run in _CAPITALISED_RUN.finditer(text):
        words = list(re.finditer(r"\S+", run.group(0)))
        after_place = _inside_a_name(text, run.start())
        i = 0
        while i < len(words):
            word = words[i].group(0)
            key = _name_key(word)
            if after_place or key in _PLACE_WORDS or _TOWN.match(run.group(0), words[i].start()):
                after_place = after_place or key in _PLACE_WORDS
                i += 1
                continue
            if not _starts_name(word):
                i += 1
                continue
            upper = word.isupper()
            j = i + 1
            while j < len(words) and j - i < 5:
                nxt = words[j].group(0)
                nkey = _name_key(nxt)
                if nkey in _STOP_WORDS or nkey in _PLACE_WORDS or _TOWN.match(run.group(0), words[j].start()):
                    break
                if nxt.isupper() != upper and len(nxt) > 1:  # "Azhar JPJ", "ROSLI Datang"
                    break
                if upper and not _starts_name(nxt) and words[j - 1].group(0).lower().rstrip(".") not in _CONNECTOR:
                    break
                j += 1
            chinese = key in names.CHINESE_SURNAMES and key not in names.GIVEN and key not in names.HEREDITARY
            if chinese:  # a surname, then one or two short given-name syllables
                j = i + 1
                while j < len(words) and j - i <= 2 and _CHINESE_SYLLABLE.fullmatch(_name_key(words[j].group(0))):
                    if _name_key(words[j].group(0)) in _NOT_NAME_WORDS | _PLACE_WORDS:  # "Mei" may be a month
                        break
                    j += 1
                ok = j > i + 1
            else:
                ok = j > i + 1 or (key not in names.NOT_ALONE and key in names.GIVEN)
            if ok:
                spans.append((run.start() + words[i].start(), run.start() + words[j - 1].end()))
                i = j
            else:
                i += 1
    return spans


# Introduced by name: "bernama Zulkifli", "tag nama ROSLI", "orang panggil Rizal",
# or set beside who they are: "his wife, Rosnah", "the owner is Shahrul Nizam".
_PERSON_NAMED = re.compile(
    rf"(?:\b(?:bernama|namanya|nama dia|{_SHOP_NAME_IS}|nama|named|called|dikenali sebagai|panggil(?: dia)?|name|"
    rf"nama tag|tag nama|name tag|badge nama|nama pada (?:tag|baju)|nama di (?:tag|baju)|tag|atas nama|in the name of|"
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


# Words that end a name, or show the capitalised words are not one.
# Words a name never runs into: months, days, peoples, roles.
_CUT_WORDS = _NOT_NAME_WORDS | names.word_set(
    """Januari Februari Mac April Mei Jun Julai Ogos September Oktober November Disember January February March
    May June July August October December Isnin Selasa Rabu Khamis Jumaat Sabtu Ahad Monday Tuesday Wednesday
    Thursday Friday Saturday Sunday Chinese Cina Melayu Malay India Indian Bangla Bangladeshi Indonesia Nepal
    Myanmar Pakistan Guru Besar Pengetua Pengarah Pengurus Ketua Penolong Timbalan"""
)
_STOP_WORDS = _CUT_WORDS | names.word_set(
    """Mereka Beliau Kita You Your My Our His Her Their Its After Before Also Please
    Sila Mohon Terima Kasih Thank Thanks Hi Hello Dear Kemudian Akhirnya Oleh Kerana Sebab Jika Ada Tak Tidak
    Ini Itu Untuk Dengan Dari Kepada Ke Di Apa Siapa Kenapa Mengapa Bagaimana Mana What Who Why How Where Which
    Sdn Bhd Berhad Enterprise Enterprises Holdings Trading Resources Construction Services Ventures Group PLT
    Datuk Dato Datin Haji Hajah Cikgu Ustaz Inspektor Sarjan Koperal Officer Pegawai Boss Bos Mr Mrs Ms Dr
    Sir Madam Sultan Sultanah Tuanku Tunku Tengku Raja Tun Sri Seri Ketua Kampung Penghulu Guru Besar Pengetua
    Pengarah Pengurus Manager Director Chairman Pengerusi Menteri Minister Presiden President Timbalan Deputy
    Assistant Penolong Kerani Clerk Police Polis Facebook WhatsApp Telegram Instagram TikTok Google Grab
    Shopee Lazada Islam Allah Tuhan God Malaysia Malaysian Melayu Cina India Chinese Indian Bumiputera OK Okay
    Yes No Ya Tidak Bukan Sorry Maaf Aduan Complaint Report Laporan Subject Perkara Re Tarikh Date Masa Time"""
)
_PLACE_WORDS = names.word_set(
    """Jalan Jln Lorong Lebuh Lebuhraya Persiaran Taman Tmn Kampung Kampong Kg Bandar Seksyen Section Pekan
    Pulau Bukit Sungai Sg Simpang Desa Felda Pangsapuri Flat Apartment Kuarters Padang Pasar Medan Wisma Menara
    Kompleks Dataran Plaza Masjid Surau Sekolah SK SMK SJK SJKC Hospital Klinik Universiti Kolej Dewan Stadium
    Institut Balai Pejabat Jabatan Majlis Kementerian Road Street Avenue Highway Tol Stesen Terminal Lapangan
    Tanjung Teluk Kuala Batu Air Ayer Parit Permatang Bandaraya Pusat Perumahan Residensi Kondominium Blok
    Block Mall Jetty Pantai Kota Lembah Gunung Bt Km Lot Bangunan Kedai Restoran Syarikat Koperasi Bengkel Hotel
    Persatuan Kelab Yayasan Tabung Program Sumbangan Bantuan Projek Skim Dana"""
)


def _inside_a_name(text: str, start: int) -> bool:
    """Whether the capitalised words just before `start` begin a place's,
    a building's or a body's name ("Jalan Wong Ah Fook", "Koperasi Nelayan
    Tok Bali", "Bangunan Sultan Iskandar")."""
    before = text[max(0, start - 40) : start].split(" ")[:-1]
    for word in reversed(before[-4:]):
        if (
            not word
            or word[-1] in ',.;:!?)"”'
            or (not word[:1].isupper() and word.lower() not in ("jalan", "taman", "kampung", "lorong"))
        ):
            return False
        if word.capitalize().rstrip(".") in _PLACE_WORDS:
            return True
    return False


_TITLE_ONLY = re.compile(rf"(?:{_TITLE}|Corporal|Sergeant|Inspector|Penguasa|Pengarah|Tuan Pengarah)", re.IGNORECASE)


def _person_end(text: str, start: int, end: int) -> int:
    """Cuts a name before words that start places, bodies or a new sentence,
    and before an acronym after a name in mixed case ("En. Azhar JPJ")."""
    title = _LEADING_TITLE.match(text, start, end)
    skip = title.end() - start if title else 0
    words = list(re.finditer(r"\S+", text[start:end]))
    for i, w in enumerate(words):
        word = w.group(0).strip(".,;:'’\"")
        acronym = i and len(word) >= 2 and word.isupper() and not all(x.group(0).isupper() for x in words[:i])
        if w.start() >= skip and (word in _CUT_WORDS or word in _PLACE_WORDS or acronym):
            return start + words[i - 1].end() if i else start
    return end


_LEADING_TITLE = re.compile(rf"{_TITLES}\s+")
_PLACE_STARTS = names.word_set("Kampung Kg Taman Tmn Jalan Jln Lorong Bandar Pekan Felda Seksyen")
_NAMED_AFTER_PLACE = re.compile(r"\b(?:Jalan|Jln\.?|Lorong|Persiaran|Lebuh|Taman|Tmn\.?|Kampung|Kg\.?)\s+$")
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
_NOT_PLACE = (
    r"(?:Januari|Februari|Mac|April|Mei|Jun|Julai|Ogos|September|Oktober|November|Disember|January|February|"
    r"March|May|June|July|August|October|December|Jan|Feb|Mar|Apr|Jul|Aug|Sept?|Oct|Okt|Nov|Dec|Dis|Isnin|Selasa|Rabu|Khamis|Jumaat|Sabtu|Ahad|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday|I|The|This|That|My|Our|His|Her|Their|RM|Encik|Puan|Tuan|"
    r"Cik|Mr|Mrs|Ms|Dr|Dato|Datuk|Inspektor|Sarjan|Koperal|Facebook|WhatsApp|Telegram|Instagram|TikTok|"
    r"Shopee|Lazada|Google|Twitter|YouTube|Nilai projek|Km|Level|Aras|Tingkat|Lot|Blok|Block|Unit|No)\b"
)
# Councils by acronym (MBJB, MBSA, MBPJ, MPKj, MPSepang, DBKU), public
# universities (UM, UKM, UiTM, UMK...), hospitals (HKL, HSNZ, HUKM), other
# bodies known by their initials (PPD, PTD, KPDN, JAKIM, RELA...), and the
# capitalised words "Imigresen", "Kastam", "Bomba" (lower case they are generic).
_COUNCIL_ACRONYM = re.compile(
    r"\b(?!MBA\b|MBBS\b|MPH\b|MPV\b|MDMA\b|MPEG\b)"
    r"(?:MB[A-Z]{1,3}|MP(?!V\b)[A-Z][A-Za-z]{0,7}|MD[A-Z][A-Za-z]{0,6}|DB[A-Z]{1,2}|PBT|"
    r"UM|UKM|UPM|USM|UTM|UiTM|UUM|UIAM|IIUM|UNIMAS|UMS|UMT|UMK|UMP|UTHM|UTeM|UniMAP|UPSI|USIM|UPNM|UniSZA|"
    r"HKL|HSNZ|HUKM|HUSM|HRPZ|HTAR|HSA|HRPB|HPP|HTJ|HSB|HTAA|HQE|HSI|HSAH|HSNI|HSJ|PPUM|"
    r"PPD|PTD|PDT|PKD|JKN|JPNS|KPDN|KPDNHEP|KPDNKK|JAKIM|JAKOA|RELA|APM|JPAM|JTK|JPA|SPR|SKMM|MCMC|RISDA|"
    r"FELCRA|LKIM|FAMA|MARDI|JPV|DOSH|JKKP|KDN|KPKT|KPWKM|LPPKN|JPS|JUPEM|JKPTG|ICQS|IPG|TLDM|TUDM|"
    r"MAIS|MAIWP|MAINS|MAIJ|MAIK|MAIDAM|MAIPk|MAIPs|MAIM|MAINPP|MUIS|MIS|SKM|SPAN|SIRIM|LGM|"
    r"KESEDAR|KETENGAH|KEJORA|DARA|Imigresen|Kastam|(?<!Penguasa )(?<!Pegawai )Bomba)(?![\w-])"
)
# A named public institution: the kind first, in any case ("Balai Polis Dang
# Wangi", "hospital Kajang", "SJK(C) Chung Hwa", "Pejabat Tanah dan Galian
# Melaka"), or after the name ("Kajang Hospital", "Hulu Langat Land Office").
_INSTITUTION_KIND = (
    r"(?i:Majlis\s+(?:Bandaraya|Perbandaran|Daerah)|Dewan\s+Bandaraya|"
    r"Hospital(?:\s+(?:Besar|Pakar|Daerah|Umum|Wanita\s+dan\s+Kanak-kanak))?|"
    r"Klinik\s+(?:Kesihatan|Desa|Pergigian|Komuniti|1Malaysia)|Pusat\s+Kesihatan(?:\s+Daerah)?|"
    r"Sekolah\s+(?:Kebangsaan|Menengah(?:\s+(?:Kebangsaan|Sains|Teknik|Agama))?|"
    r"Jenis\s+Kebangsaan(?:\s+\((?:Cina|Tamil)\)|\s+Cina|\s+Tamil)?|Rendah(?:\s+Agama)?|Agama|Sukan|Seni|"
    r"Berasrama\s+Penuh)|Kolej\s+(?:Vokasional|Komuniti|Matrikulasi)|Politeknik|Institut\s+Pendidikan\s+Guru|"
    r"Balai\s+Polis|Pondok\s+Polis|Ibu\s+Pejabat\s+Polis(?:\s+Daerah|\s+Kontinjen)?|"
    r"Balai\s+Bomba(?:\s+dan\s+Penyelamat)?|Stesen\s+Bomba|"
    r"Pejabat\s+Tanah(?:\s+dan\s+(?:Galian|Jajahan|Daerah|Ukur(?:\s+Daerah)?))?(?:\s+Daerah)?|"
    r"Pejabat\s+Daerah(?:\s+dan\s+Tanah)?|Jabatan\s+Tanah\s+dan\s+Survei|"
    r"Pejabat\s+(?:Pendidikan|Kesihatan|Kebajikan\s+Masyarakat|Agama\s+Islam|Pos)(?:\s+Daerah)?|"
    r"Jabatan\s+(?:Pendidikan|Kesihatan)(?:\s+Negeri)?|Mahkamah(?:\s+(?:Majistret|Sesyen|Tinggi|Syariah|"
    r"Rendah\s+Syariah|Tinggi\s+Syariah))?|Penjara|Depot\s+Imigresen|Kompleks\s+(?:Kastam|Imigresen|ICQS|CIQ))"
    r"|SMK|SK|SJKC|SJKT|SJK\s?\((?:C|T)\)|SJK|SMJK|SMKA|SMS|SBP|MRSM|SRA|IPD|IPK"
    # Generic kinds only as written with a capital: "Jabatan Ukur dan Pemetaan", not "jabatan tu".
    r"|Jabatan|Pejabat|Kementerian|Lembaga|Perbadanan|Suruhanjaya|Universiti|Institut|Kolej|Masjid|Surau|"
    r"Majlis\s+(?:Agama|Ugama)\s+Islam(?:\s+dan\s+Adat(?:\s+Istiadat)?\s+Melayu)?"
)
# A name after the kind; "dan" joins its words ("Ukur dan Pemetaan"), not two bodies.
_NAMED = (
    rf"(?:[A-Z][\w'’()-]*|\d+)"
    rf"(?:[ \t]+(?:dan[ \t]+(?![A-Z]{{2}}|(?:{_INSTITUTION_KIND})\b))?(?:[A-Z][\w'’()-]*|\d+)){{0,4}}"
)
_INSTITUTION_AFTER = (
    r"(?i:City\s+Council|City\s+Hall|Municipal\s+Council|District\s+Council|(?:District\s+)?Land\s+Office|"
    r"Land\s+and\s+Mines\s+Office|District\s+Office|(?:District\s+)?Police\s+(?:Station|Headquarters)|"
    r"Fire\s+(?:and\s+Rescue\s+)?Station|(?:District\s+)?(?:Health|Education)\s+Office|Post\s+Office|"
    r"(?:General\s+|District\s+)?Hospital|Health\s+Clinic|(?:Magistrate'?s\s+|Sessions\s+|High\s+)?Court|"
    r"Prison|Immigration\s+(?:Office|Depot)|(?:Secondary|Primary|National|Vocational)\s+School|Polytechnic)"
    r"|School|University|College|Department|Council|Clinic"
)
_KIND_AFTER = re.compile(rf"(?:{_INSTITUTION_AFTER}|(?i:District|General|Police|Land|City|Municipal|Health)\b)")
_INSTITUTION = re.compile(
    rf"\b(?:(?:{_INSTITUTION_KIND})\s+(?!{_NOT_PLACE}){_NAMED}"
    rf"|(?P<after>(?:[A-Z][\w'’-]*\s+){{1,4}}(?:{_INSTITUTION_AFTER})\b)"
    r"|(?:Ministry|Department)\s+of\s+(?:[A-Z][\w'’-]*)(?:\s+(?:and\s+)?(?!Ministry|Department)[A-Z][\w'’-]*){0,3}"
    r"|Tribunal(?:\s+[A-Z][\w'’-]*){1,4})"
)
# What may open an after-form match without naming the place ("The", "Pengarah").
_NOT_A_NAME_START = _STOP_WORDS | {"The", "A", "An", "Our", "Their", "Every", "Each", "Any"}


def _named_start(text: str, start: int, end: int) -> int:
    """Where "<name> Hospital"'s name starts once words that name nothing are
    dropped ("The Kajang Hospital"); `end` if only the kind is left ("Pengarah
    Hospital", "The Police Station")."""
    for word in re.finditer(r"\S+", text[start:end]):
        if word.group(0).strip("'’\",") in _NOT_A_NAME_START:
            continue
        return end if _KIND_AFTER.match(text, start + word.start()) else start + word.start()
    return end


# A company by its suffix, in any case ("Sdn. Bhd.", "SDN BHD", "Berhad",
# "PLT", "& Co") or by the word for its trade ("Trading", "Construction",
# "Money Exchange", "Bakery & Catering").
_COMPANY_SUFFIX = (
    r"(?i:Sdn\.?\s*Bhd\.?|Berhad|Bhd\.?|PLT|Sdn|Pte\.?\s*Ltd\.?|Ltd\.?|Limited|Inc\.?|LLC)|&\s?(?:Co\.?|Sons|Anak-Anak)|Enterprises?|Holdings|Trading|Resources|"
    r"Construction|Engineering|Services|Ventures|Industries|Corporation|Corp\.?|Group|Solutions|Supplies|"
    r"Logistics|Developments?|Developers?|Properties|Motors?|Agency|Agencies|Builders|Contractors|Distributors?|Distribution|"
    r"Pharma|Pharmacy|Marketing|Manufacturing|Capital|Investments?|Realty|Management|Security|Sekuriti|"
    r"Catering|Bakery|Furniture|Electrical|Machinery|Plantations?|Foods?|Printing|Transport|Shipping|Freight|"
    r"Express|Cargo|Courier|Energy|Communications|Telecommunications|Textiles?|Garments|Seafood|Steel|Timber|"
    r"Rubber|Exchange|Auto(?:\s+Care)?|Café|Cafe|Restaurant|Resort|Salon|Studio|Tuition|Academy|Bina|Associates|Partners"
)
# Words after which capitalised words are a public body's name ("Jabatan
# Perkhidmatan Awam", "Ministry of Human Resources"), not a company's.
_AFTER_A_BODY = re.compile(
    r"\b(?i:jabatan|kementerian|lembaga|majlis|pejabat|perbadanan|suruhanjaya|unit|bahagian|"
    r"(?:ministry|department) of)\s+$"
)
# A word that makes a name a company's or a body's, not a person's.
_BODY_WORD = re.compile(rf"\b(?:{_COMPANY_SUFFIX}|{_INSTITUTION_AFTER}|Money Changer|Gold|Emas)\b")
_COMPANY = re.compile(
    rf"\b((?:[A-Z][\w&'’.-]*\s+)(?:(?:[A-Z][\w&'’.-]*|\d+|&|\((?:M|Malaysia)\))\s+){{0,5}}(?:{_COMPANY_SUFFIX})"
    # more of its trade or its legal form: "Motor Trading Co.", "Transport & Logistics", "Resources (M) Sdn. Bhd."
    rf"(?:\s+(?:&\s?)?(?:{_COMPANY_SUFFIX}|Co\.?|Works)|\s?\((?:M|Malaysia)\)\s?(?i:Sdn\.?\s*Bhd\.?|Berhad|Bhd\.?))*)(?=\W|$)"
)
# Words that name no company on their own: before a suffix ("Customer
# Services", "WhatsApp Group", "Enforcement Agency", "Syarikat Sdn Bhd") a
# company needs at least one word that is not one of these.
_NOT_A_COMPANY_NAME = names.word_set(
    """Syarikat Company Kompeni The A An This That Our My His Her Their Your Its Sebuah Satu Shell Nominee Proxy
    Ada Dia Itu Ini Local Private Swasta Customer Public Financial Social Human Health Legal Support Emergency
    Welfare Medical Government Kerajaan WhatsApp Facebook Telegram Instagram Ministry Department Jabatan
    Kementerian Council Maritime Enforcement Anti-Corruption Rural National Community Islamic Islam Sdn Bhd
    Berhad New Big Small Main Head Other Another Same Such Each Every Some Any Dan And Of Di Kat Ke Dari Pada
    Oleh Untuk With From To By At In On Semua All Related Own Family Keluarga Agency Services Group I Saya Kami
    Mereka Beliau Kelas Gred Grade Class Contractor Kontraktor Supplier Pembekal Vendor"""
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
    "Carousell",
    "Mudah.my",
    "Facebook Marketplace",
    "TikTok Shop",
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
    r"\b(?:(?:Syarikat|Kedai|Restoran|Hotel|Chop|Butik|Bengkel|Kilang|Kafe|Gerai|Farmasi)(?:\s+(?:runcit|emas|makan|"
    r"kopi|motor|kereta|basikal|telefon|handphone|gajet|elektrik|perabot|ubat|buku|baju|jahit|dobi|bunga|kek|roti|"
    r"tayar|aksesori|komputer|mamak|barang|kain|besi|kayu|papan|simen|cat|minyak|ikan|ayam|daging|sayur)){0,2}"
    r"|(?:syarikat|kedai|restoran|bengkel|kilang)(?:\s+(?:runcit|emas|makan|kopi|motor|kereta|telefon|handphone|"
    r"gajet|elektrik|perabot|ubat|buku|jahit|dobi|tayar|komputer|mamak|barang|besi|kayu|simen|minyak|ikan)){1,2}"
    r"|Akademi Memandu|Institut Memandu|Sekolah Memandu|Pusat Tuisyen|Firma|Tetuan|Agensi Pekerjaan|Klinik Swasta|"
    r"Perniagaan|Pengurusan|Pembinaan|Perkhidmatan|Perusahaan|Pusat Servis|Koperasi|Pasaraya|Warung|Kantin|"
    # a private clinic; public ones are bodies ("Klinik Kesihatan Bangi")
    r"Klinik(?!\s+(?i:kesihatan|desa|pergigian|komuniti|1malaysia|swasta)\b)|Pusat Jagaan)"
    r"((?:\s+(?:[A-Z][\w&'’-]*|\d+)){1,6})"
    r"|\b((?:[A-Z][\w&'’-]*\s+){1,4})(?:Money Changer|Brothers|Bros\.?|Agro|Workshop|Hardware|Travel|Tours|Store|"
    r"Shop|Mart|Assets|Digital|Saintifik|Scientific|Technologies|Technology|Tech|Consultancy|Consultants)\b"
)
# Named by what it is: "contractor Teguh Jaya", "the supplier was Azka
# Saintifik", "syarikat bernama Jasa Bina".
_COMPANY_NAMED = re.compile(
    r"\b(?i:syarikat|company|firma|firm|kontraktor|contractor|sub-?kontraktor|sub-?contractor|vendor|supplier|"
    r"pembekal|pemborong|money changer|kilang|factory|tender winner|winner)"
    r"(?:\s+(?i:bernama|called|named|nama|iaitu|is|was|ialah|dia))?\s+"
    r"((?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3})"
    # or described right after: "Kilat Bersih, syarikat yang baru ditubuhkan", "Tiara Hijau, a company"
    r"|\b((?:[A-Z][\w&'’-]*)(?:\s+[A-Z][\w&'’-]*){0,3}),\s+(?:(?:a|sebuah|satu)\s+)?(?i:syarikat|company|firm|firma)\b"
    r"(?!\s+[A-Z])"
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
    # what it is, before its name: "Kontraktor Bina Jaya Sdn Bhd"
    "Kontraktor",
    "Contractor",
    "Pembekal",
    "Supplier",
    "Vendor",
}
_LOCATION = re.compile(
    r"\b(?:Jalan|Jln\.?|Lorong|Lebuh|Lebuhraya|Persiaran|Taman|Tmn\.?|Kampung|Kampong|Kg\.?|Bandar|Seksyen|Section|"
    r"Pekan|Pulau|Bukit|Sungai|Sg\.?|Tol|Plaza\s+Tol|Simpang|Batu|Desa|Felda|Pangsapuri|Flat|Apartment|Kuarters|"
    r"Padang|Pasar|Medan|Wisma|Menara|Kompleks|Dataran|Pelabuhan|Port|Lapangan\s+Terbang|Stesen|Terminal|KLIA2?|"
    r"Pantai|Jeti|(?i:kawasan|taman|zon)\s+perindustrian|Rumah\s+Panjang|Kuala|Tanjung|Teluk|Parit|Permatang|"
    r"Bangunan|PPR|Rumah\s+Pangsa)"
    r"\s+(?:[A-Z0-9][\w'’/-]*)(?:\s+(?:[A-Z0-9][\w'’/-]*)){0,3}"
    rf"|\b(?:(?!{_NOT_PLACE})[A-Z][\w'’-]*\s+){{1,2}}(?:Road|Street|Avenue|Highway|Expressway|Toll|Roundabout|Market|Mall|"
    r"Jetty|Lane)\b"
    # "the Kolopis area", "Tasek industrial area", "Gong Badak campus"
    rf"|\b(?:(?!{_NOT_PLACE})[A-Z][\w'’-]*\s+){{1,2}}(?=(?:industrial\s+|housing\s+)?(?:area|estate|village|town|campus)\b)"
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
    "KL|KK|JB|PJ|KT|KB|"
    "Singapore|Singapura|Thailand|Indonesia|Brunei|Bangkok|Hatyai|Hat Yai|Jakarta|Batam|Bandung|Hong Kong|Dubai|"
    "Bali|Phuket|Maldives|Europe|Eropah"
)
# A place's name used for something else: "dolar Singapura", "Singapore dollars", "Nilai projek".
_NOT_A_PLACE_AROUND = re.compile(
    r"(?i:dolar|dollars?)\s+[A-Z]\w+|[A-Z]\w+\s+(?i:dollars?|dolar)\b"
    r"|(?i:under|bawah|of|and|dan)\s+(?:Section|Seksyen)\s+\d"  # the law's sections
    r"|\bNilai\s+(?i:projek|kontrak|tender|harga|sebenar|tanah|hartanah|rumah|aset|saham|pasaran|kerja|perolehan|"
    r"keseluruhan|barang|bayaran|tuntutan|invois|pinjaman|jualan|wang|item)\b"
)
# More towns, mukims and suburbs, state by state.
_MORE_TOWNS = (
    "Kuala Perlis|Kaki Bukit|Beseri|Chuping|Gurun|Sik|Changlun|Bukit Kayu Hitam|Alor Star|Kuala Kedah|Bedong|"
    "Sungai Lalang|Padang Serai|Jelutong|Gelugor|Tanjung Bungah|Tanjung Tokong|Batu Ferringhi|Bayan Baru|"
    "Relau|Sungai Ara|Paya Terubong|Juru|Simpang Ampat|Permatang Pauh|Tasek Gelugor|Sungai Bakap|Bukit Tengah|Prai|"
    "Menglembu|Tanjung Rambutan|Sungai Siput|Tronoh|Kuala Kurau|Changkat Jering|Trong|Pengkalan Hulu|"
    "Kamunting|Manong|Ayer Kuning|Chenderiang|Behrang|Sungkai|Langkap|Hutan Melintang|Bandar Utama|Ara Damansara|"
    "Kelana Jaya|Bandar Sunway|Kota Kemuning|Setia Alam|Bukit Jelutong|Bukit Raja|Bandar Kinrara|Bandar Botanic|"
    "Tanjong Sepat|Jugra|Morib|Sijangkang|Telok Panglima Garang|Puncak Jalil|Bukit Beruntung|Serendah|"
    "Bestari Jaya|Hulu Klang|Batu Arang|Kundang|Bandar Saujana Putra|Kampung Pandan|Desa Petaling|Salak Selatan|"
    "Kuchai Lama|Sri Hartamas|Bukit Damansara|Jinjang|Wangsa Melawati|Ampang Hilir|Setiawangsa|Datuk Keramat|Keramat|"
    "KLCC|Mid Valley|Rantau|Lenggeng|Linggi|Pedas|Gemas|Gemencheh|Rasah|Sikamat|Paroi|Ampangan|Batang Benar|"
    "Seri Menanti|Simpang Pertang|Klebang|Bukit Beruang|Batu Berendam|Bukit Katil|Ayer Molek|Umbai|Bukit Rambai|"
    "Durian Tunggal|Sungai Udang|Tanjung Kling|Bemban|Bukit Baru|Krubong|Melaka Tengah|Selandar|Tampoi|Larkin|"
    "Permas Jaya|Tebrau|Kempas|Plentong|Bukit Indah|Desaru|Benut|Parit Raja|Sri Gading|Parit Sulong|Bukit Gambir|"
    "Pagoh|Jementah|Bekok|Chaah|Kahang|Paloh|Renggam|Sedenak|Kukup|Rengit|Senggarang|Endau|Johor Jaya|Stulang|"
    "Benta|Kuala Krau|Sungai Lembing|Bukit Tinggi|Fraser's Hill|Cherating|Semambu|Indera Mahkota|Beserah|Balok|"
    "Bandar Jengka|Lanchang|Chenor|Kuala Tembeling|Damak|Padang Tengku|Bera|Nenasi|Kuala Berang|Paka|Chendering|"
    "Seberang Takir|Batu Rakit|Merang|Penarik|Permaisuri|Ajil|Bukit Payong|Wakaf Tapai|Gong Badak|Manir|Kijal|"
    "Tumpat|Pengkalan Chepa|Pasir Pekan|Wakaf Che Yeh|Kok Lanas|Melor|Dabong|Ayer Lanas|Palekbang|Pengkalan Kubor|"
    "Cabang Empat|Lojing|Papar|Kinarut|Membakut|Menggatal|Tamparuli|Matunggong|Kimanis|Bongawan|Sook|Kemabong|"
    "Tanjung Aru|Sepanggar|Donggongon|Lok Kawi|Tenghilan|Kiulu|Kundasang|Paitan|Sukau|Petra Jaya|"
    "Batu Kawa|Siburan|Daro|Igan|Pakan|Spaoh|Engkilili|Lingga|Debak|Roban|Niah|Sebauh|Sibuti|Bekenu|Sematan|Tebedu|"
    "Balai Ringin|Sebuyau|Kabong|Matu|Selangau|Long Lama|Trusan|Lutong|Senadin|Permyjaya|Stapok|Tabuan Jaya|"
    "Kota Sentosa|Samariang"
)
_TOWN = re.compile(
    r"\b(?:"
    + "|".join(sorted({*_TOWNS.split("|"), *_DISTRICTS.split("|"), *_MORE_TOWNS.split("|")}, key=len, reverse=True))
    + r")\b"
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
    rf"(?<=\bberhampiran )|(?<=\bsekitar )|(?<=\baround ))"
    rf"(?!{_NOT_PLACE})[A-Z][a-z'’]+(?:\s+[A-Z][a-z'’]+){{0,2}}(?![\w'’])"
)


def _agency_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every way AGENCIES are written, longest first, and
    the canonical name of each (by its lower case)."""
    aliases = sorted(((a, name) for name, written in AGENCIES.items() for a in written), key=lambda x: -len(x[0]))
    # Acronyms match in capitals only ("MOH", not "moh"); names in any case.
    parts = [re.escape(a) if a.isupper() else "(?i:" + re.escape(a) + ")" for a, _ in aliases]
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b"), {a.lower(): name for a, name in aliases}


_AGENCY, _AGENCY_NAMES = _agency_pattern()
_AGENCY_ACRONYMS = {a for aliases in AGENCIES.values() for a in aliases if a.isupper() and " " not in a}
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
    for m in _DAY_MONTH.finditer(text):
        day, month = int(m.group(2)), int(m.group(3))
        if 1 <= day <= 31 and 1 <= month <= 12:
            add("DATE", f"--{month:02d}-{day:02d}", m.start(1), m.end(1))
    for m in _HIJRI_DATE.finditer(text):
        if 1 <= (day := int(m.group(1))) <= 30:
            add("DATE", f"{day} {_HIJRI_MONTHS[m.group(2).lower()]} {m.group(3) or ''}".strip(), m.start(), m.end())
    for m in _DAY_ONLY.finditer(text):
        if 1 <= (day := int(m.group(1))) <= 31:
            add("DATE", f"---{day:02d}", m.start(), m.end())
    for m in _FIGURE_AMOUNT.finditer(text):
        value = _figure_value(m)
        add("AMOUNT", _money(value) if value else None, m.start(), m.end())
    for m in _WORD_AMOUNT.finditer(text):
        if _SCALED.search(m.group(0)):
            value = _words_value(m.group(1))
            add("AMOUNT", _money(value) if value else None, m.start(), m.end())
    for m in _OTHER_AMOUNT.finditer(text):
        add("AMOUNT", _other_amount(m), m.start(), m.end())
    for m in _PLATE.finditer(text):
        if _is_plate(text, m):
            add("VEHICLE_PLATE", m.group(1).replace(" ", ""), m.start(1), m.end(1))
    agencies = list(_AGENCY.finditer(text))
    for m in _COMPANY.finditer(text):
        start = m.start(1)
        words = m.group(1).split()
        # "The ...", and a sentence's first word before the company's own kind ("Dividen Koperasi ... Berhad")
        while len(words) > 2 and (words[0] in _COMPANY_LEAD_DROP or words[1] in ("Koperasi", "Syarikat", "Tetuan")):
            start = text.index(words[1], start + len(words[0]))
            words = words[1:]
        suffix = re.fullmatch(_COMPANY_SUFFIX, words[-1]) or re.search(
            rf"(?:{_COMPANY_SUFFIX}|Co\.?|Works)$", m.group(1)
        )
        named = [w for w in words if w.strip(".,") not in _NOT_A_COMPANY_NAME and not re.fullmatch(_COMPANY_SUFFIX, w)]
        # Never "Sdn Bhd" alone nor "Syarikat Sdn Bhd"; not "Ministry of Human Resources".
        inside_agency = any(a.start() < m.end(1) and start < a.end() for a in agencies)  # "Road Transport Department"
        if suffix and named and not inside_agency and not _AFTER_A_BODY.search(text, max(0, start - 16), start):
            add("COMPANY", text[start : m.end(1)], start, m.end(1))
    for m in _COMPANY_NAMES.finditer(text):
        add("COMPANY", m.group(0), m.start(), m.end())
    for m in _COMPANY_PREFIXED.finditer(text):
        name = (m.group(1) or m.group(2)).split()
        if _AFTER_A_BODY.search(text, max(0, m.start() - 16), m.start()):  # "Jabatan Perkhidmatan Awam"
            continue
        if name[0] in _PLACE_STARTS:  # "kedai kopi Kampung Ladang" is a place
            continue
        if any(w.strip(".,") not in _NOT_A_COMPANY_NAME and not re.fullmatch(_COMPANY_SUFFIX, w) for w in name):
            add("COMPANY", m.group(0), m.start(), m.end())  # not "Syarikat Sdn Bhd"
    for m in _COMPANY_NAMED.finditer(text):
        group = 1 if m.group(1) else 2
        start, end = m.start(group), _person_end(text, m.start(group), m.end(group))
        if end > start and text[start:end].split()[0] not in _NOT_A_COMPANY_NAME | _TITLE_WORDS:
            add("COMPANY", text[start:end], start, end)
    for m in _INSTITUTION.finditer(text):
        town = not m.group("after") and _TOWN.match(text, m.start())
        if town or _NAMED_AFTER_PLACE.search(text, max(0, m.start() - 12), m.start()):
            continue  # "Jalan Masjid India", the town "Masjid Tanah"
        start = _named_start(text, m.start(), m.end()) if m.group("after") else m.start()
        add("AGENCY", text[start : m.end()], start, m.end())
    for m in _COUNCIL_ACRONYM.finditer(text):
        branch = _BRANCH.match(text, m.end())
        add("AGENCY", m.group(0), m.start(), branch.end() if branch else m.end())
    for m in agencies:
        branch = _BRANCH.match(text, m.end())
        add("AGENCY", _AGENCY_NAMES[m.group(0).lower()], m.start(), branch.end() if branch else m.end())
    for regex in (_PERSON_TITLED, _PERSON_PATRONYM):
        for m in regex.finditer(text):
            if _NAMED_AFTER.search(text, 0, m.start()) or _inside_a_name(text, m.start()):
                continue
            start, end = m.start(), _person_end(text, m.start(), m.end())
            surname = _SURNAME_BEFORE.search(text, max(0, start - 10), start)
            if surname and surname.group(1) in names.CHINESE_SURNAMES:  # "Tan Ah Kow"
                start = surname.start(1)
            role = _ROLE_TITLE.match(text, m.start())  # "Pegawai Tanah" is a post, "Pegawai Rahim" a person
            if role and not _starts_name(text[role.end() : end].split()[0] if text[role.end() : end].split() else ""):
                continue
            if not _TITLE_ONLY.fullmatch(text[m.start() : end]):
                add("PERSON", text[start:end], start, end)
    for start, end in _untitled_people(text):
        add("PERSON", text[start:end], start, end)
    for m in _PERSON_NAMED.finditer(text):
        end = _person_end(text, m.start(1), m.end(1))
        if _SHOP_BEFORE.search(text, max(0, m.start(1) - 60), m.start(1)):  # "kedai di Shopee bernama Jahit Pro"
            add("COMPANY", text[m.start(1) : end], m.start(1), end)
            continue
        if _BODY_WORD.search(text, m.start(1), end):  # "called Maritime Enforcement Agency"
            continue
        if not _TITLE_ONLY.fullmatch(text[m.start(1) : end]):
            add("PERSON", text[m.start(1) : end], m.start(1), end)
    for regex in (_LOCATION, _TOWN, _PLACE_AFTER):
        for m in regex.finditer(text):
            if not _NOT_A_PLACE_AROUND.search(text, max(0, m.start() - 7), min(len(text), m.end() + 9)):
                add("LOCATION", m.group(0), m.start(), m.end())
    return sorted(found, key=lambda x: (x.start, x.type))


def extract(text: str) -> list[Entity]:
    """The distinct entities of `text`, in order of first mention."""
    return list(dict.fromkeys(Entity(m.type, m.value) for m in mentions(text)))
