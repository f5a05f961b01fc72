"""The README documents what the code does: every setting, every CLI command."""

from __future__ import annotations

from pathlib import Path

from touchstream.services.cli import app
from touchstream.services.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_variable() -> None:
    missing = [
        f"TOUCHSTREAM_{name.upper()}"
        for name in Settings.model_fields
        if f"TOUCHSTREAM_{name.upper()}" not in README
        and f"…_{name.upper().removeprefix('TOUCHSTREAM_')}" not in README
    ]
    assert not missing, f"settings missing from the README's configuration table: {missing}"


def test_every_cli_command_is_in_the_readme() -> None:
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    missing = [name for name in commands if f"touchstream {name}" not in README]
    assert not missing, f"commands missing from the README: {missing}"
