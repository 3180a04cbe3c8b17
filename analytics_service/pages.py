"""Opaque page tokens for keyset pagination.

A token holds the sort key of the last row served and a digest of the
filters it was issued for. The next page starts strictly after that key, so
rows added meanwhile (new complaints sort first) never shift a page, and a
token sent with other filters is refused instead of serving a wrong page.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from complaints.errors import InvalidArgument

_VERSION = 1
K = TypeVar("K")
_NOT_OURS = "is not a next_page_token from this RPC; start again without it"


def _digest(filters: Any) -> str:
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]


def encode(key: list[Any], filters: Any) -> str:
    raw = json.dumps({"v": _VERSION, "k": key, "f": _digest(filters)}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, filters: Any, parse: Callable[[list[Any]], K]) -> K:
    """The sort key in `token`, through `parse`; InvalidArgument if it is not
    one of ours or was issued for other filters."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(raw, dict) and raw.get("v") == _VERSION and isinstance(raw.get("k"), list)):
            raise ValueError("not a token")
        key = parse(raw["k"])
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgument([("page_token", _NOT_OURS)]) from None
    if raw.get("f") != _digest(filters):
        raise InvalidArgument([("page_token", "was issued for other filters; send the same filters, "
                                              "or start again without page_token")])
    return key
