"""Whether two complaints report the same incident: a pair score fitted on the
labelled corpus (`make train`), over the embeddings' cosine similarity and the
evidence both texts name (same plate, phone, officer, amount, date, day of
the week, hour, count, post, place).

Embeddings alone cannot decide it: reports of one incident written in two
languages sit at about the same similarity as two different incidents at one
agency. Shared specifics pull a pair together; specifics that disagree (two
different amounts, two different dates) push it apart, which is what keeps a
second, similar incident out of the first one's case.

Similarity is measured with the directions in which Malay, English and
code-mixed complaints differ on average taken out of the embedding: left in,
they make two reports in one language look closer than one report told in
two. Proper nouns are the capitalised words the training corpus never writes
in lower case ("Kudat", "Meranek", not "Projek" at a sentence's start).

A new complaint joins a case, not a pair: of the cases in which some candidate
reaches the fitted threshold, those in which no member falls below the
member floor (fitted with it), the one with the most probable candidate;
otherwise it opens a case. Judged by its most probable member alone, one
wrong join chained two incidents, and every later report of either joined
the merged case.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_service.analyzer import Entity, when

# Evidence kinds, each compared as sets of normalised keys. WORD: the proper
# nouns and numbers of the text, whatever the entity rules made of them;
# ACRONYM: a body's initials, so "HTAR" meets "Hospital Tengku Ampuan Rahimah";
# WEEKDAY and HOUR: when, in any language (analyzer.when); COUNT: how many of
# something, "140 murid" and "140 pupils"; ROLE: who by post, "sarjan" and
# "sergeant", "guru besar" and "headmistress".
KINDS = (
    "ID",
    "NAME",
    "COMPANY",
    "AGENCY",
    "ACRONYM",
    "AMOUNT",
    "DATE",
    "WEEKDAY",
    "HOUR",
    "COUNT",
    "ROLE",
    "PLACE",
    "WORD",
)
# Kinds whose disagreement may be evidence against (the fitted weights say how
# much): one incident has one plate, one amount asked (give or take: "RM4-5k"
# and "RM4,000"), one month, its people and its place (at any granularity);
# bodies may simply go unmentioned.
CONFLICTS = ("ID", "AMOUNT", "DATE", "NAME", "PLACE")
# Two amounts within this factor of each other may be one sum told twice.
_SAME_AMOUNT = 1.5
# Shared evidence is one feature, the entities' keys and the text's proper
# nouns together, each shared key weighted by its rarity: a corpus of a few
# hundred complaints cannot teach a weight per kind (no two reports in it
# happen to share a phone number), but a rare shared key is telling whatever
# its kind. Keys that name one thing (an officer's name as a NAME and as a
# WORD, a place and its words, an agency and its acronym) count as one piece
# of evidence (_shared).
FEATURES = (
    "similarity",
    "nearness",
    "shared",
    *(f"conflict_{k}" for k in CONFLICTS),
    "same_category",
    "same_sector",
)
# Kinds whose keys are names one report may give whole and another inside a
# longer name, of its kind or another: "bukit baru" and "sekolah kebangsaan
# bukit baru", "permata emas" and "permata emas money exchange". Word by word
# the two may share only their commonest word ("bukit"), so the name they
# share counts as a PHRASE, by how rare the phrase is (Rarity).
NAMED = ("PLACE", "AGENCY", "COMPANY")
# Shared evidence counts up to this many unseen keys' worth.
_CAP = 6.0
# A name written short in one report and in full in another ("Kak Ros",
# "Rosnah"; "Zul", "Zulkifli") is one name if the short one has this many letters.
_SHORT_NAME = 3
# Kinds specific enough to fetch candidates by, whatever the embedding says.
LOOKUP_KINDS = ("ID", "NAME", "COMPANY", "PLACE")

# Words of a name that identify nobody: titles, patronymics, the commonest names.
_NAME_NOISE = {
    "tan",
    "sri",
    "puan",
    "toh",
    "dato",
    "datuk",
    "seri",
    "wira",
    "datin",
    "paduka",
    "tun",
    "tengku",
    "tunku",
    "raja",
    "yang",
    "berhormat",
    "yb",
    "tuan",
    "haji",
    "hajah",
    "hj",
    "hjh",
    "encik",
    "en",
    "pn",
    "cik",
    "cikgu",
    "ustaz",
    "ustazah",
    "pak",
    "mak",
    "pakcik",
    "makcik",
    "abang",
    "kak",
    "dr",
    "doktor",
    "ir",
    "ts",
    "prof",
    "profesor",
    "inspektor",
    "insp",
    "sarjan",
    "mejar",
    "sjn",
    "koperal",
    "kpl",
    "lans",
    "konstabel",
    "kons",
    "asp",
    "dsp",
    "supt",
    "acp",
    "sac",
    "kapten",
    "capt",
    "leftenan",
    "mr",
    "mrs",
    "ms",
    "madam",
    "mdm",
    "sir",
    "uncle",
    "aunty",
    "auntie",
    "officer",
    "pegawai",
    "bro",
    "boss",
    "towkay",
    "tauke",
    "apek",
    "ah",
    "bin",
    "binti",
    "bt",
    "bte",
    "bn",
    "b",
    "a",
    "l",
    "p",
    "s",
    "o",
    "d",
    "al",
    "ap",
    "anak",
    "ak",
    "mohd",
    "mohamad",
    "mohammad",
    "muhammad",
    "muhamad",
    "md",
    "abdul",
    "abd",
    "ahmad",
    "nur",
    "nurul",
    "siti",
    "noor",
    "nor",
    "wan",
    "nik",
    "che",
    "syed",
    "sharifah",
}
_PLACE_ABBREVIATIONS = {
    "jln": "jalan",
    "tmn": "taman",
    "kg": "kampung",
    "kampong": "kampung",
    "sg": "sungai",
    "bt": "batu",
    "section": "seksyen",
    "lrg": "lorong",
}
# Words of a place's name that say what kind of place, not which.
_PLACE_WORDS = set(_PLACE_ABBREVIATIONS.values())
_ACRONYM_SKIP = {"dan", "and", "of", "the", "sdn", "bhd", "berhad"}
_COMPANY_SUFFIX = re.compile(r"\b(sdn\.?\s*bhd\.?|berhad|bhd\.?|plt|enterprises?|holdings|trading|sdn)\b", re.I)
# A surname after initials, which the entity rules do not take for a person: "K.L. Ng".
_INITIALLED = re.compile(r"\b(?:[A-Z]\.\s?){1,3}([A-Z][a-z]+)\b")
# A number before the word for what it counts ("140 murid", "62 hours"), not
# part of a longer one ("1,800" is one; a phone number's groups are not).
_COUNT = re.compile(r"(?<![\w.,:/$-])(\d{1,3}(?:,\d{3})+|\d+)(?![\w%]|[.,:/-]\d|\s\d)\s+([a-z]+)")
# Words after a number that make it money, a time or a date, or join it to another.
_NOT_COUNTED = {
    "ribu",
    "juta",
    "bilion",
    "sen",
    "ringgit",
    "thousand",
    "million",
    "billion",
    "k",
    "am",
    "pm",
    "pagi",
    "petang",
    "malam",
    "hb",
    "haribulan",
    "lebih",
    "atau",
    "or",
    "to",
    "and",
    "dan",
    "sampai",
    "hingga",
}
# Before a number, what makes it money, a time, a phone number's group or a plate's.
_NOT_COUNTED_AFTER = re.compile(r"(?:\b(?i:rm|usd|sgd|jam|pukul|pkl)\s?|\$|\d[\s-]?|\b[A-Z]{1,3}\s?)$")


# Posts a complaint may name its people by, in Malay, English and short forms,
# each with one name whatever the language: the writer who does not know the
# sergeant's name and the one who does not know his rank still agree on a post.
_ROLES = {
    "sergeant": ("sarjan", "sergeant", "sjn", "sgt"),
    "corporal": ("koperal", "corporal", "kpl", "cpl"),
    "constable": ("konstabel", "constable"),
    "inspector": ("inspektor", "inspector", "insp"),
    "clerk": ("kerani", "clerk"),
    "cashier": ("juruwang", "cashier"),
    "headteacher": ("guru besar", "headmaster", "headmistress", "head teacher", "headteacher"),
    "principal": ("pengetua", "principal"),
    "teacher": ("guru", "cikgu", "teacher"),
    "warden": ("warden",),
    "nurse": ("jururawat", "staff nurse", "nurse", "matron"),
    "doctor": ("doktor", "doctor"),
    "pharmacist": ("ahli farmasi", "pharmacist"),
    "village head": ("ketua kampung", "ketua kg", "tok ketua", "village head", "village headman"),
    "penghulu": ("penghulu",),
    "engineer": ("jurutera", "engineer"),
    "technician": ("juruteknik", "technician"),
    "driver": ("pemandu", "driver"),
    "supervisor": ("penyelia", "supervisor"),
    "manager": ("pengurus", "manager"),
    "head of department": ("ketua jabatan", "head of department", "hod"),
    "enforcement officer": ("pegawai penguatkuasa", "penguatkuasa", "penguat kuasa", "enforcement officer"),
    "guard": ("pengawal keselamatan", "pengawal", "security guard", "guard"),
    "treasurer": ("bendahari", "treasurer"),
    "chairman": ("pengerusi", "chairman", "chairperson", "chairwoman"),
    "secretary": ("setiausaha", "secretary"),
    "contractor": ("kontraktor", "contractor"),
    "employer": ("majikan", "employer"),
    "landlord": ("tuan rumah", "landlord", "landlady"),
    "councillor": ("ahli majlis", "councillor", "councilor"),
    "lecturer": ("pensyarah", "lecturer"),
}
_ROLE = re.compile(
    r"\b("
    + "|".join(sorted((re.escape(w) for ws in _ROLES.values() for w in ws), key=len, reverse=True))
    + r")(?:e?s)?\b"
)
_ROLE_OF = {w: role for role, ws in _ROLES.items() for w in ws}


_PROPER = re.compile(r"\b(?:[A-Z][a-zA-Z'’]{2,}|[A-Z]{3,}[a-z]?)\b")
# Capitalised words that name nothing in particular.
_COMMON_WORDS = {
    "saya",
    "kami",
    "dia",
    "mereka",
    "pada",
    "dan",
    "tetapi",
    "tapi",
    "yang",
    "ini",
    "itu",
    "lepas",
    "selepas",
    "semasa",
    "apabila",
    "bila",
    "kalau",
    "jika",
    "sebab",
    "kerana",
    "oleh",
    "untuk",
    "dengan",
    "dari",
    "daripada",
    "the",
    "and",
    "but",
    "then",
    "when",
    "after",
    "before",
    "this",
    "that",
    "they",
    "she",
    "his",
    "her",
    "our",
    "we",
    "you",
    "there",
    "what",
    "why",
    "how",
    "also",
    "please",
    "sila",
    "tolong",
    "terima",
    "kasih",
    "thank",
    "thanks",
    "encik",
    "puan",
    "tuan",
    "cik",
    "mohon",
    "harap",
    "aduan",
    "complaint",
    "laporan",
    "report",
    "sekian",
    "regards",
    "subject",
    "perkara",
    "tarikh",
    "date",
    "masa",
    "time",
    "hari",
    "bulan",
    "tahun",
    "minggu",
    "isnin",
    "selasa",
    "rabu",
    "khamis",
    "jumaat",
    "sabtu",
    "ahad",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "januari",
    "februari",
    "mac",
    "april",
    "mei",
    "jun",
    "julai",
    "ogos",
    "september",
    "oktober",
    "november",
    "disember",
    "january",
    "february",
    "march",
    "may",
    "june",
    "july",
    "august",
    "october",
    "december",
    "pelapor",
    "jalan",
    "taman",
    "kampung",
    "bandar",
    "majlis",
    "jabatan",
    "pejabat",
    "hospital",
    "klinik",
    "sekolah",
    "balai",
    "polis",
    "police",
    "council",
    "department",
    "office",
    "syarikat",
    "company",
    "sdn",
    "bhd",
    "berhad",
    "bank",
    "malaysia",
    "kerajaan",
    "government",
    "officer",
    "pegawai",
    "boss",
    "bro",
    "sir",
    "mr",
    "mrs",
    "ms",
    "dr",
}


def words(text: str, common: Collection[str] = ()) -> set[str]:
    """The capitalised words of a text that may name something particular:
    not those listed, nor the `common` words (written in lower case elsewhere)."""
    return {w for w in map(str.lower, _PROPER.findall(text)) if w not in common} - _COMMON_WORDS


def lower_case_words(texts: Iterable[str], min_texts: int = 2) -> set[str]:
    """The words at least `min_texts` of the texts write in lower case: common
    words, whatever a sentence's start or a heading makes of them."""
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        counts.update(set(re.findall(r"(?<![\w'’])[a-z][a-z'’]+", text)))
    return {w for w, n in counts.items() if n >= min_texts}


def _acronym(value: str) -> str | None:
    """ "hospital tengku ampuan rahimah" -> "htar"; a short one-word name is
    its own acronym ("mpkj"); a name that ends in its acronym has it already."""
    parts = [w for w in re.findall(r"[a-z]+", value) if w not in _ACRONYM_SKIP]
    if len(parts) == 1 and 3 <= len(parts[0]) <= 6:
        return parts[0]
    initials = "".join(w[0] for w in parts[:-1])
    if len(parts) >= 3 and not initials.startswith(parts[-1]):
        return initials + parts[-1][0]
    return None


def _name_words(name: str, common: Collection[str]) -> set[str]:
    """The words of a person's name that may identify them: of three letters
    or more, or two written capitalised that the corpus never writes in lower
    case ("Ng", "Ho", not "Di"); not titles, patronymics or the commonest names."""
    out = {w.lower() for w in re.findall(r"[A-Za-z]+", name) if len(w) >= 3 or re.fullmatch(r"[A-Z][a-z]", w)}
    return {w for w in out if len(w) >= 3 or w not in common} - _NAME_NOISE


def counts(text: str) -> set[str]:
    """The numbers of things a text counts, above ten: not amounts ("RM200",
    "12 ribu"), times, years, plates ("WWX 883") or phone numbers."""
    out = set()
    for m in _COUNT.finditer(text):
        number = m[1].replace(",", "")
        if m[2] in _NOT_COUNTED or int(number) <= 10 or re.fullmatch(r"(19|20)\d\d", number):
            continue
        if not _NOT_COUNTED_AFTER.search(text[max(0, m.start() - 6) : m.start()]):
            out.add(number)
    return out


def phrases(words: Sequence[str]) -> set[str]:
    """The runs of two or more of the words, the phrases a name may hold."""
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1)}


def place_words(text: str) -> list[str]:
    """A text's words as a PLACE key writes them ("jln" as "jalan")."""
    return [_PLACE_ABBREVIATIONS.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def roles(text: str) -> set[str]:
    """The posts a text names its people by ("Sjn", "sergeant"), as one name each."""
    return {_ROLE_OF[m[1]] for m in _ROLE.finditer(text.lower())}


def keys(entities: Iterable[Entity], text: str = "", common: Collection[str] = ()) -> set[tuple[str, str]]:
    """The normalised evidence keys of a complaint: its entities', and the
    proper nouns of its text (not the `common` words)."""
    out: set[tuple[str, str]] = {("WORD", w) for w in words(text, common)}
    out |= {("NAME", w) for m in _INITIALLED.finditer(text) for w in _name_words(m[1], common)}
    out |= {("WEEKDAY", str(d)) for d in when.weekdays(text, (e.value for e in entities if e.type == "DATE"))}
    out |= {("HOUR", str(h)) for h in when.hours(text)} | {("COUNT", n) for n in counts(text)}
    out |= {("ROLE", r) for r in roles(text)}
    for e in entities:
        value = e.value.lower()
        if e.type in ("AGENCY", "COMPANY") and (acronym := _acronym(value)):
            out.add(("ACRONYM", acronym))
        if e.type in ("IC_NUMBER", "PHONE", "VEHICLE_PLATE"):
            out.add(("ID", re.sub(r"[^0-9a-z]", "", value)))
        elif e.type == "PERSON":
            out |= {("NAME", w) for w in _name_words(e.value, common)}
        elif e.type == "COMPANY":
            name = " ".join(re.findall(r"[a-z0-9]+", _COMPANY_SUFFIX.sub(" ", value)))
            if name and name != "syarikat":
                out.add(("COMPANY", name.removeprefix("syarikat ")))
        elif e.type == "AGENCY":
            out.add(("AGENCY", " ".join(re.findall(r"[a-z0-9]+", value))))
        elif e.type == "AMOUNT":
            out.add(("AMOUNT", value))
        elif e.type == "DATE" and re.search(r"\d\d-\d\d$", value):
            # month and day: years are often left out (a day alone or a Hijri day is not compared)
            out.add(("DATE", value[-5:]))
        elif e.type == "LOCATION":
            out.add(("PLACE", " ".join(place_words(value))))
    return out


@dataclass(frozen=True)
class Evidence:
    """What the pair score compares of one complaint; `neutral`: its
    embedding without the directions the languages differ in
    (LanguageNeutral), for comparing."""

    embedding: np.ndarray
    keys: frozenset[tuple[str, str]]
    category: str
    sector: str
    neutral: np.ndarray


@dataclass(frozen=True)
class LanguageNeutral:
    """The embedding centred on the training corpus's mean, with the span of
    the three languages' mean differences projected out, normalised."""

    center: np.ndarray
    basis: np.ndarray  # (directions, dimensions), orthonormal rows

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        x = np.asarray(embedding, dtype=np.float64) - self.center
        x = x - (x @ self.basis.T) @ self.basis
        norm = np.linalg.norm(x)
        return x / norm if norm > 0 else x


@dataclass(frozen=True)
class Rarity:
    """How much a shared key says: its inverse document frequency over the
    training corpus's incidents. "JKR" or "PIBG", in complaints about many
    incidents, say little; "Hospital Kudat", which the corpus never saw twice,
    says the most. Keys are "KIND|key".

    The complaints already stored count too (`stored`: how many name each
    key, the stored one of the two compared among them): a town or a council the corpus never
    named says little once many stored complaints name it, so shared evidence
    does not loosen as complaints accumulate (a larger pool holds more
    unrelated complaints that happen to share a place).

    "PHRASE|bukit baru": the incidents whose names or text hold the run of
    words of a name; the stored complaints that give it as a name (PLACE,
    AGENCY or COMPANY; not those that hold it in a longer one)."""

    idf: dict[str, float]
    unseen: float

    @property
    def saturation(self) -> int:
        """Stored complaints naming a key beyond which it says nothing, whatever the corpus."""
        return math.ceil(math.exp(self.unseen))

    def weight(self, kind: str, key: str, stored: Mapping[str, int] | None = None) -> float:
        """The key's worth, 1 for a key the corpus never saw and few complaints name."""
        name = f"{kind}|{key}"
        idf = self.idf.get(name, self.unseen)
        stored_as = [f"{named}|{key}" for named in NAMED] if kind == "PHRASE" else [name]
        if stored and (n := max(stored.get(k, 0) for k in stored_as) - 1) > 0:
            # Documents naming the key: the corpus's incidents, and the stored complaints.
            idf = max(self.unseen - math.log(math.exp(self.unseen - idf) + n), 0.0)
        return idf / self.unseen


def features(
    a: Evidence, b: Evidence, rank: int = 0, rarity: Rarity | None = None, stored: Mapping[str, int] | None = None
) -> np.ndarray:
    """The pair's feature vector, in FEATURES order; `rank`: how many of a's
    candidates are nearer to it than b (0: b is its nearest); shared keys
    count by their `rarity`, with `stored`: how many stored complaints other
    than a name each of its keys ("KIND|key"; b among them)."""
    by_kind_a: dict[str, set[str]] = {k: set() for k in KINDS}
    by_kind_b: dict[str, set[str]] = {k: set() for k in KINDS}
    for kind, key in a.keys:
        by_kind_a[kind].add(key)
    for kind, key in b.keys:
        by_kind_b[kind].add(key)
    rarity = rarity or Rarity({}, 1.0)
    names = by_kind_a["NAME"] | by_kind_b["NAME"]
    for kind in ("NAME", "WORD"):
        short = _short_names(by_kind_a[kind], by_kind_b[kind], names)
        by_kind_a[kind] |= short
        by_kind_b[kind] |= short
    common = {(k, key) for k in KINDS for key in by_kind_a[k] & by_kind_b[k]}
    shared = _shared(common | _phrases_shared(by_kind_a, by_kind_b), rarity, stored)
    conflict = [
        float(bool(by_kind_a[k]) and bool(by_kind_b[k]) and not _agree(k, by_kind_a, by_kind_b)) for k in CONFLICTS
    ]
    similarity = float(np.dot(a.neutral, b.neutral))
    return np.array(
        [
            similarity,
            1.0 / (1.0 + rank),
            min(shared, _CAP),
            *conflict,
            float(a.category == b.category),
            float(a.sector == b.sector),
        ],
        dtype=np.float64,
    )


def _phrases_shared(a: Mapping[str, set[str]], b: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    """The PHRASE keys two complaints share: the names of several words (NAMED)
    one gives whole and the other holds in one of its names, whole or inside a
    longer one. With the names' other keys, they are one piece of evidence (_shared)."""
    out = set()
    for x, y in ((a, b), (b, a)):
        longer = [f" {key} " for kind in NAMED for key in y[kind]]
        for kind in NAMED:
            out |= {("PHRASE", key) for key in x[kind] if " " in key and any(f" {key} " in k for k in longer)}
    return out


def _words_of(kind: str, key: str) -> set[str]:
    """What a key names, as words two keys naming one thing have in common
    (not the words that say what kind of place or person it is); an agency's
    or a company's acronym too. Numbers, amounts and times stand alone; an hour
    said without the part of the day is two keys, one time."""
    if kind in ("ID", "AMOUNT", "DATE", "WEEKDAY", "COUNT", "ROLE"):
        return {f"{kind}|{key}"}
    if kind == "HOUR":
        return {kind}
    out = set(re.findall(r"[a-z0-9]+", key)) - _PLACE_WORDS - _COMMON_WORDS - _NAME_NOISE
    if kind in ("AGENCY", "COMPANY") and (acronym := _acronym(key)):
        out.add(acronym)
    return out


def _shared(shared: set[tuple[str, str]], rarity: Rarity, stored: Mapping[str, int] | None) -> float:
    """The worth of the keys two complaints share, those that name one thing
    (have a word in common: "Rosnah" as a NAME and as a WORD; "Jabatan
    Tenaga Kerja", "JTK" and "Tenaga") taken together: a group counts its keys' rarity
    summed over the square root of how many they are, so one name the entity
    rules and the proper nouns both found counts more than once, but less
    than as many things shared."""
    items = sorted(shared)
    group = list(range(len(items)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i] = group[group[i]]
        return i

    first: dict[str, int] = {}
    for i, (kind, key) in enumerate(items):
        for word in _words_of(kind, key):
            group[root(i)] = root(first.setdefault(word, i))
    members: dict[int, list[float]] = collections.defaultdict(list)
    for i, (kind, key) in enumerate(items):
        members[root(i)].append(rarity.weight(kind, key, stored))
    return sum(sum(w) / math.sqrt(len(w)) for w in members.values())


def _short_names(a: set[str], b: set[str], names: set[str]) -> set[str]:
    """The short forms of names one set holds in full and the other short: the
    shorter, less telling key is what the two share."""
    out = set()
    for x in a - b:
        for y in b - a:
            short, full = sorted((x, y), key=len)
            if len(short) >= _SHORT_NAME and full.startswith(short) and (x in names or y in names):
                out.add(short)
    return out


def _in_bodies(a: Mapping[str, set[str]], b: Mapping[str, set[str]]) -> bool:
    """Whether a word of a place one complaint names is in the name of a body
    the other names ("bukit baru" and "sekolah kebangsaan bukit baru", "kudat"
    and "hospital kudat"): the two agree on the place, as places at two
    granularities do, whatever other places the second names."""
    bodies = {w for kind in ("AGENCY", "COMPANY") for key in b[kind] for w in key.split()}
    return bool({w for place in a["PLACE"] for w in place.split()} & bodies - _PLACE_WORDS - _COMMON_WORDS)


def _agree(kind: str, by_kind_a: Mapping[str, set[str]], by_kind_b: Mapping[str, set[str]]) -> bool:
    """Whether two complaints' keys of a conflicting kind may describe one incident."""
    a, b = by_kind_a[kind], by_kind_b[kind]
    if kind == "AMOUNT":
        sums = [[float(re.sub(r"[^0-9.]", "", k) or 0) for k in keys] for keys in (a, b)]
        return any(min(x, y) > 0 and max(x, y) <= _SAME_AMOUNT * min(x, y) for x in sums[0] for y in sums[1])
    if kind == "PLACE":
        # At any granularity ("seksyen 9 bandar baru bangi" and "bangi"), or
        # in a body's name the other gives ("tampoi" and "balai polis tampoi").
        same = bool({w for k in a for w in k.split()} & {w for k in b for w in k.split()} - _PLACE_WORDS)
        return same or _in_bodies(by_kind_a, by_kind_b) or _in_bodies(by_kind_b, by_kind_a)
    if kind == "DATE":  # "mm-dd": the same month
        return bool({k[:2] for k in a} & {k[:2] for k in b})
    return bool(a & b)


def ranks(new: Evidence, candidates: Sequence[Evidence]) -> list[int]:
    """Each candidate's place when all are sorted nearest first."""
    similarity = np.array([float(np.dot(new.embedding, c.embedding)) for c in candidates])
    order = np.argsort(-similarity, kind="stable")
    out = [0] * len(candidates)
    for place, i in enumerate(order):
        out[int(i)] = place
    return out


def places(new: Evidence, candidates: Sequence[Evidence], others: Sequence[Evidence]) -> list[int]:
    """Each of `others`' place among the candidates: how many are nearer to
    new. Others are not ranked among themselves, so a member's place does not
    depend on which other members its case has."""
    similarity = np.array([float(np.dot(new.embedding, c.embedding)) for c in candidates])
    return [int((similarity > float(np.dot(new.embedding, o.embedding))).sum()) for o in others]


# At most this many of a case's members, besides the candidates found in it,
# are scored before it is joined (the earliest analysed).
MEMBERS = 50


@dataclass(frozen=True)
class PairModel:
    """Logistic regression over standardised FEATURES; the probability from
    which a candidate makes its case a contender and the one below which a
    member keeps a new complaint out of its case (both chosen on the dev
    split and the train split's folds); the language-neutral view of
    embeddings and the common words it was fitted with."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    member_floor: float
    rarity: Rarity
    neutral: LanguageNeutral
    common: frozenset[str]

    def keys(self, entities: Iterable[Entity], text: str) -> set[tuple[str, str]]:
        return keys(entities, text, self.common)

    def evidence(self, embedding: np.ndarray, keys: Iterable[tuple[str, str]], category: str, sector: str) -> Evidence:
        return Evidence(embedding, frozenset(keys), category, sector, self.neutral(embedding))

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def probabilities(
        self,
        new: Evidence,
        candidates: Sequence[Evidence],
        others: Sequence[Evidence] = (),
        stored: Mapping[str, int] | None = None,
    ) -> np.ndarray:
        """The same-incident probability of each candidate, or, given
        `others` (members of the candidates' cases the search did not find),
        of each of those, placed among the candidates (`places`); `stored`:
        how many stored complaints name each of new's keys (Rarity). Each is
        scored on its own evidence, as the pairs were fitted: lending a
        candidate the keys of its case's other members made every large case
        look closer and joined different incidents at one place or agency."""
        scored = others or candidates
        if not scored:
            return np.zeros(0)
        at = places(new, candidates, others) if others else ranks(new, candidates)
        return self.probability(np.stack([features(new, c, r, self.rarity, stored) for c, r in zip(scored, at)]))

    def contenders(self, cases: Sequence[int], probabilities: np.ndarray) -> dict[int, float]:
        """The cases in which some candidate (of case cases[i], probability
        probabilities[i]) reaches the threshold, each with its most probable
        candidate's probability: the cases whose members `join` asks about."""
        out: dict[int, float] = {}
        for i in map(int, np.flatnonzero(np.asarray(probabilities) >= self.threshold)):
            out[cases[i]] = max(out.get(cases[i], 0.0), float(probabilities[i]))
        return out

    def join(self, contenders: Mapping[int, float], members: Iterable[tuple[int, float]]) -> int | None:
        """The case a new complaint joins (None: it opens one): of the
        contenders none of whose `members` (case, probability: the candidates
        and the others scored) falls below the member floor, the one with the
        most probable candidate."""
        vetoed = {case for case, p in members if p < self.member_floor}
        allowed = [(p, case) for case, p in contenders.items() if case not in vetoed]
        return max(allowed)[1] if allowed else None
