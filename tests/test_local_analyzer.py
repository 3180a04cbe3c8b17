"""The offline analyzer's rules, on Malay and English text."""
from __future__ import annotations

from pipeline_service.analyzer.entities import extract
from pipeline_service.analyzer.local import acts, classify, sector, summary
from complaints.redact import MASK, redact


def kinds(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for e in extract(text):
        found.setdefault(e.type, set()).add(e.value)
    return found


def test_malaysian_entities_are_found():
    text = (
        "Pada 12 Mac 2024, Inspektor Ahmad bin Ali dari Balai Polis Cheras meminta RM5,000. "
        "Dia memandu WXY 1234. Syarikat Maju Jaya Sdn Bhd membayar RM1.2 juta kepada Dato' Seri Lim Kok Wing. "
        "IC suspek 850101-14-5678, telefon 012-345 6789. Majlis Perbandaran Kajang meluluskan permit."
    )
    found = kinds(text)
    assert found["IC_NUMBER"] == {"850101-14-5678"}
    assert found["PHONE"] == {"0123456789"}
    assert found["AMOUNT"] == {"RM5,000.00", "RM1,200,000.00"}
    assert "12 Mac 2024" in found["DATE"]
    assert found["VEHICLE_PLATE"] == {"WXY1234"}
    assert {"Polis Diraja Malaysia (PDRM)", "Majlis Perbandaran Kajang"} <= found["AGENCY"]
    assert found["COMPANY"] == {"Syarikat Maju Jaya Sdn Bhd"}
    assert {"Inspektor Ahmad bin Ali", "Dato' Seri Lim Kok Wing"} <= found["PERSON"]


def test_category_sector_and_acts_follow_the_text():
    bribe = "A customs officer at the port demanded a bribe of RM2,000 to release my container."
    assert classify(bribe) == "BRIBERY"
    assert sector(bribe) == "LAW_ENFORCEMENT"
    assert "MACC Act 2009 s.16" in acts(bribe)

    cbt = "Bendahari koperasi sekolah telah menyeleweng wang kutipan yuran pelajar untuk kegunaan peribadi."
    assert classify(cbt) == "CRIMINAL_BREACH_OF_TRUST"
    assert sector(cbt) == "EDUCATION"
    assert acts(cbt) == ["Penal Code s.409"]

    service = "Jalan berlubang di taman kami tidak dibaiki walaupun sudah tiga bulan membuat aduan."
    assert classify(service) == "NOT_CORRUPTION"
    assert acts(service) == []


def test_summary_is_extractive_and_bounded():
    text = "Saya ingin membuat aduan. " * 3 + "Pegawai JPJ meminta rasuah RM200 di sekatan jalan. Terima kasih."
    out = summary(text, limit=120)
    assert "meminta rasuah RM200" in out
    assert len(out) <= 120


def test_the_complainants_identity_is_masked_however_it_is_written():
    text = "Saya Siti Aminah (012-345 6789 / +6012 3456789, IC 850101145678, siti@example.my) melapor."
    out = redact(text, name="Siti Aminah", phone="+60123456789", id_number="850101-14-5678", email="siti@example.my")
    for leaked in ("Siti", "345", "850101", "siti@"):
        assert leaked not in out
    assert out.count(MASK) == 5
