"""The published JSON Schemas match the models that the gateway and consumers validate with."""

from __future__ import annotations

import json

from touchstream.events import EVENT_TYPES
from touchstream.events.json_schema import SCHEMA_DIR, main, render_schemas

REGENERATE = "regenerate with `python -m touchstream.events.json_schema` and commit the result"


def test_checked_in_schemas_are_up_to_date():
    rendered = render_schemas()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}
    stale = sorted(name for name in rendered if on_disk.get(name) != rendered[name])
    extra = sorted(on_disk.keys() - rendered.keys())
    assert not stale, f"stale or missing schemas {stale}; {REGENERATE}"
    assert not extra, f"schemas of types that no longer exist {extra}; {REGENERATE}"


def test_one_schema_per_event_type_named_after_the_type():
    rendered = render_schemas()
    assert sorted(rendered) == sorted(f"{t}.json" for t in EVENT_TYPES)
    schema = json.loads(rendered["cx.touchpoint.contact.v1.json"])
    assert schema["$id"] == "urn:touchstream:schema:cx.touchpoint.contact.v1"
    assert schema["properties"]["type"]["const"] == "cx.touchpoint.contact.v1"
    assert {"id", "source", "specversion", "type", "time", "data"} <= set(schema["required"])
    assert schema["description"].startswith("The customer was in contact")


def test_rendering_is_deterministic():
    assert render_schemas() == render_schemas()


def test_check_mode_lists_stale_missing_and_extra_files(tmp_path, capsys):
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--dir", str(tmp_path), "--check"]) == 0
    (tmp_path / "cx.touchpoint.contact.v1.json").write_text("{}\n")
    (tmp_path / "cx.feedback.survey.v1.json").unlink()
    (tmp_path / "cx.old.thing.v1.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["--dir", str(tmp_path), "--check"]) == 1
    report = capsys.readouterr().err
    assert "stale: cx.touchpoint.contact.v1.json" in report
    assert "missing: cx.feedback.survey.v1.json" in report
    assert "extra: cx.old.thing.v1.json" in report
    assert main(["--dir", str(tmp_path)]) == 0
    assert not (tmp_path / "cx.old.thing.v1.json").exists()
    assert main(["--dir", str(tmp_path), "--check"]) == 0
