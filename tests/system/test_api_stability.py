"""API stability for integrating teams: `buf lint` passes on protos/, and
`buf breaking` finds nothing between protos/ and the last released
descriptor set (protos/released/, written by `make api-release`), while a
field removed or renumbered is refused. buf reads the descriptor set that
`make gen` builds (buf/validate comes from a wheel, not a .proto on disk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
BUF = str(Path(sys.executable).with_name("buf"))  # a dev dependency (buf-bin)
CONFIG = str(ROOT / "protos" / "buf.yaml")
CURRENT = ROOT / "complaints" / "v1" / "complaints.pb"
RELEASED = ROOT / "protos" / "released" / "complaints.v1.binpb"


def image(path: Path) -> str:
    return f"{path}#format=binpb"


def buf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BUF, *args, "--config", CONFIG], capture_output=True, text=True, timeout=60, cwd=ROOT)


def breaking(current: Path) -> subprocess.CompletedProcess[str]:
    return buf(
        "breaking", image(current), "--against", image(RELEASED), "--against-config", CONFIG, "--path", "complaints/v1"
    )


def test_buf_lint_passes_on_the_protos():
    done = buf("lint", image(CURRENT), "--path", "complaints/v1")
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_breaks_the_last_released_api():
    done = breaking(CURRENT)
    assert done.returncode == 0, done.stdout + done.stderr


def changed(tmp_path: Path, change) -> Path:
    files = descriptor_pb2.FileDescriptorSet.FromString(CURRENT.read_bytes())
    [analytics] = [f for f in files.file if f.name == "complaints/v1/analytics.proto"]
    [summary] = [m for m in analytics.message_type if m.name == "DashboardSummary"]
    change(summary.field)
    path = tmp_path / "changed.binpb"
    path.write_bytes(files.SerializeToString())
    return path


def test_a_removed_field_fails_the_check(tmp_path):
    done = breaking(changed(tmp_path, lambda fields: fields.remove(next(f for f in fields if f.name == "failed"))))
    assert done.returncode != 0 and "DashboardSummary" in done.stdout, done.stdout + done.stderr


def test_a_renumbered_field_fails_the_check(tmp_path):
    def renumber(fields):
        next(f for f in fields if f.name == "failed").number = 99

    done = breaking(changed(tmp_path, renumber))
    assert done.returncode != 0 and "failed" in done.stdout, done.stdout + done.stderr
