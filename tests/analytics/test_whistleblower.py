"""Whistleblower protection in analytics: complaints that name their
complainant (in the complainant fields and typed into the subject and
description; or, with no complainant fields, only introducing themselves in
the text) are submitted and analysed, then every analytics RPC is asked
everything it can answer, and no answer (bytes, text or JSON), nor the
service's log, holds a name, ID number, phone or email. The analytics
database role cannot select those columns at all."""

from __future__ import annotations

import re

import grpc
import psycopg
import pytest
from google.protobuf import json_format, text_format

from complaints.v1 import analytics_pb2 as pb
from complaints.v1 import intake_pb2, types_pb2
from tests.helpers import complaint, wait_until
from tests.sql import scalar

PEOPLE = [
    {
        "name": "Siti Aminah binti Yusof",
        "id_number": "880412-10-5124",
        "phone": "+60 12-456 7890",
        "email": "siti.aminah@contoh.my",
        "subject": "Aduan oleh Siti Aminah binti Yusof tentang JPJ",
        "description": "Saya Siti Aminah binti Yusof (No. KP 880412105124), boleh dihubungi di 012-4567890 atau "
        "siti.aminah@contoh.my. Seorang pegawai JPJ di Kajang meminta RM500 supaya lesen saya "
        "tidak digantung.",
    },
    {
        "name": "Rajesh a/l Kumar",
        "id_number": "910723146677",
        "phone": "019-876 5432",
        "email": "rajesh.k@mail.example.com",
        "subject": "Land office bribe",
        "description": "My name is Rajesh a/l Kumar, IC 910723-14-6677, phone +6019 876 5432, email "
        "Rajesh.K@mail.example.com. The clerk at Pejabat Tanah Gombak asked me for RM2,000 "
        "to approve my land title quickly.",
    },
    {
        # Anonymous by its fields, signed in its text (complaints/redact.py's `introduced`).
        "anonymous": "yes",
        "name": "Noraini binti Hashim",
        "id_number": "790305-06-5432",
        "phone": "013-772 4410",
        "email": "noraini.h@contoh.my",
        "plate": "WKN 6639",
        "subject": "Pegawai penguatkuasa minta duit",
        "description": "Nama saya Noraini binti Hashim, no. KP 790305-06-5432, telefon 013-772 4410, emel "
        "noraini.h@contoh.my. Seorang pegawai penguatkuasa MBSA meminta RM800 supaya gerai saya di "
        "Seksyen 7 tidak dirobohkan. Kereta saya WKN 6639 pun pernah disita. Sila hubungi saya di 013 7724410.",
    },
]


def _needles(person: dict[str, str]) -> tuple[list[str], list[str]]:
    """Words to look for in text (any case), and digit runs to look for in
    the text with every non-digit taken out."""
    words = [person["name"], person["email"], person["email"].split("@")[0], *filter(None, [person.get("plate")])]
    words += [part for part in person["name"].split() if len(part) > 3 and part.lower() not in ("binti", "bin")]
    digits = [re.sub(r"\D", "", person["id_number"]), re.sub(r"\D", "", person["phone"]).removeprefix("60").lstrip("0")]
    return words, digits


def _leaks(blob: bytes | str, people=PEOPLE) -> list[str]:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    lowered, digits_only = text.lower(), re.sub(r"\D", "", text)
    found = []
    for person in people:
        words, digits = _needles(person)
        found += [w for w in words if w.lower() in lowered]
        found += [d for d in digits if d in digits_only]
    return found


@pytest.fixture(scope="module")
def submitted(cluster, clients) -> list[str]:
    ids = []
    for i, person in enumerate(PEOPLE):
        identity = None
        if "anonymous" not in person:
            identity = intake_pb2.Complainant(
                name=person["name"], id_number=person["id_number"], phone=person["phone"], email=person["email"]
            )
        # The file name and the location name the complainant too: intake masks them as it stores them.
        doc = intake_pb2.Document(
            filename=f"evidence-{i} {person['name']}.txt",
            content_type="text/plain",
            content=f"Surat daripada {person['name']}, KP {person['id_number']}.".encode(),
        )
        ids.append(
            clients.intake.SubmitComplaint(
                complaint(
                    complainant=identity,
                    subject=person["subject"],
                    description=person["description"],
                    location=f"Rumah {person['name']}, Shah Alam",
                    documents=[doc],
                )
            ).complaint_id
        )

    def processed() -> bool:
        return all(
            clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=i)).status
            == types_pb2.PROCESSED
            for i in ids
        )

    wait_until(processed, 120, "the complaints to be analysed")
    # The identities are in the database, so finding none below means something.
    with psycopg.connect(cluster.admin_url) as conn:
        stored = conn.execute("SELECT name FROM complainants WHERE complaint_id = ANY(%s::uuid[])", (ids,)).fetchall()
    # (an anonymous complaint's row has no name)
    assert sorted(r[0] for r in stored) == sorted("" if "anonymous" in p else p["name"] for p in PEOPLE)
    return ids


def _every_answer(analytics, ids: list[str]) -> list:
    answers = [analytics.GetDashboard(pb.GetDashboardRequest())]
    watch = analytics.WatchDashboard(pb.WatchDashboardRequest(), timeout=30)
    answers.append(next(watch))
    watch.cancel()
    listed = []
    for request in (
        pb.ListComplaintsRequest(page_size=2),
        pb.ListComplaintsRequest(status=types_pb2.PROCESSED),
        pb.ListComplaintsRequest(category="BRIBERY"),
    ):
        while True:
            page = analytics.ListComplaints(request)
            answers.append(page)
            listed += [c.complaint_id for c in page.complaints]
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
    assert set(ids) <= set(listed)
    for complaint_id in set(listed):
        answers.append(analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=complaint_id)))
    cases_request = pb.ListCasesRequest(page_size=1)
    cases = []
    while True:
        page = analytics.ListCases(cases_request)
        answers.append(page)
        cases += [c.case_id for c in page.cases]
        if not page.next_page_token:
            break
        cases_request.page_token = page.next_page_token
    for case_id in cases:
        answers.append(analytics.GetCase(pb.GetCaseRequest(case_id=case_id)))
    for person in PEOPLE:
        for text in (person["name"], person["id_number"], person["phone"], person["email"], person["description"]):
            answers.append(analytics.SearchSimilar(pb.SearchSimilarRequest(text=text, limit=100)))
    for complaint_id in ids:
        answers.append(analytics.SearchSimilar(pb.SearchSimilarRequest(complaint_id=complaint_id, limit=100)))
    return answers


def test_no_analytics_answer_holds_a_complainants_identity(cluster, clients, submitted):
    answers = _every_answer(clients.analytics, submitted)
    assert len(answers) > 20
    for answer in answers:
        for form in (
            answer.SerializeToString(),
            text_format.MessageToString(answer, as_utf8=True),
            json_format.MessageToJson(answer, ensure_ascii=False),
        ):
            assert not _leaks(form), (type(answer).__name__, _leaks(form))
    # What was around the identity is served, with the identity masked.
    details = [a for a in answers if isinstance(a, pb.ComplaintDetail) and a.complaint.complaint_id in submitted]
    assert len(details) == len(PEOPLE)
    for detail in details:
        assert "[PELAPOR]" in detail.description and detail.documents and detail.summary
    assert any("[PELAPOR]" in d.complaint.subject for d in details)
    log = (cluster.logs_dir / "analytics.log").read_text(encoding="utf-8", errors="replace")
    assert not _leaks(log)


def test_the_analytics_role_cannot_select_identity(cluster, submitted):
    refused = [
        "SELECT name FROM complainants",
        "SELECT * FROM complainants",
        "SELECT count(*) FROM complainants",
        "SELECT description FROM complaints",
        "SELECT subject FROM complaints",
        "SELECT * FROM complaints",
        "SELECT content FROM documents",
        "SELECT extracted_text FROM documents",
        "SELECT idempotency_key FROM complaints",
    ]
    with psycopg.connect(cluster.url("analytics")) as conn:
        for query in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
            conn.rollback()
        # What it serves, it can read; nothing can it write.
        assert scalar(
            conn,
            "SELECT count(*) FROM complaints c JOIN analyses a ON a.complaint_id = c.id WHERE c.id = ANY(%s::uuid[])",
            (submitted,),
        ) == len(PEOPLE)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE analyses SET summary = ''")
        conn.rollback()


def test_errors_do_not_echo_identity(clients, submitted):
    for person in PEOPLE:
        with pytest.raises(grpc.RpcError) as caught:
            clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=person["name"]))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert not _leaks(caught.value.details() or "")
