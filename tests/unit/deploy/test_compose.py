"""The production deployment files say what a user needs: pinned images, services that find each
other, settings that exist, metrics that get scraped. No Docker engine runs on the development
machine, so this is where compose.yaml, deploy/Dockerfile and deploy/prometheus/prometheus.yml are
checked. PyYAML is not a dependency: the files keep to a YAML subset (documented at the top of
compose.yaml) that the small strict parser below reads, and it refuses anything outside it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from touchstream.services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "TOUCHSTREAM_"

_KEY = re.compile(r"([A-Za-z0-9_][\w.-]*):(?: +(.*))?")
_NOT_PLAIN = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|: | #|^\d+(:\d+)+$")
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def parse_yaml_subset(text: str) -> Any:
    """Block maps and lists, plain or double-quoted scalars, JSON string arrays; nothing else."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            if "\t" in raw:
                raise ValueError(f"line {number}: tab")
            lines.append([len(raw) - len(raw.lstrip(" ")), stripped, number])
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"line {lines[end][2]}: unexpected indentation")
    return value


def _block(lines: list, i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            rest = lines[i][1][2:].lstrip()
            if _KEY.fullmatch(rest):  # a mapping inside a list item continues at indent + 2
                lines[i][:2] = [lines[i][1].index(rest) + indent, rest]
                value, i = _block(lines, i, lines[i][0])
            else:
                value, i = _scalar(rest, lines[i][2]), i + 1
            items.append(value)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        match = _KEY.fullmatch(lines[i][1])
        if not match or match[1] in mapping:
            raise ValueError(f"line {lines[i][2]}: not a new `key:` in the subset")
        key, rest, i = match[1], match[2], i + 1
        if rest is not None:
            mapping[key] = _scalar(rest, lines[i - 1][2])
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key], i = _block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


def _scalar(text: str, number: int) -> Any:
    if text[0] in '"[':  # a double-quoted string or a flow list: both must be JSON
        value = json.loads(text)
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise ValueError(f"line {number}: flow lists hold strings only")
        return value
    if _NOT_PLAIN.search(text) or text.lower() in _YAML11_BOOLS:
        raise ValueError(f"line {number}: quote {text!r}")
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"\d+", text):
        return int(text)
    return None if text in ("null", "~") else text


def expand(value: str) -> str:
    """Compose interpolation as a fresh shell sees it: `${VAR:-default}` gives the default."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m[1] or "", value)


COMPOSE = parse_yaml_subset((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
TOUCHSTREAM = SERVICES["touchstream"]
ENV = {key: expand(str(value)) for key, value in TOUCHSTREAM["environment"].items()}
PROMETHEUS = parse_yaml_subset((ROOT / "deploy/prometheus/prometheus.yml").read_text())


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
    assert set(TOUCHSTREAM["depends_on"]) == {"kafka", "clickhouse"}


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


def test_touchstream_environment_holds_only_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for key in ENV:
        assert key.startswith(PREFIX) and key[len(PREFIX) :] in fields, f"{key} is not a setting"


def test_touchstream_environment_is_a_valid_production_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in [key for key in os.environ if key.startswith(PREFIX)]:
        monkeypatch.delenv(key)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
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
    assert any(port.endswith(f":{http_port()}") for port in TOUCHSTREAM["ports"])
    assert "/healthz" in " ".join(TOUCHSTREAM["healthcheck"]["test"])


def test_prometheus_scrapes_touchstream_metrics() -> None:
    mounts = [v.split(":")[:2] for v in SERVICES["prometheus"]["volumes"]]
    assert ["./deploy/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"] in mounts
    targets = set()
    for job in PROMETHEUS["scrape_configs"]:
        if job.get("metrics_path", "/metrics") != "/metrics":
            continue
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])
    assert f"touchstream:{http_port()}" in targets


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
