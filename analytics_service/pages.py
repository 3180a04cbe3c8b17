"""Opaque page tokens for keyset pagination.

A token holds the sort key of the last row served and a digest of the
filters it was issued for. The next page starts strictly after that key, so
rows added meanwhile (new complaints sort first) never shift a page, and a
token sent with other filters is refused instead of serving a wrong page.

A token comes back from the client, so it is checked as a whole before any
part of it is used: its size, its exact JSON shape and every value's type
(`parse` checks the key's). Anything else, however well-formed, is
INVALID_ARGUMENT, never a type error deeper down.

ListComplaints and ListCases use the `complaints_*` and `cases_*` pairs at the end.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from analytics_service.store import ComplaintFilter, ComplaintKey
from complaints.errors import InvalidArgument

_VERSION = 1
# Our tokens are well under this; a longer one is refused before it is decoded.
MAX_TOKEN_CHARS = 512
K = TypeVar("K")
_NOT_OURS = "is not a next_page_token from this RPC; start again without it"
_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_DIGEST = re.compile(r"[0-9a-f]{16}")


class BadKey(ValueError):
    """A token's sort key is not of the shape its RPC issues."""


def _digest(filters: Any) -> str:
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]


def encode(key: list[Any], filters: Any) -> str:
    raw = json.dumps({"v": _VERSION, "k": key, "f": _digest(filters)}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _fields(token: str) -> tuple[list[Any], str]:
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
        raise BadKey("not a token")
    raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if not (isinstance(raw, dict) and raw.keys() == {"v", "k", "f"}):
        raise BadKey("not a token")
    version, key, digest = raw["v"], raw["k"], raw["f"]
    # type() rather than isinstance: JSON's true is a Python bool, which is an int.
    if (
        type(version) is not int
        or version != _VERSION
        or type(key) is not list
        or type(digest) is not str
        or not _DIGEST.fullmatch(digest)
    ):
        raise BadKey("not a token")
    return key, digest


def decode(token: str, filters: Any, parse: Callable[[list[Any]], K]) -> K:
    """The sort key in `token`, through `parse` (which raises BadKey for a
    key of the wrong shape); InvalidArgument if the token is not one of ours
    or was issued for other filters."""
    try:
        items, digest = _fields(token)
        key = parse(items)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # ValueError covers BadKey and json's JSONDecodeError; RecursionError
        # is what deeply nested JSON raises.
        raise InvalidArgument([("page_token", _NOT_OURS)]) from None
    if digest != _digest(filters):
        raise InvalidArgument(
            [("page_token", "was issued for other filters; send the same filters, or start again without page_token")]
        )
    return key


# The keys of our two listings. Complaints: newest first, by received_at then ID.
def complaints_token(last: dict[str, Any], filters: ComplaintFilter) -> str:
    return encode([last["received_at"].isoformat(), str(last["id"])], filters)


def _complaint_key(key: list[Any]) -> ComplaintKey:
    if len(key) != 2 or not all(type(part) is str for part in key):
        raise BadKey("not a complaint key")
    at, ident = key
    when = dt.datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise BadKey("no time zone")
    return ComplaintKey(when, uuid.UUID(ident))


def complaints_after(token: str, filters: ComplaintFilter) -> ComplaintKey:
    return decode(token, filters, _complaint_key)


# Cases: newest first, by ID. Case IDs are bigserial: anything outside bigint is not one of ours.
_MAX_CASE_ID = 2**63 - 1


def cases_token(last_id: int, filters: tuple[str | None, str | None]) -> str:
    return encode([last_id], filters)


def _case_key(key: list[Any]) -> int:
    if len(key) != 1 or type(key[0]) is not int or not 0 < key[0] <= _MAX_CASE_ID:
        raise BadKey("not a case ID")
    return key[0]


def cases_after(token: str, filters: tuple[str | None, str | None]) -> int:
    return decode(token, filters, _case_key)
