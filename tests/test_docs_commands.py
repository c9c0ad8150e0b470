"""Every command in a code block of the README and docs/ works as written, as far as it can offline.

A study's command line is parsed and checked by the study's own parser and config (every flag exists, every
value is valid); the analysis and generation commands by theirs; a benchmark's flags must be flags the script
declares; make targets must exist; files the commands name must exist. A command of any other program must
be one the docs are allowed to name (``OTHER_PROGRAMS``), so a new kind of command gets a check here first.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

from analysis.__main__ import build_parser as analysis_parser
from studies import cli, flags
from trainables.chargen.generate import build_parser as generate_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(?:bash|sh|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
OTHER_PROGRAMS = {"ray", "pip", "wandb", "optuna-dashboard", "aws", "export", "git", "cd", "ssh", "tmux", "docker",
                  "cat", "ls", "tail", "ray-job", "echo", "mkdir", "rsync", "sudo", "nvidia-smi", "unset", "source",
                  "bash", "apt-get", "python3", "sed"}
"""Programs whose commands are passed through: their arguments are their own business, files they name aside."""


def commands() -> list[tuple[str, str]]:
    """(page, command) for every line of every shell code block, comments and continuations joined."""
    out = []
    for page in PAGES:
        for block in BLOCK.findall(page.read_text()):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = re.split(r"\s+#\s", " " + line.strip(), maxsplit=1)[0].strip()
                if line and not line.startswith("#"):
                    out.append((page.relative_to(ROOT).as_posix(), line))
    return out


def words_of(command: str) -> list[str]:
    words = shlex.split(command)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words = words[1:]
    return words


def check_study(script: str, argv: list[str]) -> None:
    """The study's own parser and checks, everything before Ray starts that needs no data."""
    study = importlib.import_module(f"studies.{Path(script).stem}").STUDY
    if "--help" in argv or "-h" in argv:
        return
    args = flags.parser(study).parse_args(argv)
    flags.check(args)
    cli.build(args, study.options)


def check_script(path: str, argv: list[str]) -> None:
    source = (ROOT / path).read_text()
    for word in argv:
        flag = word.split("=")[0]
        if flag.startswith("--") and flag != "--help":
            assert f'"{flag}"' in source, f"{path} declares no flag {flag}"


def check_python(words: list[str]) -> None:
    if words[1] == "-m":
        module, argv = words[2], words[3:]
        if module == "analysis":
            analysis_parser().parse_args(argv)
        elif module == "trainables.chargen.generate":
            generate_parser().parse_args(argv)
        elif module == "pytest":
            pass
        else:
            importlib.import_module(module)
        return
    script, argv = words[1], words[2:]
    assert (ROOT / script).is_file(), f"no file {script}"
    if script.startswith("studies/"):
        check_study(script, argv)
    else:
        check_script(script, argv)


def check_make(words: list[str]) -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    names = [w for w in words[1:] if "=" not in w]
    assert set(names) <= targets, f"no make target {set(names) - targets}"
    for word in words[1:]:
        if word.startswith("ARGS=") and names == ["study"]:
            check_study("studies/q1.py", shlex.split(word[len("ARGS="):]))


def check(command: str) -> None:
    words = words_of(command)
    if words[0] == "." and words[1].endswith("activate"):
        return
    if words[0] in ("python", ".venv/bin/python"):
        check_python(words)
    elif words[0] == "make":
        check_make(words)
    elif words[0] in OTHER_PROGRAMS:
        for word in words[1:]:
            path = word.removeprefix("file://")
            if re.fullmatch(r"(cluster|studies|benchmarks|docs)/[\w./-]+\.(yaml|py|sh|md|json)", path):
                assert (ROOT / path).is_file(), f"no file {path}"
        rest = words[words.index("--") + 1:] if "--" in words else []
        if words[:2] == ["ray", "job"] and rest:  # ray job submit ... -- python studies/q1.py ...
            check(shlex.join(rest))
        elif words[:2] == ["ray", "submit"] and any(w.startswith("studies/") for w in words):
            check_study(next(w for w in words if w.startswith("studies/")), rest)
    else:
        raise AssertionError(f"no check for the program {words[0]!r}: add it to OTHER_PROGRAMS or check it")


@pytest.mark.parametrize(("page", "command"), commands())
def test_every_documented_command_works_as_written(page, command):
    try:
        check(command)
    except SystemExit as exc:  # argparse's answer to a bad flag, or the study's one-line refusal
        raise AssertionError(f"{page}: {command!r} is refused (exit {exc.code})") from None


def test_the_pages_hold_commands_and_a_bad_one_is_caught():
    assert len(commands()) >= 30
    with pytest.raises(SystemExit):
        check("python studies/q1.py --no-such-flag 3")
    with pytest.raises(AssertionError, match="no make target"):
        check("make stduy")
    with pytest.raises(AssertionError, match="declares no flag --budget"):
        check("python benchmarks/q2_budget.py --budget 600")
