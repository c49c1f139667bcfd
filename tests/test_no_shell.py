"""No code path hands user text to a shell: filterfit runs programs from an argv list only.

filterfit has no shell option, so none of these may appear anywhere in src/. A grep, on
purpose: it also catches a shell that a future change would add behind a flag nobody documented.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[1] / "src" / "filterfit"
FORBIDDEN = {
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "os.system": re.compile(r"\bos\s*\.\s*system\b|\bfrom\s+os\s+import\b[^\n]*\bsystem\b"),
    "os.popen": re.compile(r"\bos\s*\.\s*popen\b|\bfrom\s+os\s+import\b[^\n]*\bpopen\b"),
    "subprocess.getoutput": re.compile(r"\bgetoutput\b"),
    "subprocess.getstatusoutput": re.compile(r"\bgetstatusoutput\b"),
    "os.exec*/spawn* through sh": re.compile(r"""['"](/bin/)?(ba)?sh['"]\s*,\s*['"]-c['"]"""),
}


def python_files() -> list[Path]:
    return sorted(SOURCES.rglob("*.py"))


def test_the_scan_sees_the_package():
    names = {path.relative_to(SOURCES).as_posix() for path in python_files()}
    assert {"filters/command.py", "fit.py", "cli.py"} <= names


@pytest.mark.parametrize("what", list(FORBIDDEN))
def test_no_shell_anywhere_in_the_sources(what):
    pattern = FORBIDDEN[what]
    found = [
        f"{path.relative_to(SOURCES)}:{number}: {line.strip()}"
        for path in python_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == [], f"{what} found: filterfit must run programs from an argv list, never a shell"


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("subprocess.run(text, shell=True)", "shell=True"),
        ("subprocess.Popen(cmd, shell = True, env=env)", "shell=True"),
        ("os.system(command)", "os.system"),
        ("from os import path, system", "os.system"),
        ("out = os.popen(command).read()", "os.popen"),
        ("subprocess.getoutput(command)", "subprocess.getoutput"),
        ("subprocess.getstatusoutput(command)", "subprocess.getstatusoutput"),
        ("subprocess.run(['sh', '-c', text])", "os.exec*/spawn* through sh"),
        ('subprocess.run(["/bin/bash", "-c", text])', "os.exec*/spawn* through sh"),
    ],
)
def test_each_pattern_catches_what_it_names(line, what):
    """The scan would fail if these lines were in src/ (so the test above can fail)."""
    assert FORBIDDEN[what].search(line)
    assert not FORBIDDEN[what].search("subprocess.Popen(argv, stdin=subprocess.PIPE, start_new_session=True)")
