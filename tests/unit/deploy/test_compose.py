"""The production deployment files say what a user needs: pinned images, services that find each
other, settings that exist, metrics that get scraped, dashboards that can log in. No Docker
engine runs on the development machine, so this is where compose.yaml, deploy/Dockerfile,
deploy/prometheus/prometheus.yml and the Grafana/ClickHouse wiring are checked. PyYAML is not a
dependency: the files keep to a YAML subset (documented at the top of compose.yaml) that the
small strict parser of yaml_subset.py reads, and it refuses anything outside it."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.yaml_subset import expand, parse_yaml_documents, parse_yaml_subset
from touchstream.services.runtime import check_role
from touchstream.services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "TOUCHSTREAM_"

COMPOSE = parse_yaml_subset((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
#: Our services, built from deploy/Dockerfile: one per TOUCHSTREAM_ROLE.
OURS = {name: service for name, service in SERVICES.items() if "build" in service}
ENVS = {
    name: {key: expand(str(value)) for key, value in service["environment"].items()}
    for name, service in OURS.items()
}
ENV = ENVS["gateway"]
PROMETHEUS = parse_yaml_subset((ROOT / "deploy/prometheus/prometheus.yml").read_text())
GRAFANA = SERVICES["grafana"]
DATASOURCES = parse_yaml_subset(
    (ROOT / "deploy/grafana/provisioning/datasources/touchstream.yml").read_text()
)["datasources"]
DASHBOARD_PROVIDERS = parse_yaml_subset(
    (ROOT / "deploy/grafana/provisioning/dashboards/touchstream.yml").read_text()
)["providers"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "deploy/Dockerfile").read_text()
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in logical.splitlines()
        if line.strip()
    ]


def http_port() -> int:
    return int(ENV.get(f"{PREFIX}HTTP_PORT", Settings.model_fields["http_port"].default))


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


# --- the parser is strict -----------------------------------------------------------------------


def test_parser_reads_the_subset() -> None:
    text = 'a:\n  b: "x: y"\n  c:\n    - 1\n    - d: [ "CMD", "e" ]\n      f: true\n  g:\n'
    assert parse_yaml_subset(text) == {
        "a": {"b": "x: y", "c": [1, {"d": ["CMD", "e"], "f": True}], "g": None}
    }


def test_parser_reads_documents_and_kubernetes_style() -> None:
    text = "a: 1\n---\n# only a comment\n---\nmetadata:\n  labels:\n    app.kubernetes.io/name: x\n"
    text += "items:\n- b: 2\n"
    assert parse_yaml_documents(text) == [
        {"a": 1},
        {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}, "items": [{"b": 2}]},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a: {b: 1}",  # flow mapping
        "a: &x 1",  # anchor
        "a: *x",  # alias
        "a: 1 # comment",  # inline comment
        "a: yes",  # YAML 1.1 boolean
        "a:\n  - 8088:8088",  # sexagesimal in YAML 1.1
        "a: 1\na: 2",  # duplicate key
        "a:\n  b: 1\n c: 2",  # bad indentation
        "a: |\n  text",  # block scalar
        "a: [1, 2]",  # non-string flow list
        "a: 1\n---\nb: 2",  # several documents where one is expected
    ],
)
def test_parser_refuses_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(ValueError):
        parse_yaml_subset(text)


# --- compose.yaml ------------------------------------------------------------------------------


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in SERVICES.items():
        if "image" not in service:
            assert "build" in service, f"{name}: neither image nor build"
            continue
        assert is_pinned(service["image"]), f"{name}: {service['image']} is not pinned"


def test_every_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        test = service.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name


def test_dependencies_exist_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        for target in depends:
            assert target in SERVICES and target != name, f"{name} depends on unknown {target}"
            if isinstance(depends, dict):
                assert depends[target]["condition"] == "service_healthy"
    for service in OURS.values():
        assert set(service["depends_on"]) == {"kafka", "clickhouse"}
    assert set(GRAFANA["depends_on"]) == {"clickhouse", "prometheus"}


def test_named_volumes_are_declared_and_bind_mounts_exist() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    used = set()
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"


def test_the_gateway_and_the_processors_run_as_separate_services() -> None:
    assert {name: env[f"{PREFIX}ROLE"] for name, env in ENVS.items()} == {
        "gateway": "gateway",
        "processors": "processors",
    }
    # the same deployment everywhere but the role
    assert {k: v for k, v in ENVS["gateway"].items() if k != f"{PREFIX}ROLE"} == {
        k: v for k, v in ENVS["processors"].items() if k != f"{PREFIX}ROLE"
    }


def test_touchstream_environment_holds_only_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for env in ENVS.values():
        for key in env:
            assert key.startswith(PREFIX) and key[len(PREFIX) :] in fields, f"{key}: no setting"


def test_touchstream_environment_is_a_valid_production_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, env in ENVS.items():
        for key in [key for key in os.environ if key.startswith(PREFIX)]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.role == name
        check_role(settings)  # a split role needs Kafka and a ClickHouse server: it has them
        assert settings.profile == "production"
        assert settings.embedded_broker is False
        assert settings.http_host == "0.0.0.0"
        assert settings.topic_partitions >= 2  # room for more than one processor replica


def test_kafka_bootstrap_is_an_advertised_listener_of_the_kafka_service() -> None:
    kafka_env = SERVICES["kafka"]["environment"]
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", kafka_env["KAFKA_LISTENERS"]))
    advertised = dict(re.findall(r"(\w+)://([^,]+)", kafka_env["KAFKA_ADVERTISED_LISTENERS"]))
    for server in ENV[f"{PREFIX}KAFKA_BOOTSTRAP"].split(","):
        host, port = server.rsplit(":", 1)
        assert host == "kafka" and host in SERVICES
        names = [name for name, p in listeners.items() if p == port]
        assert names, f"kafka does not listen on {port}: {listeners}"
        assert names[0] not in kafka_env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
        # clients reconnect to the advertised address, so it must be reachable on the network
        assert advertised.get(names[0]) == server


def test_warehouse_is_the_clickhouse_service_with_its_credentials() -> None:
    assert ENV[f"{PREFIX}WAREHOUSE_URL"] == "http://clickhouse:8123"
    clickhouse_env = {k: expand(str(v)) for k, v in SERVICES["clickhouse"]["environment"].items()}
    assert ENV[f"{PREFIX}WAREHOUSE_USER"] == clickhouse_env["CLICKHOUSE_USER"]
    assert ENV[f"{PREFIX}WAREHOUSE_PASSWORD"] == clickhouse_env["CLICKHOUSE_PASSWORD"]


def test_touchstream_publishes_its_http_port_and_checks_healthz() -> None:
    assert any(port.endswith(f":{http_port()}") for port in OURS["gateway"]["ports"])
    assert "ports" not in OURS["processors"]  # scaled by replicas: no host port to collide on
    for service in OURS.values():
        assert "/healthz" in " ".join(service["healthcheck"]["test"])


def test_prometheus_scrapes_touchstream_metrics() -> None:
    mounts = [v.split(":")[:2] for v in SERVICES["prometheus"]["volumes"]]
    assert ["./deploy/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"] in mounts
    assert all(
        job.get("metrics_path", "/metrics") == "/metrics" for job in PROMETHEUS["scrape_configs"]
    )
    assert {f"{name}:{http_port()}" for name in OURS} <= _scraped()


# --- deploy/Dockerfile -------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    instructions = dockerfile_instructions()
    bases = [args.split()[0] for op, args in instructions if op == "FROM"]
    stages = {
        args.split()[-1] for op, args in instructions if op == "FROM" and " AS " in args.upper()
    }
    assert len(bases) >= 2
    assert all(base in stages or is_pinned(base) for base in bases), bases
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["touchstream"]') in instructions
    assert ("EXPOSE", str(Settings.model_fields["http_port"].default)) in instructions
    assert any(op == "HEALTHCHECK" and "/healthz" in args for op, args in instructions)


def test_dockerfile_environment_holds_only_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    env_lines = " ".join(args for op, args in dockerfile_instructions() if op == "ENV")
    keys = re.findall(r"\b(TOUCHSTREAM_\w+)=", env_lines)
    assert f"{PREFIX}PROFILE" in keys
    assert all(key[len(PREFIX) :] in fields for key in keys), keys


# --- Grafana -----------------------------------------------------------------------------------


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (or volume name) of a service's volumes."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def service_env(name: str) -> dict[str, str]:
    return {k: expand(str(v)) for k, v in SERVICES[name].get("environment", {}).items()}


def datasource(kind: str) -> dict[str, Any]:
    (found,) = [d for d in DATASOURCES if d["type"] == kind]
    return found


def test_grafana_installs_a_pinned_clickhouse_plugin() -> None:
    plugins = service_env("grafana")["GF_INSTALL_PLUGINS"].split(",")
    assert any(re.fullmatch(r"grafana-clickhouse-datasource \d+\.\d+\.\d+", p) for p in plugins)


def test_grafana_provisioning_and_dashboards_are_mounted_where_grafana_reads_them() -> None:
    grafana_mounts = mounts(GRAFANA)
    assert grafana_mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    (provider,) = DASHBOARD_PROVIDERS
    assert grafana_mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    home = service_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, name = home.rpartition("/")
    assert grafana_mounts[folder] == "./deploy/grafana/dashboards"
    assert (ROOT / "deploy/grafana/dashboards" / name).is_file()


def test_clickhouse_datasource_is_the_clickhouse_service_as_a_read_only_user() -> None:
    source = datasource("grafana-clickhouse-datasource")["jsonData"]
    assert source["host"] == "clickhouse" and source["protocol"] == "http"
    assert any(port.endswith(f":{source['port']}") for port in SERVICES["clickhouse"]["ports"])
    assert source["defaultDatabase"] == "cx"
    users_file = mounts(SERVICES["clickhouse"])[
        f"/etc/clickhouse-server/users.d/{source['username']}.xml"
    ]
    user = ET.parse(ROOT / users_file).getroot().find(f"users/{source['username']}")
    assert user is not None, f"{users_file} defines no user {source['username']}"
    profile = ET.parse(ROOT / users_file).getroot().find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "2"
    assert [q.text for q in user.iter("query")] == ["GRANT SELECT ON cx.*"]
    # the password: one variable, read by ClickHouse (from_env) and by Grafana (${...})
    variable = user.find("password").attrib["from_env"]
    secure = datasource("grafana-clickhouse-datasource")["secureJsonData"]["password"]
    assert secure == f"${{{variable}}}"
    assert service_env("clickhouse")[variable] == service_env("grafana")[variable] != ""


def test_prometheus_datasource_is_the_prometheus_service() -> None:
    url = datasource("prometheus")["url"]
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", url).groups()
    assert host in SERVICES and host == "prometheus"
    assert any(p.endswith(f":{port}") for p in SERVICES[host]["ports"])


def test_grafana_is_only_reachable_from_this_machine_by_default() -> None:
    assert all(port.startswith("127.0.0.1:") for port in GRAFANA["ports"])


def test_prometheus_loads_the_alert_rules() -> None:
    prometheus_mounts = mounts(SERVICES["prometheus"])
    for path in PROMETHEUS["rule_files"]:
        assert prometheus_mounts[path] == "./deploy/prometheus/rules.yml"


def test_prometheus_scrapes_clickhouse_on_the_port_its_config_opens() -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["clickhouse"]["volumes"]}
    config = mounts["/etc/clickhouse-server/config.d/prometheus.xml"]
    endpoint = ET.parse(ROOT / config).getroot().find("prometheus")
    port = endpoint.findtext("port")
    targets = {
        target
        for job in PROMETHEUS["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert f"clickhouse:{port}" in targets and endpoint.findtext("endpoint") == "/metrics"
    assert "grafana:3000" in targets


def _scraped() -> set[str]:
    targets = set()
    for job in PROMETHEUS["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])
    return targets


def test_prometheus_scrapes_every_service_kafka_through_its_exporter() -> None:
    hosts = {target.split(":")[0] for target in _scraped()}
    assert hosts - {"localhost"} <= set(SERVICES)  # no target names a missing service
    assert set(SERVICES) - {"kafka"} <= hosts | {"prometheus"}
    exporter = dict(arg.lstrip("-").split("=", 1) for arg in SERVICES["kafka-exporter"]["command"])
    assert f"kafka-exporter{exporter['web.listen-address']}" in _scraped()
    listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//{exporter['kafka.server']}" in listeners  # the in-network listener


def test_touchstream_reads_api_keys_from_a_mounted_git_ignored_directory() -> None:
    for name in OURS:
        keys_file = Path(SERVICES[name]["environment"]["TOUCHSTREAM_API_KEYS_FILE"])
        host_dir = mounts(SERVICES[name])[str(keys_file.parent)]
        assert (ROOT / host_dir).is_dir()
        assert (ROOT / host_dir / ".gitignore").read_text().split()[0] == "*"
