"""The docs are tested: the site builds strictly (links inside it resolve), the command reference lists every
command and option of the click tree, every command marked runnable runs on small settings, and the README
stays a README."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# `<!-- runnable -->` before a fenced or indented block marks each `bench ...` line in it as a command a
# test runs; `<!-- runnable: --steps 2 -->` appends small settings (click keeps an option's last value)
RUNNABLE = re.compile(r"<!-- runnable(?::(?P<extra>[^>]*))? -->\n+(?P<block>(?:```[a-z]*\n(?:.*\n)*?```)|(?:(?: {4}.*\n)+))")
SMALL = ["--no-progress"]


def runnable_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for match in RUNNABLE.finditer(page.read_text()):
            extra = shlex.split(match["extra"] or "")
            for line in match["block"].splitlines():
                line = line.strip().rpartition("&& ")[2]  # the set-up before `&&` is the install
                if line.startswith("bench "):
                    found.append((page.name, [*shlex.split(line)[1:], *extra]))
    return found


def test_the_readme_is_a_readme():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 10_000
    assert "python -m pytest -q" in text and "bench run" in text and "docs/" in text
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text), "a commit hash: history goes to CHANGELOG.md"


def test_pages_mark_their_commands_runnable():
    pages = {page for page, _ in runnable_commands()}
    assert {"README.md", "getting-started.md"} <= pages


@pytest.mark.slow
@pytest.mark.parametrize("page, args", runnable_commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v)[:60])
def test_runnable_commands_run(page, args, tmp_path):
    args = [*args, *(["--out", str(tmp_path / "results")] if args[0] in ("run", "horizon", "probe") else [])]
    done = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert done.returncode == 0, f"{page}: bench {' '.join(args)}\n{done.stderr[-2000:]}"


@pytest.mark.slow
def test_the_site_builds_strictly_and_its_command_reference_lists_every_option(tmp_path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = (site / "cli" / "index.html").read_text()
    from bench.cli import cli

    for name, command in cli.commands.items():
        assert f"bench {name}" in reference, name
        for parameter in command.params:
            for flag in getattr(parameter, "opts", []):
                if flag.startswith("--") and not getattr(parameter, "hidden", False):
                    assert flag in reference, f"bench {name} {flag}"
