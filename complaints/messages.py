"""Conversions between database rows and messages that more than one service uses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from google.protobuf import timestamp_pb2

from complaints.errors import InvalidArgument
from complaints.v1 import types_pb2


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def parse_id(value: str, field: str = "complaint_id") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument([(field, "must be a complaint ID as returned by SubmitComplaint (a UUID)")]) from None


def status_message(row: dict[str, Any]) -> types_pb2.ComplaintStatus:
    return types_pb2.ComplaintStatus(
        complaint_id=str(row["id"]),
        status=types_pb2.ComplaintState.Value(row["status"]),
        attempts=row["attempts"],
        stage=row["stage"],
        last_error=row["last_error"],
        received_at=timestamp(row["received_at"]),
        started_at=timestamp(row["started_at"]),
        processed_at=timestamp(row["processed_at"]),
        updated_at=timestamp(row["updated_at"]),
    )
