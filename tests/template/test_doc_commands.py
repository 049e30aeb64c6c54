"""The commands the docs tell a user to type exist as written.

Read from the fenced code blocks of README.md and docs/*.md: each shell line (a ``bash``/``sh``
block, or a line starting with ``$ `` in any block; continuation lines joined):

- every ``python -m runner ...`` parses with the runner's own argument parser (a subcommand or
  an option renamed or removed fails here, with the line);
- every ``Name=value`` of a ``--parameter-overrides`` names a parameter of the template the
  command deploys (``sam deploy``: template.yaml; ``aws cloudformation deploy``: its
  ``--template-file``), and so does every ``ParameterKey``;
- every ``sam deploy`` either runs ``--guided`` (which asks for ``OperatorPrincipalArns``) or
  sets ``OperatorPrincipalArns``: without it nobody can approve a held request.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from runner.cli import _parser
from tests.template.cfn_yaml import HUB_TEMPLATE, ROOT, load_cfn_yaml

DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL_BLOCKS = {"bash", "sh", "shell"}
_FENCE = re.compile(r"^\s*```(\w*)\s*$")
_SHELL_STOPS = {"|", ">", ">>", "&&", ";", "2>&1"}


def _complete(text: str) -> bool:
    """Whether a shell line is whole: no continuation backslash, no quote left open."""
    if text.endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # a quoted argument goes on on the next line
        return False
    return True


def shell_lines(doc: Path) -> list[str]:
    """The shell lines of a document's code blocks: continuation lines and multi-line quoted
    arguments joined, here-documents left out."""
    lines: list[str] = []
    language: str | None = None  # None: outside a block
    pending = ""
    heredoc: str | None = None  # the terminator of the here-document being skipped
    for raw in doc.read_text(encoding="utf-8").splitlines():
        fence = _FENCE.match(raw)
        if fence:
            language = None if language is not None else fence.group(1)
            pending, heredoc = "", None
            continue
        text = raw.strip()
        if language is None or heredoc is not None:
            heredoc = None if text == heredoc else heredoc
            continue
        if pending:
            text = f"{pending[:-1].strip() if pending.endswith(chr(92)) else pending + chr(10)} {text}".strip()
            pending = ""
        elif text.startswith("$ "):
            text = text[2:]
        elif language not in SHELL_BLOCKS:
            continue
        if not _complete(text):
            pending = text
            continue
        opened = re.search(r"<<-?'?(\w+)'?", text)
        heredoc = opened.group(1) if opened else None
        lines.append(text)
    return lines


def _tokens(line: str) -> list[str]:
    tokens = shlex.split(line, comments=True)
    for i, token in enumerate(tokens):
        if token in _SHELL_STOPS:
            return tokens[:i]
    return tokens


def commands() -> list[tuple[str, str]]:
    return [(doc.relative_to(ROOT).as_posix(), line) for doc in DOCS for line in shell_lines(doc)]


def _runs_the_runner(tokens: list[str]) -> bool:
    return any(tokens[i : i + 2] == ["-m", "runner"] for i in range(len(tokens)))


def runner_commands() -> list[tuple[str, str]]:
    return [(doc, line) for doc, line in commands() if _runs_the_runner(_tokens(line))]


def deploy_commands() -> list[tuple[str, str]]:
    return [(doc, line) for doc, line in commands() if re.search(r"\b(sam|cloudformation) deploy\b", line)]


def test_the_docs_have_commands_to_check() -> None:
    assert len(runner_commands()) > 20
    assert len(deploy_commands()) > 3


@pytest.mark.parametrize(("doc", "line"), runner_commands())
def test_each_runner_command_parses(doc: str, line: str) -> None:
    tokens = _tokens(line)
    arguments = tokens[tokens.index("-m") + 2 :]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.suppress(SystemExit):
        _parser().parse_args(arguments)
        return
    pytest.fail(f"{doc}: `{line}` does not parse: {errors.getvalue().strip().splitlines()[-1]}")


def _template_of(tokens: list[str]) -> Path:
    if "--template-file" in tokens:
        return ROOT / tokens[tokens.index("--template-file") + 1]
    return HUB_TEMPLATE


def _overrides(tokens: list[str]) -> list[str]:
    """The Name=value pairs after --parameter-overrides (up to the next option)."""
    if "--parameter-overrides" not in tokens:
        return []
    after = tokens[tokens.index("--parameter-overrides") + 1 :]
    pairs = []
    for token in after:
        if token.startswith("--"):
            break
        pairs.append(token)
    return pairs


@pytest.mark.parametrize(("doc", "line"), deploy_commands())
def test_each_deploy_command_names_real_parameters(doc: str, line: str) -> None:
    tokens = _tokens(line)
    template = _template_of(tokens)
    parameters = set(load_cfn_yaml(template)["Parameters"])
    named = [pair.split("=", 1)[0] for pair in _overrides(tokens)]
    unknown = [name for name in named if name not in parameters]
    assert not unknown, f"{doc}: `{line}` sets {unknown}, which {template.name} does not have"
    if any(token == "sam" or token.endswith("/sam") for token in tokens):
        assert "--guided" in tokens or "OperatorPrincipalArns" in named, (
            f"{doc}: `{line}` leaves OperatorPrincipalArns empty: nobody could approve a held request"
        )


def test_each_parameter_key_is_a_member_template_parameter() -> None:
    member = set(load_cfn_yaml(ROOT / "member-template.yaml")["Parameters"])
    hub = set(load_cfn_yaml(HUB_TEMPLATE)["Parameters"])
    for doc in DOCS:
        for key in re.findall(r'ParameterKey: "([A-Za-z0-9]+)"', doc.read_text(encoding="utf-8")):
            assert key in member | hub, f"{doc.name}: ParameterKey {key} is no parameter of the templates"
