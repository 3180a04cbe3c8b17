"""intake.proto's declared field rules: intake's checks agree with
protovalidate itself, and each bad field is named with what is wrong."""

from __future__ import annotations

import protovalidate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.v1 import intake_pb2
from intake_service.declared_rules import DeclaredRules
from tests.helpers import complaint

RULES = DeclaredRules(intake_pb2.SubmitComplaintRequest.DESCRIPTOR)


def reference(message) -> set[str]:
    """Field paths protovalidate finds at fault, as intake names them."""
    paths = set()
    for violation in protovalidate.collect_violations(message):
        parts = []
        for element in violation.proto.field.elements:
            index = f"[{element.index}]" if element.WhichOneof("subscript") == "index" else ""
            parts.append(f"{element.field_name}{index}")
        paths.add(".".join(parts))
    return paths


def ours(message) -> set[str]:
    return {name for name, _ in RULES.violations(message)}


BAD = [
    ({"idempotency_key": ""}, "idempotency_key", "is required"),
    ({"idempotency_key": " \t"}, "idempotency_key", "must not be blank"),
    ({"description": ""}, "description", "is required"),
    ({"description": "   "}, "description", "must not be blank"),
    ({"incident_date": "15/01/2026"}, "incident_date", "YYYY-MM-DD"),
    ({"complainant": intake_pb2.Complainant(id_number="851301-14-5678")}, "complainant.id_number", "Malaysian IC"),
    ({"complainant": intake_pb2.Complainant(id_number="12345")}, "complainant.id_number", "Malaysian IC"),
    ({"complainant": intake_pb2.Complainant(email="not-an-email")}, "complainant.email", "email address"),
    ({"complainant": intake_pb2.Complainant(email="a" * 250 + "@b.my")}, "complainant.email", "at most 254"),
    ({"complainant": intake_pb2.Complainant(phone="12ab")}, "complainant.phone", "9 to 13 digits"),
    ({"complainant": intake_pb2.Complainant(phone="+60 12")}, "complainant.phone", "9 to 13 digits"),
    (
        {"documents": [intake_pb2.Document(filename="a.txt", content=b"x"), intake_pb2.Document(content=b"x")]},
        "documents[1].filename",
        "is required",
    ),
    ({"documents": [intake_pb2.Document(filename="a.txt")]}, "documents[0].content", "is required"),
    ({"documents": [intake_pb2.Document(filename="a" * 256, content=b"x")]}, "documents[0].filename", "at most 255"),
]


@pytest.mark.parametrize(("overrides", "field", "wrong"), BAD)
def test_each_declared_rule_names_the_field_and_what_is_wrong(overrides, field, wrong):
    found = dict(RULES.violations(complaint(**overrides)))
    assert set(found) == {field}
    assert wrong in found[field]
    assert reference(complaint(**overrides)) == {field}


@pytest.mark.parametrize(
    "good",
    [
        complaint(),
        complaint(
            complainant=intake_pb2.Complainant(
                id_number="850101145678", phone="+60 12-345 6789", email="ali.abu@agensi.gov.my"
            )
        ),
        complaint(incident_date="", complainant=intake_pb2.Complainant(anonymous=True)),
    ],
)
def test_good_requests_break_no_declared_rule(good):
    assert ours(good) == set() == reference(good)


TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "850101-14-5678",
            "+60123456789",
            "a@b.my",
            "x@",
            "2026-01-15",
            "2026-1-5",
            "0123 456 789",
            "\n",
            "\x0b",
        ]
    ),
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    key=TEXT,
    description=TEXT,
    date=TEXT,
    ic=TEXT,
    phone=TEXT,
    email=TEXT,
    files=st.lists(st.tuples(TEXT, st.binary(max_size=3)), max_size=2),
)
def test_intakes_checks_agree_with_protovalidate(key, description, date, ic, phone, email, files):
    message = intake_pb2.SubmitComplaintRequest(
        idempotency_key=key,
        description=description,
        incident_date=date,
        complainant=intake_pb2.Complainant(id_number=ic, phone=phone, email=email),
        documents=[intake_pb2.Document(filename=n, content=c) for n, c in files],
    )
    assert ours(message) == reference(message)


def test_a_rule_intake_cannot_check_stops_it_at_start():
    from buf.validate import validate_pb2

    from intake_service.declared_rules import _string_checks

    with pytest.raises(NotImplementedError, match="uuid"):
        _string_checks(validate_pb2.StringRules(uuid=True), None)
