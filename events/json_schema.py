"""JSON Schemas of the event contract, generated from the pydantic models.

Non-Python producers validate against these files before sending; the pydantic models stay
the single source of truth, and a test fails when the checked-in files drift from them.

    python -m touchstream.events.json_schema           # (re)write events/schemas/*.json
    python -m touchstream.events.json_schema --check   # exit 1 if any file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from touchstream.events.catalog import EVENT_TYPES
from touchstream.events.envelope import MAX_EXTENSION_CHARS, MAX_EXTENSIONS, CloudEvent

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: `$id` of a type's schema is this prefix plus the type name; a URN, because the schemas are
#: published as files in the repository, not served from a fixed address.
ID_PREFIX = "urn:touchstream:schema:"
_ENVELOPE_NOTE = (
    "A CloudEvents 1.0 event of type `{type}`, in structured mode "
    "(application/cloudevents+json). Touchstream requires `time`, with a timezone. "
    "In Kafka or HTTP binary mode the attributes travel as ce_ headers and `data` as the "
    "message body. Extension attributes (at most {max_extensions}) are 1-20 lowercase letters "
    "or digits with a string (at most {max_chars} characters), 32-bit integer or boolean value."
)
# What the envelope's model validator checks for extensions, stated so a schema validator can.
_EXTENSION_NAME = {"pattern": "^[a-z0-9]{1,20}$"}
_EXTENSION_VALUE = {
    "type": ["string", "integer", "boolean"],
    "maxLength": MAX_EXTENSION_CHARS,
    "minimum": -(2**31),
    "maximum": 2**31 - 1,
}


def _note(type_name: str) -> str:
    return _ENVELOPE_NOTE.format(
        type=type_name, max_extensions=MAX_EXTENSIONS, max_chars=f"{MAX_EXTENSION_CHARS:,}"
    )


def schema_for(event_cls: type[CloudEvent]) -> dict[str, Any]:
    """The JSON Schema of one event type (validation side: what a producer may send)."""
    type_name = event_cls.model_fields["type"].default
    schema = event_cls.model_json_schema()
    doc = (event_cls.__doc__ or "").strip()
    header = {
        "$schema": DIALECT,
        "$id": f"{ID_PREFIX}{type_name}",
        "title": f"{event_cls.__name__} ({type_name})",
        "description": f"{doc} {_note(type_name)}".strip(),
    }
    schema.update(header)
    # `type` and `specversion` have model defaults, but other CloudEvents readers need them.
    schema["required"] = sorted({*schema.get("required", ()), "specversion", "type"})
    schema["propertyNames"] = _EXTENSION_NAME
    schema["additionalProperties"] = _EXTENSION_VALUE
    return schema


def render_schemas() -> dict[str, str]:
    """File name -> file text for every event type, byte-for-byte reproducible."""
    return {
        f"{type_name}.json": json.dumps(
            schema_for(cls), indent=2, sort_keys=True, ensure_ascii=False
        )
        + "\n"
        for type_name, cls in sorted(EVENT_TYPES.items())
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write every schema and delete files of types that are gone; returns what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    problems = schema_problems(directory)
    rendered = render_schemas()
    for name, text in rendered.items():
        (directory / name).write_text(text, encoding="utf-8")
    for path in directory.glob("*.json"):
        if path.name not in rendered:
            path.unlink()
    return problems


def schema_problems(directory: Path = SCHEMA_DIR) -> list[str]:
    """Differences between the files in `directory` and the models, one line each."""
    rendered = render_schemas()
    on_disk = {path.name: path for path in directory.glob("*.json")}
    problems = [f"missing: {name}" for name in sorted(rendered.keys() - on_disk.keys())]
    problems += [
        f"stale: {name}"
        for name in sorted(rendered.keys() & on_disk.keys())
        if on_disk[name].read_text(encoding="utf-8") != rendered[name]
    ]
    problems += [f"extra: {name}" for name in sorted(on_disk.keys() - rendered.keys())]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m touchstream.events.json_schema", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    args = parser.parse_args(argv)
    if args.check:
        problems = schema_problems(args.dir)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("regenerate with: python -m touchstream.events.json_schema", file=sys.stderr)
        return 1 if problems else 0
    changes = write_schemas(args.dir)
    print(f"{len(EVENT_TYPES)} schemas in {args.dir}; {len(changes)} changed")
    for line in changes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
