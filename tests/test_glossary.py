"""The README's words ("Words") keep one meaning each: a second sense a word once had is banned by pattern.

Each ban names the sense it keeps out and where the word's one meaning lives, so a failure says what to
call the thing instead. Ray's, Optuna's and W&B's own words keep their meaning where their APIs are called
(``tune.report``, Optuna's ``study_name`` in ``studies/searchers/optuna.py``).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("trainables", "studies", "analysis", "benchmarks", "tests")
DOCS = ("README.md", "docs", "cluster", "benchmarks/RESULTS.md")

# (pattern, what it would mean, the word to use) over the project's Python files.
CODE_BANS = [
    (r"^\s*def record\(", "an entry of study.json or anything but one epoch's metrics", "manifest; Session.record"),
    (r"\bclass (Block|Design)\b", "a piece of the report or a run's look schedule", "Entry; LookSchedule"),
    (r"\bctx\.study_name\b|^\s*study_name: str", "a run, called a study", "ctx.optuna_study"),
    (r"\bcheck_report\b", "a trial handing over metrics, called a report", "Schema.check_record"),
    (r"\bExtra\b|\bextras=\(|\b(task|TASK)\.extras\b", "report parts, called extras (pip's extras are pip's)",
     "Part, Task.parts"),
    (r"(?i)\brun name\b", "the --name folder of many runs, called a run", "name folder"),
    (r"trials report\b|a trial reports\b", "a trial handing over metrics, called a report", "record"),
]
# Only the loop's sessions (and benchmarks' stand-ins for them) define record().
RECORD_DEFINERS = {"trainables/common/loop.py", "benchmarks/q2_budget.py", "benchmarks/q3_davidson.py"}
GLOSSARY_WORDS = ("study", "run", "name folder", "manifest", "trial", "record", "design", "block", "section",
                  "claim, comparison", "margin", "verdict", "seed", "look, cap", "report", "entry", "report part")


def python_files():
    for top in CODE:
        for path in (ROOT / top).rglob("*.py"):
            if path.name != "test_glossary.py":
                yield path.relative_to(ROOT).as_posix(), path.read_text()


def doc_files():
    for name in DOCS:
        path = ROOT / name
        for file in ([path] if path.is_file() else sorted(path.rglob("*.md")) + sorted(path.rglob("*.yaml"))):
            yield file.relative_to(ROOT).as_posix(), file.read_text()


def hits(pattern, files, allowed=()):
    return [f"{name}:{n}" for name, text in files if name not in allowed
            for n, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]


def test_no_identifier_or_docstring_uses_a_word_in_a_banned_sense():
    found = {}
    for pattern, sense, use in CODE_BANS:
        allowed = RECORD_DEFINERS if "def record" in pattern else ()
        where = hits(pattern, python_files(), allowed)
        if where:
            found[f"{sense} (use: {use})"] = where
    assert not found, found


def test_the_docs_use_no_banned_sense():
    for pattern in (r"(?i)\brun name\b", r"\bExtra\b", r"\bcheck_report\b", r"trials report\b"):
        assert not hits(pattern, doc_files()), pattern


def test_the_bans_catch_the_old_senses():
    """Each ban matches the spelling it was written for, so a typo in a pattern cannot pass silently."""
    old = ["    def record(self, plan):", "class Block:", "ctx.study_name", "schema.check_report(m)",
           "extras=(Curves(),)", "the run name", "every name its trials report"]
    for (pattern, _, _), line in zip(CODE_BANS, old, strict=True):
        assert re.search(pattern, line, re.MULTILINE), (pattern, line)


def test_the_readme_glossary_has_every_word():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Words"):text.index("## More")]
    words = [row.split("|")[1].strip() for row in table.splitlines() if row.startswith("| ") and "---" not in row]
    assert set(GLOSSARY_WORDS) <= set(words), set(GLOSSARY_WORDS) - set(words)
    assert len(words) == len(set(words)), "a word is defined twice"


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
