"""The offline analyzer on Malay, English and mixed text: entities in the
forms complaints write them, acts that follow the category, the extractive
summary, the fitted model's confidence, and identity masking."""

from __future__ import annotations

import numpy as np

from complaints.redact import MASK, redact
from pipeline_service.analyzer import Entity, grouping, model
from pipeline_service.analyzer.entities import extract, mentions
from pipeline_service.analyzer.local import LocalAnalyzer, acts, summary
from pipeline_service.analyzer.shortforms import normalise


def kinds(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for e in extract(text):
        found.setdefault(e.type, set()).add(e.value)
    return found


def test_malaysian_entities_are_found_and_normalised():
    text = (
        "Pada 12 Mac 2024, Inspektor Ahmad bin Ali dari Balai Polis Cheras meminta RM5,000. "
        "Dia memandu WXY 1234. Syarikat Maju Jaya Sdn Bhd membayar RM1.2 juta kepada Dato' Seri Lim Kok Wing. "
        "IC suspek 850101-14-5678, telefon 012-345 6789. Majlis Perbandaran Kajang meluluskan permit."
    )
    found = kinds(text)
    assert found["IC_NUMBER"] == {"850101145678"}
    assert found["PHONE"] == {"0123456789"}
    assert found["AMOUNT"] == {"RM5,000.00", "RM1,200,000.00"}
    assert found["DATE"] == {"2024-03-12"}
    assert found["VEHICLE_PLATE"] == {"WXY1234"}
    assert {"Balai Polis Cheras", "Majlis Perbandaran Kajang"} <= found["AGENCY"]
    assert found["COMPANY"] == {"Syarikat Maju Jaya Sdn Bhd"}
    assert {"Inspektor Ahmad bin Ali", "Dato' Seri Lim Kok Wing"} <= found["PERSON"]


def test_amounts_phones_and_ids_in_the_unusual_forms_complaints_use():
    text = (
        "Dia minta tiga ratus ringgit, kemudian RM3.5k, lepas tu lima ribu ringgit dan two thousand five "
        "hundred ringgit, eighty-five ringgit and one hundred and twenty ringgit. Call +60 11-1098 2234 or "
        "1300-88-1234 or 03-7956 1234. IC 900214105566."
    )
    found = kinds(text)
    assert found["AMOUNT"] == {"RM300.00", "RM3,500.00", "RM5,000.00", "RM2,500.00", "RM85.00", "RM120.00"}
    assert found["PHONE"] == {"01110982234", "1300881234", "0379561234"}
    assert found["IC_NUMBER"] == {"900214105566"}


def test_a_date_names_a_day_however_it_is_written_and_a_month_is_no_date():
    text = (
        "Malam 14hb tu dia datang lagi; zakat dibayar 27 Ramadan, resit bertarikh 2025/04/12 dan 3hb. Mac 2025. "
        "Dia bersara Mac 2026, kerja dari Julai hingga September 2026."
    )
    dates = [m for m in mentions(text) if m.type == "DATE"]
    assert {(text[m.start : m.end], m.value) for m in dates} == {
        ("14hb", "---14"),
        ("27 Ramadan", "27 Ramadan"),
        ("2025/04/12", "2025-04-12"),
        ("3hb. Mac 2025", "2025-03-03"),
    }
    # Only a Gregorian month and day is compared between complaints.
    assert {k for k in grouping.keys(extract(text)) if k[0] == "DATE"} == {("DATE", "04-12"), ("DATE", "03-03")}


def test_people_with_titles_patronyms_and_without_either():
    text = (
        "Cikgu Salmah, Pak Mat dan Suresh a/l Muniandy bertemu Tan Ah Kow di MBJB. Ketua unit, "
        "tag nama ROSLI, dan Dato' Sri Azman Hashim dari Hospital Sultanah Aminah. Syarikat itu bukan "
        "Sdn Bhd sahaja."
    )
    found = {(m.type, text[m.start : m.end]) for m in mentions(text)}
    for person in ("Cikgu Salmah", "Pak Mat", "Suresh a/l Muniandy", "Tan Ah Kow", "ROSLI", "Dato' Sri Azman Hashim"):
        assert ("PERSON", person) in found, person
    assert {("AGENCY", "MBJB"), ("AGENCY", "Hospital Sultanah Aminah")} <= found
    assert not any(kind == "COMPANY" for kind, _ in found), "'Sdn Bhd' alone names no company"


def test_people_set_beside_who_they_are_towns_written_alone_and_commissions():
    text = (
        "Jiran saya di tingkat lima, Farid Hakimi, kerja di Pejabat Tanah. Duit dihantar ke Hatyai dan "
        "Kuala Nerus, kadang-kadang ke KL. Kami lapor kepada Suruhanjaya Koperasi Malaysia. Resit itu bukan "
        "resit Majlis Agama Islam Selangor."
    )
    found = {(m.type, text[m.start : m.end]) for m in mentions(text)}
    assert ("PERSON", "Farid Hakimi") in found
    assert {("AGENCY", "Suruhanjaya Koperasi Malaysia"), ("AGENCY", "Majlis Agama Islam Selangor")} <= found
    assert {("LOCATION", "Hatyai"), ("LOCATION", "Kuala Nerus"), ("LOCATION", "KL")} <= found


def spans(text: str) -> set[tuple[str, str]]:
    return {(m.type, text[m.start : m.end]) for m in mentions(text)}


def test_names_without_a_title_are_known_by_their_shape_not_inside_places():
    text = (
        "Ahmad Fauzi dan Siti Aminah jumpa Lim Mei Ling. Kelvin Ong, Rajesh Kumar and Jeffrey Kitingan signed; "
        "the name tag said ROSLI. Kami tinggal di Jalan Ahmad Ibrahim, Iskandar Puteri, dekat Taman Tun Dr Ismail."
    )
    found = spans(text)
    people = {t for kind, t in found if kind == "PERSON"}
    for person in ("Ahmad Fauzi", "Siti Aminah", "Lim Mei Ling", "Kelvin Ong", "Rajesh Kumar", "Jeffrey Kitingan"):
        assert person in people, person
    assert "ROSLI" in people
    assert not any(p in ("Ahmad Ibrahim", "Iskandar", "Iskandar Puteri", "Tun Dr Ismail", "Ismail") for p in people)


def test_plates_follow_the_plate_grammar_not_any_letters_and_digits():
    text = (
        "Kereta WXY 1234, Proton Saga BKA5678C, SAB 4422 J, van QAA 123 A, W 6363 Q dan PUTRAJAYA 88. "
        "Pegawai gred N19 dan KP22 pakai Samsung A54 dan Yamaha NVX 155; Lot PT 1234, Jalan SS 2/24, golongan B40, "
        "borang CP204, STR 2025, nombor rujukan ABC 1234."
    )
    plates = {t for kind, t in spans(text) if kind == "VEHICLE_PLATE"}
    assert plates == {"WXY 1234", "BKA5678C", "SAB 4422 J", "QAA 123 A", "W 6363 Q", "PUTRAJAYA 88"}


def test_specific_institutions_are_agencies_in_any_case_and_word_order():
    text = (
        "Saya ke balai polis Dang Wangi, hospital Kajang dan SJK(C) Chung Hwa. The Serdang Hospital and the Hulu "
        "Langat Land Office sent me to MBSJ, MPAJ and MBIP. The hospital was dirty; the police station was closed; "
        "he has an MBA."
    )
    agencies = {t for kind, t in spans(text) if kind == "AGENCY"}
    assert agencies == {
        "balai polis Dang Wangi",
        "hospital Kajang",
        "SJK(C) Chung Hwa",
        "Serdang Hospital",
        "Hulu Langat Land Office",
        "MBSJ",
        "MPAJ",
        "MBIP",
    }


def test_companies_need_a_name_before_their_suffix():
    text = (
        "Tender kepada ABC TRADING SDN BHD dan Bumi Hijau Sdn. Bhd.; emas dari kedai emas Kwong Hup. Dia tubuh "
        "sebuah Sdn Bhd, Syarikat Sdn Bhd itu milik adik. Customer Services and the WhatsApp Group called "
        "Maritime Enforcement Agency."
    )
    found = spans(text)
    assert {t for kind, t in found if kind == "COMPANY"} == {
        "ABC TRADING SDN BHD",
        "Bumi Hijau Sdn. Bhd",
        "kedai emas Kwong Hup",
    }
    assert not any(kind == "PERSON" for kind, _ in found)


def test_a_company_name_runs_to_its_last_trade_word_and_legal_form():
    text = (
        "Kontrak kepada Syarikat Teguh Maju (M) Sdn Bhd; Kontraktor Bina Jaya Sdn Bhd dapat projek jalan; invois "
        "dari Syarikat Ah Huat & Anak-Anak dan Tan & Tan Developers; he works for Seng Heng Motor Trading Co. in "
        "Klang; lori Sri Ganesh Transport & Logistics. Money changer kat Jalan Wong Ah Fook, nama Permata Emas; "
        "kilang itu, seorang lelaki bernama Ng; nama kedai itu Sentosa; dijual kat Carousell. Firma audit "
        "Low & Associates."
    )
    found = spans(text)
    assert {t for kind, t in found if kind == "COMPANY"} == {
        "Syarikat Teguh Maju (M) Sdn Bhd",
        "Bina Jaya Sdn Bhd",
        "Syarikat Ah Huat & Anak-Anak",
        "Tan & Tan Developers",
        "Seng Heng Motor Trading Co",
        "Sri Ganesh Transport & Logistics",
        "Permata Emas",
        "Sentosa",
        "Carousell",
        "Low & Associates",
    }
    assert ("PERSON", "Ng") in found


def test_posts_are_not_people_and_businesses_are_known_by_what_they_are():
    text = (
        "Penolong Pegawai Tanah di situ dan Pegawai Rahim. Dividen Koperasi Peneroka Felda Jengka 8 Berhad tak "
        'dibayar; invois dari Golden Harbour Consulting Ltd; beli dari kedai di Shopee bernama "Jahit Pro"; '
        "kontrak kepada Kilat Bersih, syarikat yang baru ditubuhkan."
    )
    found = spans(text)
    assert {t for kind, t in found if kind == "PERSON"} == {"Pegawai Rahim"}
    assert {
        "Koperasi Peneroka Felda Jengka 8 Berhad",
        "Golden Harbour Consulting Ltd",
        "Jahit Pro",
        "Kilat Bersih",
    } <= {t for kind, t in found if kind == "COMPANY"}


def test_amounts_in_words_without_ringgit_unless_they_count_something():
    text = (
        'Dia kata "dua ratus", kemudian "five hundred", "seratus lima puluh cukup", 6 ratus, naik 50 sen, '
        "USD 2,000. Dua ratus orang hadir lima puluh tahun di Kampung Batu Sepuluh."
    )
    assert {m.value for m in mentions(text) if m.type == "AMOUNT"} == {
        "RM200.00",
        "RM500.00",
        "RM150.00",
        "RM600.00",
        "RM0.50",
        "USD2,000.00",
    }


def test_reports_written_differently_share_grouping_evidence():
    short = grouping.keys(
        [Entity("AGENCY", "HTAR"), Entity("AMOUNT", "RM4,500.00"), Entity("DATE", "2025-08-05")],
        "Projek kat HTAR Klang.",
        common={"projek"},
    )
    full = grouping.keys(
        [Entity("AGENCY", "Hospital Tengku Ampuan Rahimah"), Entity("AMOUNT", "RM4,000.00"), Entity("DATE", "--08-20")],
        "Di Hospital Tengku Ampuan Rahimah, Klang.",
    )
    assert ("ACRONYM", "htar") in short & full
    assert ("WORD", "klang") in short and ("WORD", "projek") not in short, "a word written in lower case names nothing"
    pairs = model.load().pairs
    a = pairs.evidence(np.ones(384, dtype=np.float32), short, "BRIBERY", "HEALTH")
    b = pairs.evidence(np.ones(384, dtype=np.float32), full, "BRIBERY", "HEALTH")
    conflicts = dict(zip(grouping.FEATURES, grouping.features(a, b)))
    # RM4,500 and RM4,000 may be one sum; 5 and 20 August one month.
    assert conflicts["conflict_AMOUNT"] == 0 and conflicts["conflict_DATE"] == 0
    far = pairs.evidence(
        np.ones(384, dtype=np.float32), {("AMOUNT", "rm40,000.00"), ("DATE", "12-01")}, "BRIBERY", "HEALTH"
    )
    conflicts = dict(zip(grouping.FEATURES, grouping.features(a, far)))
    assert conflicts["conflict_AMOUNT"] == 1 and conflicts["conflict_DATE"] == 1


def test_a_two_letter_surname_is_a_name_in_a_person_or_after_initials():
    titled = grouping.keys(extract("Saya jumpa Inspektor Ng di pejabat."), "Saya jumpa Inspektor Ng di pejabat.")
    text = "The purchasing manager K.L. Ng asked for it."
    initialled = grouping.keys(extract(text), text)
    assert ("NAME", "ng") in titled & initialled
    # A two-letter word the corpus writes in lower case is no name, nor a title.
    assert grouping.keys([Entity("PERSON", "Mr Di")], common={"di"}) == set()
    assert grouping.keys([Entity("PERSON", "En Ho")]) == {("NAME", "ho")}


def test_when_and_how_many_are_keys_whatever_the_language():
    def when(text: str, *entities: Entity) -> set[tuple[str, str]]:
        return {k for k in grouping.keys(entities, text) if k[0] in ("WEEKDAY", "HOUR", "COUNT")}

    english = when("Last Saturday night (around 11pm), 140 pupils were on the bus for 62 hours.")
    malay = when("Malam Sabtu lepas, pukul 11.40 malam, 140 murid naik bas.")
    assert english & malay == {("WEEKDAY", "5"), ("HOUR", "23"), ("COUNT", "140")}
    assert ("COUNT", "62") in english
    # A full date's weekday (14 March 2026 was a Saturday); a 24-hour time; "Sat" only before a date.
    assert when("", Entity("DATE", "2026-03-14")) == {("WEEKDAY", "5")}
    assert when("Sat 14/3 at 2315hrs.") == {("WEEKDAY", "5"), ("HOUR", "23")}
    assert when("We sat down.", Entity("DATE", "--03-14")) == set()
    # Without the part of the day an hour is morning or evening; "12 malam" is midnight.
    assert when("Dia datang pukul 7.") == {("HOUR", "7"), ("HOUR", "19")}
    assert when("jam 12 malam, jam 12 tengah hari, 5.30am") == {("HOUR", "0"), ("HOUR", "12"), ("HOUR", "5")}
    # Money, years, phone numbers, plates and small numbers count nothing.
    assert when("RM300 tunai, 12 ribu lebih, 2025 tahun lepas, 017-338 2910 kalau, WWX 883 kalau, 5 orang.") == set()


def test_a_post_is_one_key_whatever_the_language_or_short_form():
    def posts(text: str) -> set[tuple[str, str]]:
        return {k for k in grouping.keys([], text) if k[0] == "ROLE"}

    malay = posts("Sjn itu dan kerani kaunter minta duit; guru besar dan jururawat-jururawat tahu.")
    english = posts("The sergeant and the clerks asked for money; the headmistress and the staff nurse knew.")
    assert malay == english == {("ROLE", r) for r in ("sergeant", "clerk", "headteacher", "nurse")}
    # The longest post a phrase names, not the words inside it; whole words only.
    assert posts("Pegawai Penguatkuasa MBSA dan Ketua Kampung") == {
        ("ROLE", "enforcement officer"),
        ("ROLE", "village head"),
    }
    assert posts("A screwdriver, engineering works and a principality.") == set()


def test_a_name_written_short_and_a_place_at_another_granularity_agree_others_conflict():
    vector = np.ones(384, dtype=np.float32)

    def evidence(entities: list[Entity], text: str = "") -> grouping.Evidence:
        return model.load().pairs.evidence(vector, grouping.keys(entities, text), "BRIBERY", "HEALTH")

    def compare(a: grouping.Evidence, b: grouping.Evidence) -> dict[str, float]:
        return dict(zip(grouping.FEATURES, grouping.features(a, b)))

    short = evidence([Entity("PERSON", "Kak Ros")], "Kerani itu, Kak Ros, minta duit.")
    full = evidence([Entity("PERSON", "Rosnah bt Ismail")], "The clerk, Rosnah bt Ismail, took cash.")
    shared = compare(short, full)
    assert shared["shared"] > 0 and shared["conflict_NAME"] == 0
    assert compare(short, evidence([Entity("PERSON", "Encik Kamal")]))["conflict_NAME"] == 1
    # Places are not names: "Sepang" is not short for "Sepanggar".
    assert compare(evidence([], "Di Sepang."), evidence([], "In Sepanggar."))["shared"] == 0
    market = evidence([Entity("LOCATION", "Seksyen 9, Bandar Baru Bangi")])
    assert compare(market, evidence([Entity("LOCATION", "Bangi")]))["conflict_PLACE"] == 0
    assert compare(market, evidence([Entity("LOCATION", "Taman Sri Kajang")]))["conflict_PLACE"] == 1


def test_a_name_inside_a_longer_name_is_shared_and_a_place_in_a_bodys_name_agrees():
    vector = np.ones(384, dtype=np.float32)
    pairs = model.load().pairs

    def evidence(entities: list[Entity]) -> grouping.Evidence:
        text = ", ".join(e.value for e in entities) + "."
        return pairs.evidence(vector, pairs.keys(entities, text), "BRIBERY", "EDUCATION")

    def compare(a: grouping.Evidence, b: grouping.Evidence) -> dict[str, float]:
        return dict(zip(grouping.FEATURES, grouping.features(a, b)))

    place = evidence([Entity("LOCATION", "Bukit Baru"), Entity("LOCATION", "Ayer Keroh")])
    school = evidence([Entity("AGENCY", "Sekolah Kebangsaan Bukit Baru"), Entity("LOCATION", "Johor")])
    other = evidence([Entity("AGENCY", "Sekolah Kebangsaan Bukit Jalil"), Entity("LOCATION", "Johor")])
    # Word by word each school shares only "Bukit" with the place ("baru" is a common word).
    assert compare(place, school)["shared"] > compare(place, other)["shared"] > 0
    # The school is in Bukit Baru, wherever else the report places it.
    assert compare(place, school)["conflict_PLACE"] == 0
    assert compare(place, evidence([Entity("LOCATION", "Johor")]))["conflict_PLACE"] == 1
    short = evidence([Entity("COMPANY", "Permata Emas")])
    full = evidence([Entity("COMPANY", "Permata Emas Money Exchange Sdn Bhd")])
    similar = evidence([Entity("COMPANY", "Permata Intan Money Exchange Sdn Bhd")])
    assert compare(short, full)["shared"] > compare(short, similar)["shared"] > 0


def test_a_place_many_stored_complaints_name_says_less_than_a_rare_one():
    pairs = model.load().pairs
    vector = np.ones(384, dtype=np.float32)
    keys = grouping.keys([Entity("LOCATION", "Jalan Wong Ah Fook")], "Di Jalan Wong Ah Fook.")
    a, b = (pairs.evidence(vector, keys, "BRIBERY", "FINANCE") for _ in range(2))

    def shared(stored: dict[str, int]) -> dict[str, float]:
        return dict(zip(grouping.FEATURES, grouping.features(a, b, 0, pairs.rarity, stored)))

    alone = shared({f"{kind}|{key}": 1 for kind, key in keys})  # b is the one stored complaint naming them
    assert alone == shared({})
    crowded = shared({f"{kind}|{key}": pairs.rarity.saturation for kind, key in keys})
    assert alone["shared"] > 0 and crowded["shared"] == 0


def test_the_keys_that_name_one_thing_count_as_one_piece_of_evidence():
    vector = np.ones(384, dtype=np.float32)

    def shared(entities: list[Entity], text: str = "") -> float:
        a = model.load().pairs.evidence(vector, grouping.keys(entities, text), "BRIBERY", "HEALTH")
        return float(dict(zip(grouping.FEATURES, grouping.features(a, a)))["shared"])

    # The street as a place, as two proper nouns ("Wong", "Fook") and as a
    # name of several words shared whole: four keys, one street, worth more
    # than a one-word town found twice but no more than two things.
    street = shared([Entity("LOCATION", "Jalan Wong Ah Fook")], "Di Jalan Wong Ah Fook.")
    town = shared([Entity("LOCATION", "Kudat")], "Di Kudat.")
    name_and_town = shared([Entity("PERSON", "Rosnah"), Entity("LOCATION", "Kudat")])
    assert 1 < town < street <= name_and_town == 2


def test_acts_follow_the_category():
    assert acts("A customs officer demanded RM2,000.", "BRIBERY") == [
        "MACC Act 2009 s.16",
        "MACC Act 2009 s.17",
        "Penal Code s.161",
    ]
    assert acts("Bendahari koperasi menyeleweng wang.", "CRIMINAL_BREACH_OF_TRUST") == ["Penal Code s.409"]
    assert acts("Jalan berlubang tidak dibaiki.", "NOT_CORRUPTION") == []


async def test_the_fitted_model_answers_with_a_calibrated_confidence():
    analyzer = LocalAnalyzer()
    bribe = await analyzer.analyse("Anggota JPJ di sekatan jalan minta duit kopi RM200 supaya saman tak dikeluarkan.")
    assert (bribe.category, bribe.sector) == ("BRIBERY", "LAW_ENFORCEMENT")
    assert 0.5 < bribe.category_confidence <= 1 and not bribe.needs_review
    assert bribe.embedding.shape == (384,) and abs(float(np.linalg.norm(bribe.embedding)) - 1) < 1e-4
    service = await analyzer.analyse(
        "Sampah di taman kami tidak dikutip dua minggu, bau busuk, majlis tak layan aduan."
    )
    assert service.category == "NOT_CORRUPTION" and service.acts == []
    assert model.load().category.review_below > 0


def test_short_forms_count_as_the_words_they_stand_for():
    assert normalise("Dia x nak bagi resit sbb dah settle dgn pegawai yg bertugas, tgk2 la pls") == (
        "dia tak nak bagi resit sebab dah settle dengan pegawai yang bertugas, tengok tengok la please"
    )
    # A product, a hyphenated word, an abbreviation with dots and an amount stay as written.
    assert normalise("850 pelajar x RM45, 2 x 3, x-ray, U.S. dollars, RM2") == (
        "850 pelajar x rm45, 2 x 3, x-ray, u.s. dollars, rm2"
    )
    vocabulary = model.load().vocabulary
    assert np.array_equal(model.cue_counts("x nak bayar duit kopi"), model.cue_counts("tak nak bayar duit kopi"))
    assert np.array_equal(vocabulary.tfidf("dia minta duit yg banyak"), vocabulary.tfidf("dia minta duit yang banyak"))


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
