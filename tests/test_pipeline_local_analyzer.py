"""The local analyzer on the labelled complaints, and the entities officers
search by. The accuracy floors make a regression fail; the benchmark reports
the same figures."""
from __future__ import annotations

from pipeline_service.analyzer.entities import extract
from tests.data.labelled import evaluate, load


def test_the_labelled_set_is_big_enough_in_both_languages():
    rows = load()
    assert len(rows) >= 60
    assert sum(r["lang"] == "ms" for r in rows) >= 30 and sum(r["lang"] == "en" for r in rows) >= 30
    assert len({r["category"] for r in rows}) == 6 and len({r["sector"] for r in rows}) == 9


def test_category_and_sector_accuracy_stay_above_their_floors():
    figures = evaluate()
    assert figures["category_accuracy"] >= 0.8, figures
    assert figures["category_accuracy_holdout"] >= 0.7, figures
    assert figures["sector_accuracy"] >= 0.75, figures


def test_people_by_honorific_and_companies_by_suffix():
    text = ("Tan Sri Abdul Rahman bin Osman, Datuk Lee Chong Wei dan Encik Ramli meminta wang daripada "
            "Puan Siti Hajar. Bayaran dibuat melalui Mega Bina Berhad dan Kilang Jaya Sdn. Bhd. pada 5 Januari 2025.")
    found = {(e.type, e.value) for e in extract(text)}
    assert {("PERSON", "Tan Sri Abdul Rahman bin Osman"), ("PERSON", "Datuk Lee Chong Wei"),
            ("PERSON", "Encik Ramli"), ("PERSON", "Puan Siti Hajar")} <= found
    assert {("COMPANY", "Mega Bina Berhad"), ("COMPANY", "Kilang Jaya Sdn. Bhd")} <= found
    assert ("DATE", "5 Januari 2025") in found
