"""The fixed vocabularies every analyzer answers with (DESIGN.md, Taxonomy).

Kept as data: a new value is added here (and, if stored, by a migration),
never taken as free text from a model.
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "BRIBERY": "soliciting, accepting or giving gratification",
    "ABUSE_OF_POWER": "using an office for own or family gain",
    "FALSE_CLAIM": "false documents or claims to a principal",
    "CRIMINAL_BREACH_OF_TRUST": "misappropriating entrusted funds or property",
    "MONEY_LAUNDERING": "concealing or moving proceeds of crime",
    "NOT_CORRUPTION": "service complaints and other matters referred elsewhere",
}

SECTORS: dict[str, str] = {
    "LAW_ENFORCEMENT": "police, customs, immigration, road transport, maritime",
    "LOCAL_GOVERNMENT": "city and municipal councils",
    "LAND_AND_PROPERTY": "land offices, property",
    "PUBLIC_WORKS_AND_CONSTRUCTION": "public works, construction, infrastructure contracts",
    "HEALTH": "hospitals, clinics, health department",
    "EDUCATION": "schools, universities, education department",
    "FINANCE_AND_REVENUE": "tax, revenue, public finance, banks",
    "PRIVATE_SECTOR": "companies dealing with companies",
    "OTHER_PUBLIC_SERVICE": "any other public body",
}

ACTS: dict[str, str] = {
    "MACC Act 2009 s.16": "accepting gratification",
    "MACC Act 2009 s.17": "giving or accepting gratification by agent",
    "MACC Act 2009 s.17A": "offence by commercial organisation",
    "MACC Act 2009 s.18": "intending to deceive principal (false claim)",
    "MACC Act 2009 s.23": "using office or position for gratification",
    "Penal Code s.161": "public servant taking gratification",
    "Penal Code s.162": "taking gratification to influence a public servant",
    "Penal Code s.163": "taking gratification for exercise of personal influence",
    "Penal Code s.164": "public servant abetting offences under s.162 or s.163",
    "Penal Code s.165": "public servant obtaining valuable thing without consideration",
    "Penal Code s.409": "criminal breach of trust by public servant or agent",
    "AMLATFPUAA 2001 s.4": "money laundering",
}
