"""The Kubernetes manifests hold together: kustomize finds every file, labels and selectors match,
one Deployment per role (gateway, processors), each HPA scales its Deployment (the processors
within the partitions), every variable is a real setting, and the
probes hit routes the server really has. No cluster runs here, so this is where they are checked
(with the strict YAML-subset reader; PyYAML is not a dependency)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.deploy.yaml_subset import parse_yaml_documents, parse_yaml_subset
from touchstream.services.http_server import build_http_app
from touchstream.services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy/kubernetes"
PREFIX = "TOUCHSTREAM_"
KUSTOMIZATION = parse_yaml_subset((K8S / "kustomization.yaml").read_text())
MANIFESTS = [
    document
    for resource in KUSTOMIZATION["resources"]
    for document in parse_yaml_documents((K8S / resource).read_text())
]


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in MANIFESTS if m["kind"] == kind and name in (None, m["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


#: One Deployment per TOUCHSTREAM_ROLE, from the same image and ConfigMap.
ROLES = ("gateway", "processors")
DEPLOYMENTS = {role: one("Deployment", f"touchstream-{role}") for role in ROLES}
PODS = {role: d["spec"]["template"] for role, d in DEPLOYMENTS.items()}
CONTAINERS = {role: pod["spec"]["containers"][0] for role, pod in PODS.items()}
CONTAINER = CONTAINERS["gateway"]
per_role = pytest.mark.parametrize("role", ROLES)
CONFIG = one("ConfigMap", "touchstream-config")["data"]
SECRET_GENERATOR, KEYS_GENERATOR = KUSTOMIZATION["secretGenerator"]
SECRET_EXAMPLE = dict(
    line.split("=", 1)
    for line in (K8S / "touchstream.secret.env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


def container_port(name_or_number: str | int, container: dict | None = None) -> int:
    for port in (container or CONTAINER)["ports"]:
        if name_or_number in (port["name"], port["containerPort"]):
            return port["containerPort"]
    raise AssertionError(f"the container has no port {name_or_number}")


def http_routes(role: str) -> set[str]:
    """Every GET path of the real HTTP app of a role (stand-ins: routing needs no broker)."""

    async def handler(request: Any) -> None: ...

    gateway = SimpleNamespace(post_events=handler) if role == "gateway" else None
    app = build_http_app(Settings(), gateway, SimpleNamespace(), dict)
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


def test_every_resource_exists_parses_and_is_named() -> None:
    assert MANIFESTS
    for manifest in MANIFESTS:
        assert manifest["apiVersion"] and manifest["kind"] and manifest["metadata"]["name"]
    kinds = {m["kind"] for m in MANIFESTS}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "PodDisruptionBudget",
        "ServiceAccount",
    } <= kinds


@per_role
def test_selectors_match_the_pod_labels(role: str) -> None:
    labels = PODS[role]["metadata"]["labels"]
    selectors = [
        DEPLOYMENTS[role]["spec"]["selector"]["matchLabels"],
        one("PodDisruptionBudget", f"touchstream-{role}")["spec"]["selector"]["matchLabels"],
    ]
    if role == "gateway":  # the Service sends ingest and reads to the gateway only
        selectors.append(one("Service", "touchstream")["spec"]["selector"])
    for selector in selectors:
        assert selector and selector.items() <= labels.items(), selector
    other = PODS[next(r for r in ROLES if r != role)]["metadata"]["labels"]
    assert not selectors[0].items() <= other.items(), "a selector must not take the other role"


@per_role
def test_each_deployment_runs_its_role(role: str) -> None:
    env = {e["name"]: e["value"] for e in CONTAINERS[role]["env"]}
    assert env == {f"{PREFIX}ROLE": role}
    assert f"{PREFIX}ROLE" not in CONFIG


@per_role
def test_an_hpa_scales_each_deployment_and_the_processors_up_to_one_per_partition(
    role: str,
) -> None:
    deployment = DEPLOYMENTS[role]
    hpa = one("HorizontalPodAutoscaler", f"touchstream-{role}")["spec"]
    target = hpa["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    if role == "processors":
        assert hpa["maxReplicas"] <= int(CONFIG[f"{PREFIX}TOPIC_PARTITIONS"])
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in CONTAINERS[role]["resources"]["requests"], "CPU utilisation needs a request"


@per_role
def test_resources_have_requests_and_limits(role: str) -> None:
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(CONTAINERS[role]["resources"][kind]), kind


def test_configuration_holds_only_real_settings_as_strings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for key, value in {**CONFIG, **SECRET_EXAMPLE}.items():
        assert key.startswith(PREFIX) and key[len(PREFIX) :] in fields, f"{key} is not a setting"
        assert isinstance(value, str), f"{key}: ConfigMap values must be strings"
    secret_fields = {
        name.upper()
        for name, field in Settings.model_fields.items()
        if "Secret" in str(field.annotation)
    }
    assert {k[len(PREFIX) :] for k in SECRET_EXAMPLE} == secret_fields
    assert not {k[len(PREFIX) :] for k in CONFIG} & secret_fields, "secrets belong in the Secret"


def test_configuration_is_a_valid_production_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [key for key in os.environ if key.startswith(PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in {**CONFIG, **SECRET_EXAMPLE}.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.profile == "production" and settings.embedded_broker is False
    assert settings.http_host == "0.0.0.0"


@per_role
def test_the_container_reads_the_configmap_and_the_generated_secret(role: str) -> None:
    refs = CONTAINERS[role]["envFrom"]
    assert {"configMapRef": {"name": "touchstream-config"}} in refs
    assert {"secretRef": {"name": SECRET_GENERATOR["name"]}} in refs
    assert SECRET_GENERATOR["envs"] == ["touchstream.secret.env"]
    assert "touchstream.secret.env" in (K8S / ".gitignore").read_text().split()


@per_role
def test_probes_hit_real_routes_on_the_http_port(role: str) -> None:
    routes = http_routes(role)
    container = CONTAINERS[role]
    port = int(CONFIG[f"{PREFIX}HTTP_PORT"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in routes, f"{probe}: no route {get['path']}"
        assert container_port(get["port"], container) == port
    # /healthz is 503 while a replica waits for partitions (start, rebalance, more replicas
    # than partitions): that must keep it out of the Service, never restart it
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] != "/healthz"
    assert "/metrics" in routes
    assert PODS[role]["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_the_service_targets_the_http_port() -> None:
    (port,) = one("Service", "touchstream")["spec"]["ports"]
    assert container_port(port["targetPort"]) == int(CONFIG[f"{PREFIX}HTTP_PORT"])


def test_kafka_and_clickhouse_are_services_of_the_kustomization() -> None:
    services = {m["metadata"]["name"]: m["spec"] for m in MANIFESTS if m["kind"] == "Service"}
    addresses = CONFIG[f"{PREFIX}KAFKA_BOOTSTRAP"].split(",")
    addresses.append(re.sub(r"^https?://", "", CONFIG[f"{PREFIX}WAREHOUSE_URL"]).split("/")[0])
    for address in addresses:
        host, port = address.rsplit(":", 1)
        assert host in services, f"{address}: no Service {host}"
        assert services[host]["type"] == "ExternalName"
        assert int(port) in [p["port"] for p in services[host]["ports"]]


@per_role
def test_the_pod_runs_as_the_images_non_root_user(role: str) -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    uid = re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)[-1]
    context = PODS[role]["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True and str(context["runAsUser"]) == uid
    assert CONTAINERS[role]["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"] for v in PODS[role]["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in CONTAINERS[role]["volumeMounts"]}
    assert set(mounts) <= volumes
    assert CONFIG[f"{PREFIX}DATA_DIR"] in mounts.values(), "the data directory must be writable"


@per_role
def test_the_image_is_pinned_by_kustomize(role: str) -> None:
    images = {i["name"]: i for i in KUSTOMIZATION["images"]}
    tag = images[CONTAINERS[role]["image"]]["newTag"]
    assert tag and tag != "latest"


@per_role
def test_the_api_keys_secret_is_mounted_where_the_setting_points(role: str) -> None:
    keys_file = Path(CONFIG["TOUCHSTREAM_API_KEYS_FILE"])
    (file_name,) = KEYS_GENERATOR["files"]
    assert keys_file.name == file_name
    assert file_name in (K8S / ".gitignore").read_text().split()  # never committed
    volumes = {v["name"]: v for v in PODS[role]["spec"]["volumes"]}
    mounts = [
        m for m in CONTAINERS[role]["volumeMounts"] if m["mountPath"] == str(keys_file.parent)
    ]
    assert len(mounts) == 1 and mounts[0]["readOnly"] is True
    assert volumes[mounts[0]["name"]]["secret"]["secretName"] == KEYS_GENERATOR["name"]
