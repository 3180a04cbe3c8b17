"""The two fields the analytics role may read as stored by intake (the
incident location and the evidence file names) never show the complainant."""

from __future__ import annotations

import psycopg

from complaints.redact import MASK
from complaints.v1 import analytics_pb2, intake_pb2
from tests.helpers import complaint

NAME, IC, PHONE, EMAIL = "Nurul Huda binti Kamal", "880214-10-5566", "+60 17-220 9183", "nurul.huda@contoh.my"


def test_location_and_file_names_are_stored_masked(cluster, clients):
    reply = clients.intake.SubmitComplaint(
        complaint(
            location=f"Rumah {NAME}, Shah Alam",
            complainant=intake_pb2.Complainant(name=NAME, id_number=IC, phone=PHONE, email=EMAIL),
            documents=[
                intake_pb2.Document(
                    filename=f"aduan {NAME} 017-2209183.txt",
                    content_type="text/plain",
                    content=b"Resit bayaran kepada pegawai.",
                )
            ],
        )
    )
    detail = clients.analytics.GetComplaint(analytics_pb2.GetComplaintRequest(complaint_id=reply.complaint_id))
    shown = detail.SerializeToString().decode("utf-8", "replace")
    for secret in (NAME, "Nurul", "880214", "2209183", "nurul.huda"):
        assert secret not in shown
    assert detail.location == f"Rumah {MASK}, Shah Alam"
    assert [d.filename for d in detail.documents] == [f"aduan {MASK} {MASK}.txt"]
    # The identity itself is kept, where only intake and the pipeline can read it.
    with psycopg.connect(cluster.admin_url) as conn:
        stored = conn.execute(
            "SELECT name, phone FROM complainants WHERE complaint_id = %s", (reply.complaint_id,)
        ).fetchone()
    assert stored == (NAME, PHONE)
