"""SQL-injection and control-character strings are data: stored and returned
verbatim, never executed, never mangled."""

from __future__ import annotations

import psycopg

from complaints.v1 import analytics_pb2, intake_pb2, types_pb2
from tests.helpers import complaint, wait_until

HOSTILE = [
    "'; DROP TABLE complaints; --",
    "Robert'); DELETE FROM analyses WHERE ('1'='1",
    '" OR 1=1 --',
    "$$; SELECT pg_sleep(10); $$",
    "\\x27 \\' \\\\",
    "\x01\x02\x07\x1b[31mred\x1b[0m\x7f",
    "tab\tnew\nline\rcarriage",
    "\u202eRTL override\u202c and zero\u200bwidth",
    "Jawi: رسوة, Tamil: லஞ்சம், Chinese: 贿赂, emoji: 💰🚓",
    "%s %d %n {0} {{}} ${HOME} `id`",
]


def test_hostile_strings_are_stored_and_returned_verbatim(cluster, clients):
    subject = " | ".join(HOSTILE[:3])
    description = "Pegawai polis meminta rasuah RM300. " + " ".join(HOSTILE)
    reply = clients.intake.SubmitComplaint(
        complaint(subject=subject, description=description, location=HOSTILE[0], channel=HOSTILE[2][:20])
    )
    wait_until(
        lambda: (
            clients.intake.GetComplaintStatus(
                intake_pb2.GetComplaintStatusRequest(complaint_id=reply.complaint_id)
            ).status
            == types_pb2.PROCESSED
        ),
        what="PROCESSED",
    )
    with psycopg.connect(cluster.admin_url) as conn:
        row = conn.execute(
            "SELECT subject, description, location, channel FROM complaints WHERE id = %s", (reply.complaint_id,)
        ).fetchone()
        masked = conn.execute(
            "SELECT subject, description FROM analyses WHERE complaint_id = %s", (reply.complaint_id,)
        ).fetchone()
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert row == (subject, description, HOSTILE[0], HOSTILE[2][:20])
    # Nothing of the complainant is in these strings, so masking leaves them as they were.
    assert masked == (subject, description)
    assert {"complaints", "analyses", "complainants", "documents", "cases"} <= tables

    detail = clients.analytics.GetComplaint(analytics_pb2.GetComplaintRequest(complaint_id=reply.complaint_id))
    assert detail.complaint.subject == subject
    assert detail.description == description
    assert detail.location == HOSTILE[0]
