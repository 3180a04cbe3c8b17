"""Every shell command in README.md, run as written against a running stack
(PostgreSQL, intake, analytics, two pipeline replicas and the gateway, as
`make run` starts them): the real grpcurl and kubectl of the dev
dependencies, curl through the real Envoy, the Python example, the
`complaints` command. Each ```sh block runs in bash from a folder laid out
like a checkout after `make run` (`.venv`, `.data` with its keys, and the
user's own files the examples name: resit.pdf, gambar.png,
complaints.jsonl), after the README's own `. .venv/bin/activate`.

Only two things differ from a person's terminal: the services listen on
free ports, so the README's fixed addresses (127.0.0.1:50051, ...) are
rewritten to them (and the `complaints` command and the key tool are told
them through the environment variables the README documents); and kubectl,
having no cluster here, checks its commands with --dry-run=client. A block
that ends in a stream (WatchDashboard) is stopped once the stream has shown
a dashboard. Commands that other tests run, or that take a run of their own,
are listed in ELSEWHERE (whole blocks in ELSEWHERE_BLOCKS) with where; a new command in the README fails
test_every_command_is_run_here_or_elsewhere until it is run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.supervisor import Supervisor
from tests.helpers import pdf_document, running_cluster, wait_until

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ACTIVATE = ". .venv/bin/activate"
ELSEWHERE = {
    "make run": "tests/ops/test_supervisor.py runs python -m ops.supervisor, the command make run runs",
    "make test": "CI runs it (.ci/run)",
    "make lint": "make test runs it first, so CI does",
    "make chaos": "its cases run small in make test (tests/system/test_faults.py); full size is a run of its own",
    "make bench": "a run of its own (bench/report.md); tests check its figures' sources",
    "make demo": "tests/ops/test_cli.py runs python -m ops.demo twice, the command make demo runs",
    "make eval": "tests/pipeline/test_analysis_quality.py computes its figures (ops.evaluate) and holds them to floors",
    "make train": "a run of its own that rewrites the committed model.json; make eval and the quality tests judge it",
}
# Whole blocks that need what no test machine has, by their first words.
ELSEWHERE_BLOCKS = {
    "export DATABASE_URL=": "an external PostgreSQL with a CA-signed certificate (db.example.org); tests run "
    "the same migrate, roles and supervisor against the embedded one",
}


def sh_blocks() -> dict[int, str]:
    """README line -> the text of each ```sh block."""
    blocks, lines = {}, README.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```sh":
            start = number
        elif start is not None and line.strip() == "```":
            blocks[start] = "\n".join(lines[start : number - 1])
            start = None
    return blocks


def block(first_command: str) -> str:
    [text] = [text for text in sh_blocks().values() if text.startswith(first_command)]
    return text


def test_every_command_is_run_here_or_elsewhere():
    run_here = [RUNS[name][0] for name in RUNS] + [ACTIVATE]
    for line, text in sh_blocks().items():
        if text in (block(first) for first in run_here) or text.startswith(tuple(ELSEWHERE_BLOCKS)):
            continue
        commands = [c.split("#")[0].strip() for c in text.splitlines() if c.strip() and not c.startswith(" ")]
        assert all(c in ELSEWHERE or " ".join(c.split()[:2]) in ELSEWHERE for c in commands), (line, text)


@pytest.fixture(scope="module")
def checkout() -> Iterator[tuple[Supervisor, Path, dict[str, str]]]:
    with (
        running_cluster(
            "complaints-readme-", {"ANALYTICS_MAX_STALENESS_SECONDS": "0.5"}, replicas=2, gateway=True
        ) as sup,
        tempfile.TemporaryDirectory(prefix="complaints-user-") as tmp,
    ):
        home = Path(tmp)
        (home / ".venv").symlink_to(ROOT / ".venv")
        (home / ".data").symlink_to(sup.datadir)
        (home / "resit.pdf").write_bytes(pdf_document("Resit bayaran RM300 kepada anggota polis"))
        from PIL import Image

        Image.new("RGB", (64, 32), "white").save(home / "gambar.png")
        (home / "complaints.jsonl").write_text(
            json.dumps(
                {"source_system": "agency-x", "description": "Pegawai kastam meminta RM2,000 untuk melepaskan barang."}
            )
            + "\n",
            encoding="utf-8",
        )
        addresses = {
            f"127.0.0.1:{fixed}": f"127.0.0.1:{port}"
            for fixed, port in (
                (50051, sup.intake_port),
                (50052, sup.analytics_port),
                (50053, sup.pipeline_ports[0]),
                (50054, sup.pipeline_ports[1]),
                (8080, sup.gateway_port),
            )
        }
        # kubectl without a cluster: the same command line, checked by kubectl itself.
        shims = home / "shims"
        shims.mkdir()
        (shims / "kubectl").write_text(f'#!/bin/sh\nexec {ROOT / ".venv/bin/kubectl"} "$@" --dry-run=client -o name\n')
        (shims / "kubectl").chmod(0o755)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("COMPLAINTS_", "DATA_DIR", "DATABASE_URL", "VIRTUAL_ENV"))
        }
        env.update(
            SHIMS=str(shims),
            PG_PORT=str(sup.pg_port),
            DISPATCH_KEY=sup.dispatch_key,
            COMPLAINTS_INTAKE=f"127.0.0.1:{sup.intake_port}",
            COMPLAINTS_ANALYTICS=f"127.0.0.1:{sup.analytics_port}",
            COLUMNS="200",
            ADDRESSES=json.dumps(addresses),
        )
        yield sup, home, env


def run_block(checkout, text: str, stream_shown: Callable[[str], bool] | None) -> str:
    """Runs one README block in bash as written (addresses rewritten); a block
    ending in a stream is stopped once `stream_shown` holds for its output."""
    _, home, env = checkout
    for fixed, actual in json.loads(env["ADDRESSES"]).items():
        text = text.replace(fixed, actual)
    out = home / "out.txt"
    with open(out, "wb") as sink:
        # After the README's activation, kubectl is the shim (see above).
        script = f'set -eu\n{ACTIVATE}\nPATH="$SHIMS:$PATH"\n{text}\n'
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=home,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        if stream_shown is None:
            proc.wait(timeout=110)
            assert proc.returncode == 0, out.read_text()
        else:
            wait_until(
                lambda: stream_shown(out.read_text()) or proc.poll() is not None,
                timeout=110,
                what="the stream to show a dashboard",
            )
            assert proc.poll() is None, out.read_text()  # everything before the stream succeeded
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    return out.read_text()


# name: (the block's first command, what ends its stream or None, what its output must show)
RUNS: dict[str, tuple[str, Callable[[str], bool] | None, Callable[[str], bool]]] = {
    "python example": (
        ".venv/bin/python - <<'PY'",
        None,
        lambda out: out.split()[-1:] == ["PROCESSED"] or out.strip().splitlines()[-1].startswith("PROCESSED "),
    ),
    "grpcurl quick start": (
        "KEY=$(cat .data/dev-api-key)   # written by make run",
        None,
        lambda out: '"complaint_id"' in out and '"summary"' in out,
    ),
    "grpcurl with a document": (
        'KEY=$(cat .data/dev-api-key)\ngrpcurl -plaintext -H "authorization: Bearer $KEY" -d @',
        None,
        lambda out: '"complaint_id"' in out and '"QUEUED"' in out,
    ),
    "key tool": (
        ".venv/bin/python -m ops.keys create",
        None,
        lambda out: re.search(r"^id: +key_\w+", out, re.M) is not None and "revoked key_" in out,
    ),
    "grpcurl reads": (
        'KEY=$(cat .data/dev-api-key)\ngrpcurl -plaintext -H "authorization: Bearer $KEY" -d \'{"category"',
        lambda out: '"as_of"' in out,
        lambda out: '"complaints"' in out and '"results"' in out,
    ),
    "curl through the gateway": (
        "KEY=$(cat .data/dashboard-api-key)",
        lambda out: out.count('"as_of"') >= 2,
        lambda out: (
            '"complaint_id"' in out
            and '"field_violations"' in out
            and '"code": 3' in out.replace('"code":3', '"code": 3')
        ),
    ),
    "complaints command": (
        "complaints submit --description",
        None,
        lambda out: "PROCESSED" in out and "stored" in out and "SERVING" in out and "revoked key_" in out,
    ),
    "kubectl secrets": ("kubectl -n complaints create secret", None, lambda out: out.count("secret/complaints-") == 3),
}


def test_the_path_block_puts_the_complaints_command_and_the_tools_on_the_path(checkout):
    out = run_block(checkout, "command -v complaints grpcurl buf envoy", None)
    assert [Path(line) for line in out.split()] == [
        ROOT / ".venv/bin" / tool for tool in ("complaints", "grpcurl", "buf", "envoy")
    ], out


@pytest.mark.parametrize("name", list(RUNS))
def test_a_readme_block_runs_as_written(checkout, name):
    first, stream_shown, shows = RUNS[name]
    out = run_block(checkout, block(first), stream_shown)
    assert shows(out), out
