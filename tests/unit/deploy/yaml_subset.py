"""A strict reader for the YAML subset the deployment files keep to (PyYAML is not a dependency).

Block maps and lists indented by spaces, full-line comments, plain or double-quoted scalars, flow
lists only as JSON arrays of strings, and `---` between documents; no anchors, aliases, merge
keys, flow mappings or multi-line strings. Anything outside the subset is refused with its line
number, so a file that reads here means the same to every YAML reader (compose, Prometheus,
Grafana, kubectl/kustomize). The subset is described at the top of compose.yaml.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"([A-Za-z0-9_][\w./-]*):(?: +(.*))?")
_NOT_PLAIN = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|: | #|^\d+(:\d+)+$")
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def parse_yaml_subset(text: str) -> Any:
    """One document: block maps and lists, plain or double-quoted scalars, JSON string arrays."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped == "---":
            raise ValueError(f"line {number}: several documents; use parse_yaml_documents")
        if stripped and not stripped.startswith("#"):
            if "\t" in raw:
                raise ValueError(f"line {number}: tab")
            lines.append([len(raw) - len(raw.lstrip(" ")), stripped, number])
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"line {lines[end][2]}: unexpected indentation")
    return value


def parse_yaml_documents(text: str) -> list[Any]:
    """Every non-empty document of a `---`-separated stream (as kubectl reads manifests)."""
    documents, current = [], []
    for raw in text.splitlines():
        if raw.rstrip() == "---":
            documents.append("\n".join(current))
            current = []
        else:
            current.append(raw)
    documents.append("\n".join(current))
    parsed = [parse_yaml_subset(document) for document in documents]
    return [document for document in parsed if document is not None]


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
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            mapping[key], i = _block(lines, i, indent)  # a list at the key's own indentation
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
