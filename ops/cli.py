"""`complaints`: the command-line client, for officers, integrators and SREs.

    complaints submit --description "..." --file resit.pdf --watch
    complaints bulk complaints.jsonl          # or a folder of *.json files
    complaints status ID | watch ID
    complaints dashboard
    complaints pipeline 127.0.0.1:50053 127.0.0.1:50054
    complaints reprocess --all --wait         # or --category, --needs-review...
    complaints keys create --name agency-x --roles submit
    complaints health 127.0.0.1:50051

The API key comes from --api-key, else COMPLAINTS_API_KEY, else the
development key `make run` writes to $DATA_DIR/dev-api-key (.data).

A complaint file (one JSON object, or one per line of a .jsonl file) has the
fields of SubmitComplaintRequest in protobuf JSON; a document may give a
`path` (relative to the file) instead of base64 `content`. Without an
`idempotency_key`, one is derived from the complaint's content, so sending the
same file again stores nothing twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from complaints import request_context
from complaints.auth import bearer
from complaints.constants import FINAL_STATES
from complaints.v1 import (
    analytics_pb2,
    analytics_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    pipeline_pb2,
    pipeline_pb2_grpc,
    types_pb2,
)

# Evidence may be large: as much as intake's default message limit allows.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
FINAL = {types_pb2.ComplaintState.Value(state) for state in FINAL_STATES}

out = Console()
err = Console(stderr=True)


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def api_key(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("COMPLAINTS_API_KEY"):
        return os.environ["COMPLAINTS_API_KEY"]
    path = Path(os.environ.get("DATA_DIR", ".data")) / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    raise CliError(f"no API key: pass --api-key, set COMPLAINTS_API_KEY, or run `make run` (writes {path})")


@dataclass
class Session:
    """Channels and call metadata for one command."""

    args: argparse.Namespace
    request_id: str = field(default_factory=request_context.new_id)

    def metadata(self) -> list[tuple[str, str]]:
        return [*bearer(api_key(self.args.api_key)), (request_context.HEADER, self.request_id)]

    def channel(self, address: str) -> grpc.Channel:
        return grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )

    def intake(self) -> intake_pb2_grpc.IntakeServiceStub:
        return intake_pb2_grpc.IntakeServiceStub(self.channel(self.args.intake))

    def analytics(self) -> analytics_pb2_grpc.AnalyticsServiceStub:
        return analytics_pb2_grpc.AnalyticsServiceStub(self.channel(self.args.analytics))


# -- complaint files -----------------------------------------------------------------


def _document(entry: dict[str, Any], base: Path) -> intake_pb2.Document:
    if "path" not in entry:
        return json_format.ParseDict(entry, intake_pb2.Document())
    path = base / entry["path"]
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(f"document {entry['path']}: {exc.strerror}") from None
    return intake_pb2.Document(
        filename=entry.get("filename", path.name),
        content_type=entry.get("content_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        content=content,
    )


def parse_complaint(data: Any, base: Path, source_system: str) -> intake_pb2.SubmitComplaintRequest:
    """One complaint from its JSON form; `base` is where document paths start."""
    if not isinstance(data, dict):
        raise CliError("a complaint must be a JSON object")
    fields = dict(data)
    documents = fields.pop("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise CliError("documents must be a list of objects")
    try:
        request = json_format.ParseDict(fields, intake_pb2.SubmitComplaintRequest())
    except json_format.ParseError as exc:
        raise CliError(str(exc)) from None
    request.documents.extend(_document(d, base) for d in documents)
    request.source_system = request.source_system or source_system
    if not request.idempotency_key:
        # The content decides the key: a re-sent file is recognised, not stored twice.
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode())
        request.idempotency_key = "cli-" + digest.hexdigest()[:40]
    return request


@dataclass
class Item:
    label: str  # where it came from: file, or file:line
    request: intake_pb2.SubmitComplaintRequest | None
    problem: str = ""


def read_items(path: Path, source_system: str) -> tuple[int, Iterator[Item]]:
    """How many complaints `path` holds, and the complaints one by one (read
    lazily, so a large file is never all in memory)."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))

        def from_folder() -> Iterator[Item]:
            for file in files:
                yield _item(
                    file.name, lambda f=file: json.loads(f.read_text(encoding="utf-8")), file.parent, source_system
                )

        return len(files), from_folder()
    if not path.exists():
        raise CliError(f"{path}: no such file or folder")
    with path.open(encoding="utf-8") as counting:
        total = sum(1 for line in counting if line.strip())

    def from_lines() -> Iterator[Item]:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield _item(f"{path.name}:{number}", lambda text=line: json.loads(text), path.parent, source_system)

    return total, from_lines()


def _item(label: str, load: Any, base: Path, source_system: str) -> Item:
    try:
        return Item(label, parse_complaint(load(), base, source_system))
    except (CliError, ValueError) as exc:
        return Item(label, None, f"not a valid complaint: {exc}")


def describe(error: grpc.RpcError | Any) -> str:
    """A failed call, or a google.rpc.Status from a stream answer, as a person
    reads it: the code, the message and each field at fault."""
    if isinstance(error, grpc.Call):
        status, head = rpc_status.from_call(error), f"{error.code().name}: {error.details()}"
    else:
        status, head = error, f"{_code(error.code).name}: {error.message}"
    lines = [head]
    for detail in status.details if status is not None else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


def _code(number: int) -> grpc.StatusCode:
    return next(c for c in grpc.StatusCode if c.value[0] == number)


# -- commands ------------------------------------------------------------------------


def cmd_submit(session: Session) -> int:
    args = session.args
    data: dict[str, Any] = {
        k: v
        for k, v in {
            "idempotency_key": args.idempotency_key,
            "channel": args.channel,
            "subject": args.subject,
            "description": args.description,
            "incident_date": args.incident_date,
            "location": args.location,
        }.items()
        if v
    }
    who = {
        k: v
        for k, v in {"name": args.name, "id_number": args.id_number, "phone": args.phone, "email": args.email}.items()
        if v
    }
    if args.anonymous or who:
        data["complainant"] = {**who, "anonymous": args.anonymous}
    data["documents"] = [{"path": str(Path(f).resolve())} for f in args.file]
    request = parse_complaint(data, Path.cwd(), args.source_system)
    if not args.idempotency_key:
        request.idempotency_key = str(uuid.uuid4())  # one command, one complaint
    reply = session.intake().SubmitComplaint(request, metadata=session.metadata())
    note = " (already submitted with this key)" if reply.duplicate else ""
    out.print(f"complaint {reply.complaint_id} {types_pb2.ComplaintState.Name(reply.status)}{note}")
    if args.watch:
        args.complaint_id = reply.complaint_id
        return cmd_watch(session)
    return 0


def cmd_bulk(session: Session) -> int:
    args = session.args
    total, items = read_items(Path(args.path), args.source_system)
    labels: list[str] = []  # stream position -> where the complaint came from
    tally: Counter[str] = Counter()
    problems: list[tuple[str, str]] = []

    def requests() -> Iterator[intake_pb2.SubmitComplaintRequest]:
        for item in items:
            if item.request is None:
                tally["unreadable"] += 1
                problems.append((item.label, item.problem))
                progress.advance(task)
                continue
            labels.append(item.label)
            yield item.request

    columns = (TextColumn("[bold]submitting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, disable=args.quiet) as progress:
        task = progress.add_task("submit", total=total)
        for answer in session.intake().SubmitComplaints(requests(), metadata=session.metadata()):
            if answer.HasField("error"):
                tally[f"refused ({_code(answer.error.code).name})"] += 1
                problems.append((labels[answer.index], describe(answer.error)))
            else:
                tally["duplicate (stored before)" if answer.duplicate else "stored"] += 1
            progress.advance(task)

    table = Table(title=f"{args.path}: {total} complaint(s)")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for outcome, count in sorted(tally.items()):
        table.add_row(outcome, str(count))
    out.print(table)
    for label, problem in problems[:20]:
        out.print(f"[red]{label}[/red]: {problem}", highlight=False)
    if len(problems) > 20:
        out.print(f"... and {len(problems) - 20} more")
    return 1 if problems else 0


def _status_row(s: types_pb2.ComplaintStatus) -> str:
    when = s.updated_at.ToDatetime().strftime("%H:%M:%S") if s.HasField("updated_at") else "--:--:--"
    text = f"{when}  {types_pb2.ComplaintState.Name(s.status):<10} stage={s.stage or '-'} attempts={s.attempts}"
    return text + (f"  last error: {s.last_error}" if s.last_error else "")


def cmd_status(session: Session) -> int:
    reply = session.intake().GetComplaintStatus(
        intake_pb2.GetComplaintStatusRequest(complaint_id=session.args.complaint_id), metadata=session.metadata()
    )
    out.print(_status_row(reply), highlight=False)
    return 0


def cmd_watch(session: Session) -> int:
    last = None
    for last in session.intake().WatchComplaint(
        intake_pb2.WatchComplaintRequest(complaint_id=session.args.complaint_id), metadata=session.metadata()
    ):
        out.print(_status_row(last), highlight=False)
    return 1 if last is not None and last.status == types_pb2.FAILED else 0


def _table(title: str, headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i == len(headers) - 1 else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table


def cmd_dashboard(session: Session) -> int:
    d = session.analytics().GetDashboard(analytics_pb2.GetDashboardRequest(), metadata=session.metadata())
    s = d.summary
    out.print(
        _table(
            f"Complaints (as of {d.as_of.ToDatetime():%Y-%m-%d %H:%M:%S} UTC)",
            ("", "count"),
            [
                ("total", s.total),
                ("queued", s.queued),
                ("processing", s.processing),
                ("processed", s.processed),
                ("failed", s.failed),
                ("received today", s.received_today),
                ("mean processing seconds", f"{s.mean_processing_seconds:.1f}"),
            ],
        )
    )
    out.print(_table("Categories", ("category", "count"), [(b.key, b.count) for b in d.categories]))
    out.print(_table("Sectors", ("sector", "count"), [(b.key, b.count) for b in d.sectors]))
    out.print(
        _table("Patterns", ("category", "sector", "count"), [(p.category, p.sector, p.count) for p in d.patterns])
    )
    out.print(_table("Top entities", ("type", "value", "count"), [(e.type, e.value, e.count) for e in d.top_entities]))
    out.print(
        _table(
            "Top cases",
            ("case", "title", "category", "sector", "complaints"),
            [(c.case_id, c.title, c.category, c.sector, c.complaint_count) for c in d.top_cases],
        )
    )
    return 0


def cmd_pipeline(session: Session) -> int:
    rows = []
    for address in session.args.replicas:
        stub = pipeline_pb2_grpc.PipelineServiceStub(session.channel(address))
        s = stub.GetPipelineStatus(pipeline_pb2.GetPipelineStatusRequest(), metadata=session.metadata(), timeout=10)
        pool = dict(s.pool.stats)
        rows.append(
            (
                address,
                s.replica_id,
                f"{s.in_flight}/{s.capacity}",
                s.queue_depth,
                s.processed_total,
                s.failed_total,
                f"{pool.get('pool_size', 0)}/{pool.get('pool_max', 0)}",
                s.llm_breaker_state,
                "yes" if s.draining else "no",
            )
        )
    out.print(
        _table(
            "Pipeline replicas",
            ("address", "replica", "in flight", "queue", "processed", "failed", "pool", "breaker", "draining"),
            rows,
        )
    )
    return 0


def _listed(session: Session, status: types_pb2.ComplaintState.ValueType) -> Iterator[str]:
    """IDs of the complaints that match the command's filters, in `status`."""
    a = session.args
    request = analytics_pb2.ListComplaintsRequest(
        status=status, category=a.category or "", sector=a.sector or "", needs_review=a.needs_review, page_size=500
    )
    stub = session.analytics()
    while True:
        page = stub.ListComplaints(request, metadata=session.metadata(), timeout=30)
        yield from (c.complaint_id for c in page.complaints)
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token


def cmd_reprocess(session: Session) -> int:
    """Re-analyses stored complaints with the current model: each is put back
    to QUEUED through Reprocess (which takes its earlier result out of every
    figure when the new one is committed), in batches over the replicas."""
    a = session.args
    if not (a.all or a.category or a.sector or a.needs_review):
        raise CliError("say which complaints: --all, or a filter (--category, --sector, --needs-review)")
    statuses = [types_pb2.ComplaintState.Value(a.status)] if a.status else [types_pb2.PROCESSED, types_pb2.FAILED]
    # The IDs first: a complaint re-queued and processed again must not be listed twice.
    ids = [cid for status in statuses for cid in _listed(session, status)]
    addresses = a.pipeline or os.environ.get("COMPLAINTS_PIPELINE", "127.0.0.1:50053").split(",")
    stubs = [pipeline_pb2_grpc.PipelineServiceStub(session.channel(address)) for address in addresses]
    outcome: Counter[str] = Counter()
    requeued: list[str] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=a.quiet,
    ) as progress:
        task = progress.add_task("re-queued", total=len(ids))
        for start in range(0, len(ids), a.batch):
            batch = ids[start : start + a.batch]
            # One batch in flight at a time, spread over the replicas.
            calls = [
                stubs[i % len(stubs)].Reprocess.future(
                    pipeline_pb2.ReprocessRequest(complaint_id=cid), metadata=session.metadata(), timeout=30
                )
                for i, cid in enumerate(batch)
            ]
            for cid, call in zip(batch, calls):
                try:
                    call.result()
                    outcome["re-queued"] += 1
                    requeued.append(cid)
                except grpc.RpcError as exc:
                    # Being analysed right now, or gone: say so and go on.
                    outcome[exc.code().name.lower()] += 1
                progress.advance(task)
        if a.wait and requeued:
            task = progress.add_task("analysed again", total=len(requeued))
            intake = session.intake()
            for cid in requeued:
                for state in intake.WatchComplaint(
                    intake_pb2.WatchComplaintRequest(complaint_id=cid), metadata=session.metadata()
                ):
                    if state.status in FINAL:
                        outcome[types_pb2.ComplaintState.Name(state.status).lower()] += 1
                        break
                progress.advance(task)
    out.print(
        f"{len(ids)} complaints matched: " + ", ".join(f"{n} {what}" for what, n in sorted(outcome.items())),
        highlight=False,
    )
    return 0 if outcome["re-queued"] == len(ids) and not outcome["failed"] else 1


def cmd_health(session: Session) -> int:
    with session.channel(session.args.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    out.print(f"{session.args.address} {name}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def cmd_keys(session: Session) -> int:
    from ops import keys  # the one place keys are made, listed and revoked

    return keys.main(session.args.keys_args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="complaints", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--intake",
        default=os.environ.get("COMPLAINTS_INTAKE", "127.0.0.1:50051"),
        help="intake address (COMPLAINTS_INTAKE; default %(default)s)",
    )
    p.add_argument(
        "--analytics",
        default=os.environ.get("COMPLAINTS_ANALYTICS", "127.0.0.1:50052"),
        help="analytics address (COMPLAINTS_ANALYTICS; default %(default)s)",
    )
    p.add_argument("--api-key", help="API key (else COMPLAINTS_API_KEY, else $DATA_DIR/dev-api-key)")
    commands = p.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="submit one complaint, with evidence files")
    submit.add_argument("--description", required=True)
    submit.add_argument("--subject")
    submit.add_argument("--location")
    submit.add_argument("--incident-date", help="YYYY-MM-DD")
    submit.add_argument("--channel", default="cli")
    submit.add_argument("--source-system", default="cli")
    submit.add_argument("--idempotency-key", help="default: a new one per command")
    submit.add_argument("--file", action="append", default=[], help="evidence (PDF, PNG, JPEG, TIFF, text); repeatable")
    who = submit.add_argument_group("complainant (never shown on the dashboard)")
    for flag in ("--name", "--id-number", "--phone", "--email"):
        who.add_argument(flag)
    who.add_argument("--anonymous", action="store_true")
    submit.add_argument("--watch", action="store_true", help="then follow its status until it is final")
    submit.set_defaults(run=cmd_submit)

    bulk = commands.add_parser("bulk", help="submit a .jsonl file or a folder of .json files over one stream")
    bulk.add_argument("path")
    bulk.add_argument("--source-system", default="cli-bulk", help="for complaints that name none")
    bulk.add_argument("--quiet", action="store_true", help="no progress bar")
    bulk.set_defaults(run=cmd_bulk)

    for name, run, text in (
        ("status", cmd_status, "a complaint's status"),
        ("watch", cmd_watch, "follow a complaint's status until it is final"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("complaint_id")
        command.set_defaults(run=run)

    commands.add_parser("dashboard", help="the officers' dashboard as tables").set_defaults(run=cmd_dashboard)
    pipeline = commands.add_parser("pipeline", help="each pipeline replica's state")
    pipeline.add_argument("replicas", nargs="+", metavar="ADDRESS")
    pipeline.set_defaults(run=cmd_pipeline)
    reprocess = commands.add_parser(
        "reprocess", help="re-analyse stored complaints (all, or by filter) with the current model, in batches"
    )
    reprocess.add_argument("--all", action="store_true", help="every PROCESSED and FAILED complaint")
    reprocess.add_argument("--category")
    reprocess.add_argument("--sector")
    reprocess.add_argument("--needs-review", action="store_true", help="only complaints marked for review")
    reprocess.add_argument("--status", choices=sorted(FINAL_STATES), help="default: both")
    reprocess.add_argument(
        "--pipeline",
        action="append",
        help="pipeline replica address; repeatable (COMPLAINTS_PIPELINE, comma-separated)",
    )
    reprocess.add_argument("--batch", type=int, default=64, help="Reprocess calls in flight at once (%(default)s)")
    reprocess.add_argument("--wait", action="store_true", help="then follow each until it is analysed again")
    reprocess.add_argument("--quiet", action="store_true", help="no progress bar")
    reprocess.set_defaults(run=cmd_reprocess)
    health = commands.add_parser("health", help="grpc.health.v1 check of one service (exit 0 when SERVING)")
    health.add_argument("address")
    health.set_defaults(run=cmd_health)
    # Everything after `keys` goes to python -m ops.keys as it is.
    commands.add_parser(
        "keys", help="create, list or revoke API keys (see `complaints keys --help`)", add_help=False
    ).set_defaults(run=cmd_keys)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, rest = parser().parse_known_args(argv)
    if args.command == "keys":
        args.keys_args = argv[argv.index("keys") + 1 :]
    elif rest:
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return args.run(Session(args))
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    except grpc.RpcError as exc:
        err.print(f"[red]error:[/red] {describe(exc)}", highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
