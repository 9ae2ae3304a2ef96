"""The README's command list keeps up with the `stocker` command tree."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.core import TyperGroup

from stocker.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _leaf_commands() -> list[list[str]]:
    """The word path of every command that is not a group (`["data", "quarantine", "list"]`)."""
    leaves: list[list[str]] = []
    pending: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        if isinstance(command, TyperGroup):
            pending += [([*path, name], sub) for name, sub in command.commands.items()]
        else:
            leaves.append(path)
    return leaves


def test_readme_when_read_starts_with_make_demo_then_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```", 2)[1]
    assert first_block.split() == ["make", "demo", "make", "test"]


def test_readme_command_list_when_read_names_every_command() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("stocker --help", 1)[1].split("```", 2)[1]

    missing = [
        " ".join(path)
        for path in _leaf_commands()
        if f"stocker {' '.join(path[:-1])}".strip() not in block
        or not re.search(rf"(?<![\w-]){re.escape(path[-1])}(?![\w-])", block)
    ]

    assert missing == []
