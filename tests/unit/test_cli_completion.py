"""Shell completion as the README documents it (click's `_LANMAN_COMPLETE`)."""

from __future__ import annotations

from click.testing import CliRunner

from lanman.cli.main import cli


def _complete(words: str) -> list[str]:
    env = {
        "_LANMAN_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    r = CliRunner().invoke(cli, [], env=env, prog_name="lanman")
    assert r.exit_code == 0, r.output
    return [line.split(",", 1)[1] for line in r.output.splitlines() if "," in line]


def test_bash_source_is_a_function():
    r = CliRunner().invoke(cli, [], env={"_LANMAN_COMPLETE": "bash_source"}, prog_name="lanman")
    assert "_lanman_completion()" in r.output


def test_commands_and_subcommands_complete():
    assert "profile" in _complete("lanman pro")
    assert {"show", "list", "use"} <= set(_complete("lanman profile "))
