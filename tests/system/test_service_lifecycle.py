"""A service without its database: health says NOT_SERVING (not grpcio-health's
default SERVING), and a SIGTERM stops it at once instead of after the 60 s
wait for the pool's first connections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ops.embedded_pg import free_port
from tests.helpers import wait_until


def _health(address: str) -> int | None:
    with grpc.insecure_channel(address) as channel:
        try:
            return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status
        except grpc.RpcError:
            return None  # not listening yet


def test_without_its_database_a_service_is_not_serving_and_stops_at_once_on_sigterm():
    address = f"127.0.0.1:{free_port()}"
    nowhere = f"postgresql://complaints_intake@127.0.0.1:{free_port()}/postgres"  # nothing listens there
    proc = subprocess.Popen(
        [sys.executable, "-m", "intake_service"],
        env={
            **os.environ,
            "INTAKE_DATABASE_URL": nowhere,
            "INTAKE_BIND": address,
            "INTAKE_METRICS_PORT": "0",
            "PIPELINE_TARGETS": "127.0.0.1:1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = wait_until(lambda: _health(address), 30, "intake to answer health checks")
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        proc.send_signal(signal.SIGTERM)
        # Well inside the 60 s the pool would otherwise wait for the database.
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert '"stopped"' in out
    finally:
        proc.kill()
        proc.wait()
