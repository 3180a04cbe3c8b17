"""The offline analyzer: keyword rules for Malay and English, gazetteer
entities, an extractive summary and the packaged e5 embedding."""
from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict

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
        "asked for": 1.5, "asked our": 1, "demand": 2, "envelope": 2, "sampul": 2, "cash": 0.5, "tunai": 0.5,
        "settle": 1, "tanpa resit": 2.5, "no receipt": 2.5, "mempercepat": 1.5, "expedite": 1.5, "speed up": 1,
        "personal bank account": 1.5, "ganjaran": 2.5, "imbuhan": 1.5, "in return": 1, "sebagai balasan": 2,
        "sebagai syarat": 1.5, "handed": 1, "let them through": 2, "supaya tidak": 1.5, "so that he would not": 1.5,
    },
    "ABUSE_OF_POWER": {
        "salah guna kuasa": 4, "menyalahgunakan kuasa": 4, "abuse of power": 4, "abused his position": 4,
        "abuse": 1.5, "kroni": 2.5, "crony": 2.5, "nepotism": 3, "nepotisme": 3, "anak sendiri": 2.5,
        "adik": 1, "isteri": 1.5, "keluarga": 1.5, "family": 1.5, "his wife": 2, "his son": 2, "her husband": 2,
        "own company": 2.5, "syarikat milik": 2, "conflict of interest": 3, "konflik kepentingan": 3,
        "tanpa tender": 2.5, "without tender": 2.5, "direct award": 2, "rundingan terus": 2,
        "meluluskan": 1, "approved": 0.5, "kedudukan": 1, "jawatan": 1, "position": 0.5,
        "used his position": 3, "used her position": 3, "menggunakan kedudukan": 3, "menggunakan jawatan": 3,
        "kuasa": 1.5, "brother-in-law": 2, "ipar": 2, "nephew": 2, "niece": 2, "anak saudara": 2, "relative": 2,
        "saudara-mara": 1.5, "kawan baik": 2, "close friend": 2, "his own": 1, "anak-anak": 1, "wife": 1.5,
        "husband": 1.5, "suami": 1.5, "direct negotiation": 2.5, "tanpa melalui": 1.5, "without going through": 1.5,
        "tidak layak": 1.5, "did not meet": 1.5, "interfere": 2, "campur tangan": 2, "ordered": 1, "mengarahkan": 1,
        "instructed": 1, "linked to": 1.5,
    },
    "FALSE_CLAIM": {
        "tuntutan palsu": 4, "false claim": 4, "claim palsu": 4, "palsu": 2.5, "fake": 2, "forged": 3,
        "dipalsukan": 3, "pemalsuan": 3, "falsified": 3, "inflated": 2.5, "invois": 1.5, "invoice": 1.5,
        "resit": 1, "receipt": 1, "tuntutan": 1.5, "claim": 1, "overtime": 1.5, "elaun": 1.5,
        "allowance": 1.5, "tidak wujud": 2, "did not exist": 2, "ghost": 2.5, "hantu": 1.5,
        "mileage": 1.5, "perjalanan": 0.5, "travel claim": 2.5,
        "fictitious": 3, "fabricated": 3, "never took place": 2.5, "tidak pernah": 1.5, "never visited": 1.5,
        "tidak dijalankan": 2, "billed": 1.5, "bil ": 1, "certified": 1, "disahkan": 1, "fewer than": 1,
        "attendance": 1, "kehadiran": 1, "pampasan": 1, "geran palsu": 2, "kerja lebih masa": 1.5,
    },
    "CRIMINAL_BREACH_OF_TRUST": {
        "pecah amanah": 4, "breach of trust": 4, "menyeleweng": 3, "penyelewengan": 3, "misappropriat": 3.5,
        "embezzl": 3.5, "lesap": 2.5, "hilang": 1, "dana": 1.5, "fund": 1.5, "wang kutipan": 2.5, "kutipan": 1,
        "collection": 1, "akaun": 1, "account": 0.5, "diambil": 1, "took": 0.5, "personal use": 2.5,
        "kegunaan peribadi": 2.5, "bendahari": 2, "treasurer": 2, "amanah": 1.5, "entrusted": 3,
        "tabung": 1.5, "yuran": 1, "derma": 1.5, "donation": 1.5, "kewangan koperasi": 2,
        "kept the": 1.5, "cannot account": 3, "tidak dapat menjelaskan": 3, "own account": 2, "hutang peribadi": 2,
        "personal debt": 2, "gambling": 1, "judi": 1, "menjual": 1, "sold": 1, "barang kes": 2.5,
        "case exhibit": 2.5, "premium": 1.5, "tidak menyerahkan": 2.5, "did not hand over": 2.5,
        "without their knowledge": 2, "tanpa pengetahuan": 2, "withdrew": 1.5, "mengeluarkan wang": 2,
        "dirinya": 1, "for himself": 1, "taken by": 1.5, "were taken": 1.5, "missing": 1.5, "kehilangan": 1.5,
        "simpanan ahli": 2, "members' savings": 2, "holiday": 1, "percutian": 1,
    },
    "MONEY_LAUNDERING": {
        "pengubahan wang haram": 4, "money laundering": 4, "launder": 3.5, "wang haram": 3, "cuci wang": 3.5,
        "shell compan": 3, "syarikat cangkerang": 3, "offshore": 2, "luar negara": 1.5, "transfer": 0.5,
        "pindahan": 0.5, "proxy": 1.5, "proksi": 1.5, "nominee": 2, "crypto": 2, "kripto": 2,
        "aset mewah": 2, "luxury": 1.5, "hartanah mewah": 2, "hasil jenayah": 3, "proceeds": 2.5,
        "structuring": 2, "many small deposits": 2, "deposit kecil": 2, "akaun mule": 3, "mule": 2.5,
        "cash deposit": 2.5, "deposit tunai": 2.5, "several countries": 2, "overseas": 1.5, "no real business": 2.5,
        "in the names of": 2.5, "atas nama": 2, "penama": 2.5, "channelled": 2.5, "disalurkan": 2,
        "could not be traced": 2.5, "tidak dapat dikesan": 2.5, "wallet": 1.5, "money changer": 2.5,
        "pengurup wang": 2.5, "sindiket": 1.5, "syndicate": 1.5, "hasil dadah": 3, "drug money": 3,
        "illegal gambling": 2, "judi haram": 2, "mencampurkan": 2, "disewa": 1.5, "rented out": 1.5,
        "penipuan": 1, "scam": 1, "mengelak laporan": 3, "avoid report": 3, "dividend": 1, "barang kemas": 1.5,
        "jewellery": 1.5, "kereta mewah": 1.5, "menyembunyikan": 2, "hiding": 1.5, "hide": 1, "conceal": 2,
        "smuggl": 1.5, "penyeludupan": 1.5, "cryptocurrenc": 2, "large sums": 1, "wang besar": 1,
    },
    "NOT_CORRUPTION": {
        "lambat": 1.5, "slow": 1.5, "kurang ajar": 2, "rude": 2, "biadap": 2, "tidak mesra": 2,
        "jalan berlubang": 3, "pothole": 3, "sampah": 2, "rubbish": 2, "garbage": 2, "bising": 2, "noise": 2,
        "lampu jalan": 2.5, "streetlight": 2.5, "banjir": 1.5, "flood": 1.5, "perkhidmatan": 1, "service": 0.5,
        "menunggu lama": 2, "waited": 1.5, "queue": 1, "barisan": 1, "aduan": 0.3, "complain": 0.3,
        "jiran": 1.5, "neighbour": 1.5, "parking": 1, "letak kereta": 1, "tidak dikutip": 2, "not collected": 2,
        "air tiada": 2, "water supply": 2, "bekalan air": 2,
        "rosak": 1.5, "broken": 1.5, "tiada maklum balas": 2, "no response": 2, "delay": 1.5, "kelewatan": 1.5,
        "late ": 1, "lewat": 1, "crash": 1.5, "appointment": 1, "temujanji": 1, "please improve": 2,
        "tidak selesa": 1.5, "bau busuk": 2, "smell": 1.5, "kemalangan": 1, "accident": 1, "sukar dihubungi": 2,
        "hard to reach": 2, "kehabisan": 1.5, "ran out": 1.5, "ignores": 1.5, "tidak diendahkan": 1.5,
        "boundary": 1, "sempadan": 1, "traffic jam": 2, "kesesakan": 2, "belum diterima": 1.5,
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


# Each category described in Malay and English. A complaint's e5 embedding is
# compared with them (mean cosine, standardised across categories), which
# catches wording the keyword lists miss; keywords still lead when they agree.
CATEGORY_PROTOTYPES: dict[str, list[str]] = {
 "BRIBERY": [
  "An officer asked for money or a gift in return for doing or not doing his official duty.",
  "A public official demanded cash to approve an application, cancel a fine or release goods.",
  "A company paid a kickback or commission to a purchasing manager to win an order or contract.",
  "Pegawai meminta wang, hadiah atau habuan sebagai balasan untuk meluluskan permohonan atau membatalkan saman.",
  "Penjawat awam menerima rasuah atau suapan tunai untuk membantu sesebuah syarikat.",
  "Seseorang menawarkan wang kepada pegawai supaya tidak diambil tindakan.",
 ],
 "ABUSE_OF_POWER": [
  "An official used his position to award contracts, land or jobs to his own family members or friends.",
  "A head of department approved a benefit for a company owned by a relative, a conflict of interest.",
  "A senior officer interfered with an investigation or decision to protect a relative or crony.",
  "Pegawai menggunakan kedudukan atau jawatannya untuk memberi kontrak, tanah atau jawatan kepada ahli keluarga sendiri.",
  "Ketua jabatan meluluskan projek kepada syarikat milik saudara-maranya, konflik kepentingan.",
  "Pegawai kanan menyalahgunakan kuasa untuk kepentingan diri, keluarga atau kroni.",
 ],
 "FALSE_CLAIM": [
  "Someone submitted false invoices, receipts or documents to claim payment for work or goods that were not delivered.",
  "Staff made false travel, overtime or allowance claims for trips and work that never happened.",
  "A supplier billed the government for more than it delivered, with inflated or fictitious claims.",
  "Tuntutan palsu dibuat menggunakan resit, invois atau dokumen yang dipalsukan.",
  "Pegawai membuat tuntutan elaun, perjalanan atau kerja lebih masa bagi kerja yang tidak dilakukan.",
  "Kontraktor mengemukakan bil untuk kerja yang tidak disiapkan atau barang yang tidak dibekalkan.",
 ],
 "CRIMINAL_BREACH_OF_TRUST": [
  "A treasurer or officer entrusted with funds or property took the money or goods for personal use.",
  "Money collected from the public or members went missing; the person in charge of the account spent it.",
  "An employee misappropriated company or government property, cash or stock placed in his care.",
  "Bendahari atau pegawai yang diamanahkan menguruskan wang telah menggunakan wang itu untuk kegunaan peribadi.",
  "Wang kutipan, derma atau dana persatuan lesap dan pemegang amanah tidak dapat menjelaskannya.",
  "Pekerja mengambil barang atau wang syarikat atau kerajaan yang diamanahkan kepadanya.",
 ],
 "MONEY_LAUNDERING": [
  "Proceeds of crime are hidden by moving money through shell companies, nominee accounts and overseas transfers.",
  "Large cash deposits are split into small amounts and quickly transferred abroad to avoid detection.",
  "Illegal money is used to buy property, luxury goods or cryptocurrency in the names of proxies.",
  "Wang haram disembunyikan melalui syarikat cangkerang, akaun penama dan pindahan ke luar negara.",
  "Deposit tunai yang besar dipecahkan kepada jumlah kecil dan dipindahkan ke akaun lain untuk mengaburi asal-usulnya.",
  "Hasil jenayah digunakan untuk membeli hartanah, barang mewah atau kripto atas nama proksi.",
 ],
 "NOT_CORRUPTION": [
  "A complaint about poor or slow public service, rude staff, long waiting times or delays.",
  "A complaint about rubbish not collected, broken streetlights, potholes, floods or noise.",
  "A private dispute with a neighbour, landlord, developer or employer that involves no bribe or misuse of office.",
  "Aduan tentang perkhidmatan awam yang lambat, kakitangan kurang mesra atau menunggu terlalu lama.",
  "Aduan tentang sampah tidak dikutip, lampu jalan rosak, jalan berlubang atau banjir.",
  "Pertikaian peribadi dengan jiran atau pemaju yang tidak melibatkan rasuah.",
 ],
}
EMBEDDING_WEIGHT = 2.0

_prototypes: dict[str, np.ndarray] = {}
_prototypes_lock = threading.Lock()


def _prototype_vectors() -> dict[str, np.ndarray]:
    with _prototypes_lock:
        if not _prototypes:
            for label, texts in CATEGORY_PROTOTYPES.items():
                _prototypes[label] = np.stack([embedding.passage(t) for t in texts])
        return _prototypes


def category_scores(text: str, vector: np.ndarray | None = None) -> dict[str, float]:
    scores = _scores(text, _CATEGORY)
    if vector is None:
        return scores
    prototypes = _prototype_vectors()
    sims = np.array([float((prototypes[label] @ vector).mean()) for label in scores])
    z = (sims - sims.mean()) / (sims.std() + 1e-6)
    return {label: score + EMBEDDING_WEIGHT * float(z[i]) for i, (label, score) in enumerate(scores.items())}


def classify(text: str, vector: np.ndarray | None = None) -> str:
    """Keywords alone without a vector (nothing matched: NOT_CORRUPTION); keywords
    plus nearness to each category's prototypes with the complaint's embedding."""
    scores = category_scores(text, vector)
    best = max(scores, key=lambda k: scores[k])
    return best if vector is not None or scores[best] > 0 else "NOT_CORRUPTION"


def sector(text: str) -> str:
    scores = _scores(text, _SECTOR)
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else "OTHER_PUBLIC_SERVICE"


_COMMERCIAL = re.compile(r"(?i)sdn\.?\s*bhd|berhad|syarikat|company|firm")
_PUBLIC_SERVANT = re.compile(r"(?i)pegawai|officer|penjawat|polis|police|kastam|customs|majlis|council|jabatan|department|kerajaan|government")
_AGENT_GIVER = re.compile(r"(?i)memberi|menawarkan|offered|gave|give|bayar|paid|pay")


def acts(text: str, category: str | None = None) -> list[str]:
    """Sections that may apply, from the offence and who is involved."""
    category = category or classify(text)
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

    def __init__(self) -> None:
        # The category, acts and embedding stages share one embedding per text.
        self._vectors: OrderedDict[str, asyncio.Future[np.ndarray]] = OrderedDict()

    async def _vector(self, text: str) -> np.ndarray:
        future = self._vectors.get(text)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(embedding.passage, text))
            self._vectors[text] = future
            while len(self._vectors) > 256:
                self._vectors.popitem(last=False)
        # Shielded: one stage being cancelled must not cancel the others' embedding.
        return await asyncio.shield(future)

    async def category(self, text: str) -> str:
        return await asyncio.to_thread(classify, text, await self._vector(text))

    async def sector(self, text: str) -> str:
        return await asyncio.to_thread(sector, text)

    async def acts(self, text: str) -> list[str]:
        return await asyncio.to_thread(acts, text, await self.category(text))

    async def summary(self, text: str) -> str:
        return await asyncio.to_thread(summary, text)

    async def entities(self, text: str) -> list[Entity]:
        return await asyncio.to_thread(entity_rules.extract, text)

    async def embedding(self, text: str) -> np.ndarray:
        return await self._vector(text)

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        return None  # no vision model offline: images are read by OCR only

    async def close(self) -> None:
        return None
