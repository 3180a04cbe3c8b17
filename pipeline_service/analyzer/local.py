"""The offline analyzer: keyword rules for Malay and English, gazetteer
entities, an extractive summary and the packaged e5 embedding."""
from __future__ import annotations

import asyncio
import re

import numpy as np

from complaints import embedding
from pipeline_service.analyzer import Entity
from pipeline_service.analyzer import entities as entity_rules

# Stems matched at word starts, lower case; a weight says how telling it is.
CATEGORY_TERMS: dict[str, dict[str, float]] = {
    "BRIBERY": {
        "rasuah": 3, "suap": 3, "bribe": 3, "brib": 3, "duit kopi": 3, "wang kopi": 3, "kickback": 3,
        "sogokan": 3, "upah": 1.5, "gratification": 3, "suapan": 3, "minta wang": 2.5, "meminta wang": 2.5,
        "meminta bayaran": 2.5, "minta duit": 2.5, "bayar supaya": 2.5, "pay him": 2, "demanded": 2,
        "solicit": 2.5, "under the table": 3, "bawah meja": 3, "habuan": 2.5, "komisen": 1.5, "commission": 1,
        "saman dibatalkan": 2, "lepaskan": 1, "tidak disaman": 2, "avoid a summons": 2, "cash to": 1.5,
        "wang tunai": 1, "sumbangan": 1, "hadiah": 1, "gift": 1, "tip": 0.5,
    },
    "ABUSE_OF_POWER": {
        "salah guna kuasa": 4, "menyalahgunakan kuasa": 4, "abuse of power": 4, "abused his position": 4,
        "abuse": 1.5, "kroni": 2.5, "crony": 2.5, "nepotism": 3, "nepotisme": 3, "anak sendiri": 2.5,
        "adik": 1, "isteri": 1.5, "keluarga": 1.5, "family": 1.5, "his wife": 2, "his son": 2, "her husband": 2,
        "own company": 2.5, "syarikat milik": 2, "conflict of interest": 3, "konflik kepentingan": 3,
        "tanpa tender": 2.5, "without tender": 2.5, "direct award": 2, "rundingan terus": 2,
        "meluluskan": 1, "approved": 0.5, "kedudukan": 1, "jawatan": 1, "position": 0.5,
    },
    "FALSE_CLAIM": {
        "tuntutan palsu": 4, "false claim": 4, "claim palsu": 4, "palsu": 2.5, "fake": 2, "forged": 3,
        "dipalsukan": 3, "pemalsuan": 3, "falsified": 3, "inflated": 2.5, "invois": 1.5, "invoice": 1.5,
        "resit": 1.5, "receipt": 1.5, "tuntutan": 1.5, "claim": 1, "overtime": 1.5, "elaun": 1.5,
        "allowance": 1.5, "tidak wujud": 2, "did not exist": 2, "ghost": 2.5, "hantu": 1.5,
        "mileage": 1.5, "perjalanan": 0.5, "travel claim": 2.5,
    },
    "CRIMINAL_BREACH_OF_TRUST": {
        "pecah amanah": 4, "breach of trust": 4, "menyeleweng": 3, "penyelewengan": 3, "misappropriat": 3.5,
        "embezzl": 3.5, "lesap": 2.5, "hilang": 1, "dana": 1.5, "fund": 1.5, "wang kutipan": 2.5, "kutipan": 1,
        "collection": 1, "akaun": 1, "account": 0.5, "diambil": 1, "took": 0.5, "personal use": 2.5,
        "kegunaan peribadi": 2.5, "bendahari": 2, "treasurer": 2, "amanah": 1.5, "entrusted": 3,
        "tabung": 1.5, "yuran": 1, "derma": 1.5, "donation": 1.5, "kewangan koperasi": 2,
    },
    "MONEY_LAUNDERING": {
        "pengubahan wang haram": 4, "money laundering": 4, "launder": 3.5, "wang haram": 3, "cuci wang": 3.5,
        "shell compan": 3, "syarikat cangkerang": 3, "offshore": 2, "luar negara": 1.5, "transfer": 0.5,
        "pindahan": 0.5, "proxy": 1.5, "proksi": 1.5, "nominee": 2, "crypto": 2, "kripto": 2,
        "aset mewah": 2, "luxury": 1.5, "hartanah mewah": 2, "hasil jenayah": 3, "proceeds": 2.5,
        "structuring": 2, "many small deposits": 2, "deposit kecil": 2, "akaun mule": 3, "mule": 2.5,
    },
    "NOT_CORRUPTION": {
        "lambat": 1.5, "slow": 1.5, "kurang ajar": 2, "rude": 2, "biadap": 2, "tidak mesra": 2,
        "jalan berlubang": 3, "pothole": 3, "sampah": 2, "rubbish": 2, "garbage": 2, "bising": 2, "noise": 2,
        "lampu jalan": 2.5, "streetlight": 2.5, "banjir": 1.5, "flood": 1.5, "perkhidmatan": 1, "service": 0.5,
        "menunggu lama": 2, "waited": 1.5, "queue": 1, "barisan": 1, "aduan": 0.3, "complain": 0.3,
        "jiran": 1.5, "neighbour": 1.5, "parking": 1, "letak kereta": 1, "tidak dikutip": 2, "not collected": 2,
        "air tiada": 2, "water supply": 2, "bekalan air": 2,
    },
}

SECTOR_TERMS: dict[str, dict[str, float]] = {
    "LAW_ENFORCEMENT": {
        "polis": 3, "police": 3, "pdrm": 3, "balai": 2, "inspektor": 2.5, "sarjan": 2.5, "koperal": 2.5,
        "kastam": 3, "customs": 3, "jkdm": 3, "imigresen": 3, "immigration": 3, "jpj": 3,
        "road transport": 3, "pengangkutan jalan": 3, "saman": 1.5, "summons": 1.5, "roadblock": 2.5,
        "sekatan jalan": 2.5, "maritim": 3, "maritime": 3, "apmm": 3, "traffic": 1.5, "trafik": 1.5,
        "lesen memandu": 1.5, "driving licence": 1.5, "permit kerja": 1, "pati": 1.5,
    },
    "LOCAL_GOVERNMENT": {
        "majlis bandaraya": 3, "majlis perbandaran": 3, "majlis daerah": 3, "dewan bandaraya": 3, "dbkl": 3,
        "city council": 3, "municipal": 3, "pbt": 2.5, "penguatkuasa majlis": 2.5, "lesen perniagaan": 2,
        "business licence": 2, "gerai": 1.5, "stall": 1.5, "penjaja": 1.5, "hawker": 1.5, "sampah": 1.5,
        "rubbish": 1.5, "lampu jalan": 1.5, "longkang": 1.5, "drain": 1, "pelan bangunan": 1.5,
        "building plan": 1.5, "cukai taksiran": 2, "assessment": 1, "jalan berlubang": 1.5, "pothole": 1.5,
    },
    "LAND_AND_PROPERTY": {
        "pejabat tanah": 3, "land office": 3, "ptg": 3, "geran": 2.5, "land title": 2.5, "hak milik": 2,
        "tanah": 1.5, "land": 1, "lot": 1, "hartanah": 2, "property": 1.5, "pindah milik": 2.5,
        "transfer of ownership": 2.5, "tanah rizab": 2.5, "pemaju": 1.5, "developer": 1.5, "ladang": 1,
    },
    "PUBLIC_WORKS_AND_CONSTRUCTION": {
        "jkr": 3, "kerja raya": 3, "public works": 3, "kontraktor": 2.5, "contractor": 2.5, "tender": 2,
        "projek": 1, "project": 1, "pembinaan": 2.5, "construction": 2.5, "jambatan": 2, "bridge": 2,
        "bangunan": 1, "building": 0.5, "infrastruktur": 2, "infrastructure": 2, "sebut harga": 2,
        "quotation": 1.5, "turap": 2, "paving": 2, "naik taraf": 1.5, "upgrade": 1, "kerja-kerja": 1,
    },
    "HEALTH": {
        "hospital": 3, "klinik": 2.5, "clinic": 2.5, "kesihatan": 2.5, "health": 2.5, "doktor": 2,
        "doctor": 2, "jururawat": 2, "nurse": 2, "ubat": 2, "medicine": 2, "pesakit": 2, "patient": 2,
        "farmasi": 2, "pharmacy": 2, "kkm": 3, "ministry of health": 3, "perubatan": 2, "medical": 2,
    },
    "EDUCATION": {
        "sekolah": 3, "school": 3, "guru": 2.5, "teacher": 2.5, "pengetua": 2.5, "principal": 2,
        "universiti": 2.5, "university": 2.5, "pelajar": 2, "student": 2, "murid": 2, "pendidikan": 2.5,
        "education": 2.5, "kpm": 3, "biasiswa": 2.5, "scholarship": 2.5, "kantin": 1.5, "canteen": 1.5,
        "yuran": 1, "ptptn": 2.5, "kolej": 2, "college": 2,
    },
    "FINANCE_AND_REVENUE": {
        "lhdn": 3, "hasil dalam negeri": 3, "inland revenue": 3, "cukai": 2, "tax": 2, "bank": 2,
        "pinjaman": 1.5, "loan": 1.5, "kewangan": 1.5, "finance": 1.5, "perbendaharaan": 2.5,
        "treasury": 2.5, "audit": 1.5, "juruaudit": 1.5, "koperasi": 1.5, "cooperative": 1.5, "sst": 2,
        "duti": 1, "revenue": 2, "hasil": 1, "geran kerajaan": 1.5, "subsidi": 1.5, "subsidy": 1.5,
    },
    "PRIVATE_SECTOR": {
        "sdn bhd": 1.5, "berhad": 1, "syarikat swasta": 3, "private company": 3, "pengurus": 1,
        "manager": 1, "pembekal": 2, "supplier": 2, "vendor": 2, "procurement": 1.5, "perolehan syarikat": 2,
        "majikan": 1.5, "employer": 1.5, "purchasing": 2, "pembelian": 1, "client": 1, "pelanggan": 1,
    },
    "OTHER_PUBLIC_SERVICE": {
        "jabatan": 0.5, "department": 0.5, "kementerian": 1, "ministry": 1, "pejabat kerajaan": 1.5,
        "government office": 1.5, "penjawat awam": 1.5, "civil servant": 1.5, "jpn": 2, "bomba": 2,
        "kwsp": 2, "epf": 2, "tnb": 1.5, "pos malaysia": 2, "kebajikan": 2, "welfare": 2,
    },
}

_WORD_START = r"(?<![a-z0-9])"


def _compile(terms: dict[str, dict[str, float]]) -> dict[str, list[tuple[re.Pattern[str], float]]]:
    return {
        label: [(re.compile(_WORD_START + re.escape(stem)), weight) for stem, weight in stems.items()]
        for label, stems in terms.items()
    }


_CATEGORY = _compile(CATEGORY_TERMS)
_SECTOR = _compile(SECTOR_TERMS)


def _scores(text: str, table: dict[str, list[tuple[re.Pattern[str], float]]]) -> dict[str, float]:
    lowered = text.lower()
    return {label: sum(w * min(len(p.findall(lowered)), 3) for p, w in pats) for label, pats in table.items()}


def classify(text: str) -> str:
    scores = _scores(text, _CATEGORY)
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else "NOT_CORRUPTION"


def sector(text: str) -> str:
    scores = _scores(text, _SECTOR)
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else "OTHER_PUBLIC_SERVICE"


_COMMERCIAL = re.compile(r"(?i)sdn\.?\s*bhd|berhad|syarikat|company|firm")
_PUBLIC_SERVANT = re.compile(r"(?i)pegawai|officer|penjawat|polis|police|kastam|customs|majlis|council|jabatan|department|kerajaan|government")
_AGENT_GIVER = re.compile(r"(?i)memberi|menawarkan|offered|gave|give|bayar|paid|pay")


def acts(text: str) -> list[str]:
    """Sections that may apply, from the offence and who is involved."""
    category = classify(text)
    found: list[str] = []
    if category == "BRIBERY":
        found += ["MACC Act 2009 s.16", "MACC Act 2009 s.17"]
        if _PUBLIC_SERVANT.search(text):
            found.append("Penal Code s.161")
        if _COMMERCIAL.search(text) and _AGENT_GIVER.search(text):
            found.append("MACC Act 2009 s.17A")
    elif category == "ABUSE_OF_POWER":
        found += ["MACC Act 2009 s.23"]
        if _PUBLIC_SERVANT.search(text):
            found.append("Penal Code s.165")
    elif category == "FALSE_CLAIM":
        found += ["MACC Act 2009 s.18"]
    elif category == "CRIMINAL_BREACH_OF_TRUST":
        found += ["Penal Code s.409"]
    elif category == "MONEY_LAUNDERING":
        found += ["AMLATFPUAA 2001 s.4"]
    return found


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_ALL_TERMS = [p for table in (_CATEGORY, _SECTOR) for pats in table.values() for p, _ in pats]


def summary(text: str, limit: int = 400) -> str:
    """The most telling sentences, in their original order."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 15]
    if not sentences:
        return text.strip()[:limit]
    scored = []
    for i, s in enumerate(sentences):
        lowered = s.lower()
        weight = sum(1 for p in _ALL_TERMS if p.search(lowered)) + 2 * len(entity_rules.extract(s))
        scored.append((weight - 0.1 * i, i))
    chosen: list[int] = []
    length = 0
    for _, i in sorted(scored, reverse=True):
        if length + len(sentences[i]) > limit and chosen:
            break
        chosen.append(i)
        length += len(sentences[i]) + 1
    out = " ".join(sentences[i] for i in sorted(chosen))
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


class LocalAnalyzer:
    name = "local"

    async def category(self, text: str) -> str:
        return await asyncio.to_thread(classify, text)

    async def sector(self, text: str) -> str:
        return await asyncio.to_thread(sector, text)

    async def acts(self, text: str) -> list[str]:
        return await asyncio.to_thread(acts, text)

    async def summary(self, text: str) -> str:
        return await asyncio.to_thread(summary, text)

    async def entities(self, text: str) -> list[Entity]:
        return await asyncio.to_thread(entity_rules.extract, text)

    async def embedding(self, text: str) -> np.ndarray:
        return await asyncio.to_thread(embedding.passage, text)

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        return None  # no vision model offline: images are read by OCR only

    async def close(self) -> None:
        return None
