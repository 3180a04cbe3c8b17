"""The `complaints` command-line client, run as the installed console script
against a running cluster, and the demo data generator behind `make demo`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

from ops import demo
from tests.helpers import API_KEY, pdf_document, wait_until
from tests.sql import one_row

SCRIPT = str(Path(sys.executable).parent / "complaints")


def run(cluster, *args: str, key: str | None = API_KEY, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "COMPLAINTS_INTAKE": f"127.0.0.1:{cluster.intake_port}",
        "COMPLAINTS_ANALYTICS": f"127.0.0.1:{cluster.analytics_port}",
        "COLUMNS": "200",
        **env,
    }
    environ.pop("COMPLAINTS_API_KEY", None)
    if key is not None:
        environ["COMPLAINTS_API_KEY"] = key
    return subprocess.run([SCRIPT, *args], env=environ, capture_output=True, text=True, timeout=120)


def complaint_ids(text: str) -> list[str]:
    return re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)


def png_image(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "gambar.png"
    Image.new("RGB", (64, 32), "white").save(path)
    return path


def test_submit_with_evidence_files_then_watch_it_to_processed(cluster, tmp_path):
    pdf = tmp_path / "resit.pdf"
    pdf.write_bytes(pdf_document("Resit bayaran RM300 kepada anggota polis"))
    done = run(
        cluster,
        "submit",
        "--description",
        "Anggota polis meminta RM300 di sekatan jalan Cheras.",
        "--subject",
        "Rasuah sekatan jalan",
        "--name",
        "Ali bin Abu",
        "--id-number",
        "850101-14-5678",
        "--file",
        str(pdf),
        "--file",
        str(png_image(tmp_path)),
        "--watch",
    )
    assert done.returncode == 0, done.stderr
    [cid, *_] = complaint_ids(done.stdout)
    assert f"complaint {cid} QUEUED" in done.stdout
    assert done.stdout.strip().splitlines()[-1].split()[1] == "PROCESSED"
    with psycopg.connect(cluster.admin_url) as conn:
        types = [
            r[0]
            for r in conn.execute(
                "SELECT detected_type FROM documents WHERE complaint_id = %s ORDER BY ordinal", (cid,)
            )
        ]
    assert types == ["application/pdf", "image/png"]


def test_a_refused_submission_prints_each_field_at_fault_and_fails(cluster):
    done = run(cluster, "submit", "--description", "x", "--id-number", "12345", "--email", "not-an-email")
    assert done.returncode == 1
    assert "INVALID_ARGUMENT" in done.stderr
    assert "complainant.id_number" in done.stderr and "complainant.email" in done.stderr


def test_bulk_jsonl_shows_a_tally_and_a_second_run_stores_nothing_new(cluster, tmp_path):
    path = demo.generate(8, tmp_path, seed=7)
    good = path.read_text(encoding="utf-8")
    bad = json.dumps({"description": "IC salah", "complainant": {"id_number": "99"}})
    path.write_text(good + bad + "\n{not json\n", encoding="utf-8")

    first = run(cluster, "bulk", str(path))
    assert first.returncode == 1  # something was refused
    assert re.search(r"stored\s+│\s+8", first.stdout), first.stdout
    assert re.search(r"refused \(INVALID_ARGUMENT\)\s+│\s+1", first.stdout)
    assert re.search(r"unreadable\s+│\s+1", first.stdout)
    assert "complaints.jsonl:9: INVALID_ARGUMENT" in first.stdout
    assert "complaints.jsonl:10: not a valid complaint" in first.stdout
    assert "10/10" in first.stderr  # the progress bar reached the end

    path.write_text(good, encoding="utf-8")
    again = run(cluster, "bulk", str(path), "--quiet")
    assert again.returncode == 0
    assert re.search(r"duplicate \(stored before\)\s+│\s+8", again.stdout)


def test_bulk_a_folder_of_json_files_with_documents_by_path(cluster, tmp_path):
    (tmp_path / "bukti.pdf").write_bytes(pdf_document("Invois palsu RM85,000"))
    for n in range(3):
        (tmp_path / f"aduan-{n}.json").write_text(
            json.dumps(
                {
                    "description": f"Tuntutan palsu nombor {n} oleh kontraktor kepada JKR.",
                    "documents": [{"path": "bukti.pdf"}],
                }
            ),
            encoding="utf-8",
        )
    done = run(cluster, "bulk", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"stored\s+│\s+3", done.stdout)


def test_status_watch_and_dashboard_as_tables(cluster, tmp_path):
    submitted = run(cluster, "submit", "--description", "Pegawai majlis meminta RM500 untuk lesen premis.")
    [cid] = complaint_ids(submitted.stdout)
    watched = run(cluster, "watch", cid)
    assert watched.returncode == 0 and "PROCESSED" in watched.stdout.splitlines()[-1]
    status = run(cluster, "status", cid)
    assert "PROCESSED" in status.stdout and "attempts=1" in status.stdout
    board = run(cluster, "dashboard")
    assert board.returncode == 0, board.stderr
    for title in ("Complaints (as of", "Categories", "Sectors", "Patterns", "Top entities", "Top cases"):
        assert title in board.stdout
    assert re.search(r"processed\s+│\s+[1-9]", board.stdout)


def test_pipeline_and_health_commands(cluster):
    replicas = [f"127.0.0.1:{p}" for p in cluster.pipeline_ports]
    shown = run(cluster, "pipeline", *replicas)
    assert shown.returncode == 0, shown.stderr
    assert all(r in shown.stdout for r in replicas)
    healthy = run(cluster, "health", f"127.0.0.1:{cluster.intake_port}", key=None)
    assert healthy.returncode == 0 and "SERVING" in healthy.stdout


def test_api_keys_created_and_revoked_with_the_cli(cluster, tmp_path):
    created = run(
        cluster, "keys", "--database-url", cluster.admin_url, "create", "--name", "cli-test", "--roles", "read"
    )
    assert created.returncode == 0, created.stderr
    key_line, id_line = re.search(r"key: (\S+)", created.stdout), re.search(r"id:\s+(key_\w+)", created.stdout)
    assert key_line and id_line, created.stdout
    key, key_id = key_line.group(1), id_line.group(1)
    assert run(cluster, "dashboard", key=key).returncode == 0
    listed = run(cluster, "keys", "--database-url", cluster.admin_url, "list")
    assert key_id in listed.stdout and key not in listed.stdout
    assert run(cluster, "keys", "--database-url", cluster.admin_url, "revoke", key_id).returncode == 0
    refused = wait_until(
        lambda: r if (r := run(cluster, "dashboard", key=key)).returncode == 1 else None,
        timeout=20,
        what="the revoked key refused",
    )
    assert "UNAUTHENTICATED" in refused.stderr


def test_the_key_comes_from_the_flag_the_environment_or_the_dev_key_file(cluster, tmp_path):
    (tmp_path / "dev-api-key").write_text(API_KEY + "\n")
    assert run(cluster, "dashboard", key=None, DATA_DIR=str(tmp_path)).returncode == 0
    assert run(cluster, "--api-key", API_KEY, "dashboard", key="wrong").returncode == 0
    missing = run(cluster, "dashboard", key=None, DATA_DIR=str(tmp_path / "none"))
    assert missing.returncode == 2 and "no API key" in missing.stderr


def test_the_demo_generator_writes_malay_and_english_complaints_with_pdf_and_png_and_submits_them(cluster, tmp_path):
    path = demo.generate(30, tmp_path)
    complaints = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(complaints) == 30
    documents = [d["path"] for c in complaints for d in c["documents"]]
    assert any(p.endswith(".pdf") for p in documents) and any(p.endswith(".png") for p in documents)
    assert (tmp_path / documents[0]).read_bytes()[:4] in (b"%PDF", b"\x89PNG")
    texts = " ".join(c["description"] for c in complaints)
    assert "meminta" in texts and ("demanded" in texts or "awarded" in texts)  # Malay and English
    assert any(c["complainant"].get("anonymous") for c in complaints)

    env = {**os.environ, "COMPLAINTS_INTAKE": f"127.0.0.1:{cluster.intake_port}", "COMPLAINTS_API_KEY": API_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "ops.demo", "--count", "6", "--folder", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"stored\s+│\s+6", done.stdout)
    again = subprocess.run(
        [sys.executable, "-m", "ops.demo", "--count", "6", "--folder", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr  # no ALREADY_EXISTS: the same bytes again
    assert re.search(r"duplicate \(stored before\)\s+│\s+6", again.stdout) and "│ stored " not in again.stdout


def test_the_demo_is_byte_identical_for_the_same_seed_on_any_day(tmp_path):
    import pypdf

    first = demo.generate(30, tmp_path / "first").parent
    second = demo.generate(30, tmp_path / "second").parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert any(p.suffix == ".pdf" for p in files) and any(p.suffix == ".png" for p in files)
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        if name.suffix == ".pdf":  # not the time it was written, which fpdf2 stamps by default
            written = pypdf.PdfReader(first / name).metadata
            assert written is not None and written.creation_date is not None, name
            assert written.creation_date.date() == demo.ANCHOR, name


def test_reprocess_reanalyses_stored_complaints_in_batches_without_counting_twice(cluster):
    run(cluster, "submit", "--description", "Anggota JPJ minta duit kopi RM200 supaya saman tak dikeluarkan.")

    def settled() -> int | None:
        with psycopg.connect(cluster.admin_url) as conn:
            busy, done = one_row(
                conn,
                "SELECT count(*) FILTER (WHERE status IN ('QUEUED', 'PROCESSING')),"
                " count(*) FILTER (WHERE status = 'PROCESSED') FROM complaints",
            )
        return done if busy == 0 else None

    processed = wait_until(settled, 60, "every complaint final")

    def figures() -> tuple[int, int, int]:
        with psycopg.connect(cluster.admin_url) as conn:
            return one_row(
                conn,
                "SELECT (SELECT count(*) FROM analyses),"
                " (SELECT coalesce(sum(value), 0)::int FROM analytics_counts WHERE dimension = 'category'),"
                " (SELECT coalesce(sum(value), 0)::int FROM analytics_counts WHERE dimension = 'status'"
                "   AND key = 'PROCESSED')",
            )

    assert figures() == (processed, processed, processed)
    pipelines = [arg for port in cluster.pipeline_ports for arg in ("--pipeline", f"127.0.0.1:{port}")]
    done = run(cluster, "reprocess", "--all", "--status", "PROCESSED", "--batch", "4", "--wait", *pipelines)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{processed} complaints matched: {processed} processed, {processed} re-queued" in done.stdout
    assert f"{processed}/{processed}" in done.stderr  # the progress bars reached the end
    # Analysed again, each counted once in every figure.
    assert wait_until(settled, 60, "every complaint final again") == processed
    assert figures() == (processed, processed, processed)
    refused = run(cluster, "reprocess")
    assert refused.returncode == 2 and "--all" in refused.stderr
