"""The field rules intake.proto declares with protovalidate (buf.validate),
compiled once from the descriptors into plain checks.

protovalidate-python 1.x evaluates every rule as CEL through cel-python; we
measured about 0.4 ms per rule, some 5 ms for one complaint, which alone
would hold a core to about 200 complaints per second against a target of
1,000 per second over the bulk stream. The standard rules intake.proto uses
are simple, so we check them here, and tests/intake/test_declared_rules.py checks that
these checks and protovalidate agree on every rule. A rule we do not know
stops the service at start: nothing declared is silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from buf.validate import validate_pb2
from google.protobuf import descriptor as d
from google.protobuf.message import Message

# protovalidate's string.email: the WHATWG HTML form definition.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)

# What a pattern means, for the person reading the error.
HINTS = {
    "complaints.v1.Complainant.id_number": "must be a Malaysian IC number, YYMMDD-PB-###G (for example 850101-14-5678)",
    "complaints.v1.Complainant.phone": "must be a phone number of 9 to 13 digits, optionally starting with +",
    "complaints.v1.Complainant.email": "must be an email address such as name@example.my",
    "complaints.v1.SubmitComplaintRequest.idempotency_key": "must not be blank",
    "complaints.v1.SubmitComplaintRequest.description": "must not be blank",
    "complaints.v1.SubmitComplaintRequest.incident_date": "must be a date as YYYY-MM-DD",
}

# Only string fields carry value rules (see _compile).
Check = Callable[[str], bool]


@dataclass
class _Field:
    descriptor: d.FieldDescriptor
    required: bool = False
    ignore_empty: bool = False
    # (passes, what is wrong otherwise), in the order protovalidate reports them
    checks: list[tuple[Check, str]] = field(default_factory=list)
    nested: _Compiled | None = None


@dataclass
class _Compiled:
    fields: list[_Field]


def _re2(pattern: str) -> re.Pattern[str]:
    """A declared pattern with RE2's meaning, as protovalidate reads it: there
    \\s is only [\\t\\n\\f\\r ], so a vertical tab is not blank (in Python it is)."""
    return re.compile(pattern.replace(r"\S", r"[^\t\n\f\r ]").replace(r"\s", r"[\t\n\f\r ]"))


def _string_checks(rules: validate_pb2.StringRules, hint: str | None) -> list[tuple[Check, str]]:
    known = {"min_len", "max_len", "pattern", "email"}
    unknown = [f.name for f, _ in rules.ListFields() if f.name not in known]
    if unknown:
        raise NotImplementedError(f"string rules {unknown} are declared but not checked by intake")
    checks: list[tuple[Check, str]] = []
    if rules.HasField("min_len"):
        n = rules.min_len
        checks.append((lambda v: len(v) >= n, f"must be at least {n} characters"))
    if rules.HasField("max_len"):
        m = rules.max_len
        checks.append((lambda v: len(v) <= m, f"must be at most {m} characters"))
    if rules.HasField("pattern"):
        search = _re2(rules.pattern).search
        checks.append((lambda v: search(v) is not None, hint or f"must match {rules.pattern}"))
    if rules.email:
        checks.append((lambda v: _EMAIL.match(v) is not None, hint or "must be an email address"))
    return checks


def _compile(descriptor: d.Descriptor) -> _Compiled:
    fields = []
    for fd in descriptor.fields:
        options = fd.GetOptions()
        rules = options.Extensions[validate_pb2.field] if options.HasExtension(validate_pb2.field) else None
        compiled = _Field(fd)
        if rules is not None:
            kind = rules.WhichOneof("type")
            rest = {f.name for f, _ in rules.ListFields()} - {"required", "ignore", kind or ""}
            if rest or kind not in (None, "string", "bytes"):
                raise NotImplementedError(f"{fd.full_name}: rules {sorted(rest)} {kind} are not checked by intake")
            if kind == "bytes" and rules.bytes.ListFields():
                raise NotImplementedError(f"{fd.full_name}: bytes rules are not checked by intake")
            compiled.required = rules.required
            compiled.ignore_empty = rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE
            if kind == "string":
                compiled.checks = _string_checks(rules.string, HINTS.get(fd.full_name))
        if fd.type == d.FieldDescriptor.TYPE_MESSAGE:
            message = fd.message_type
            assert message is not None  # a message field names its type
            if message.full_name.startswith("complaints."):
                compiled.nested = _compile(message)
        if rules is not None or (compiled.nested and compiled.nested.fields):
            fields.append(compiled)
    return _Compiled(fields)


def _walk(compiled: _Compiled, message: Message, prefix: str, out: list[tuple[str, str]]) -> None:
    for f in compiled.fields:
        fd = f.descriptor
        name = f"{prefix}{fd.name}"
        if f.nested is not None:
            if fd.is_repeated:
                for i, item in enumerate(getattr(message, fd.name)):
                    _walk(f.nested, item, f"{name}[{i}].", out)
            elif message.HasField(fd.name):
                _walk(f.nested, getattr(message, fd.name), f"{name}.", out)
            continue
        value = getattr(message, fd.name)
        if not value:
            if f.required:
                out.append((name, "is required"))
                continue
            if f.ignore_empty:
                continue
        for passes, wrong in f.checks:
            if not passes(value):
                out.append((name, wrong))


class DeclaredRules:
    """The rules declared on one message type and the messages it holds."""

    def __init__(self, descriptor: d.Descriptor) -> None:
        self._compiled = _compile(descriptor)

    def violations(self, message: Message) -> list[tuple[str, str]]:
        """(field path, what is wrong) for every declared rule `message` breaks."""
        out: list[tuple[str, str]] = []
        _walk(self._compiled, message, "", out)
        return out
