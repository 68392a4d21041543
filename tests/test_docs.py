"""Documentation completeness: every hook, descriptor field and error code is documented;
every relative link in the docs resolves; nothing cites documents outside the repository."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import writeback
import writeback.plugin
from writeback import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = [
    writeback.plugin.ConnectorTypeSpec,
    writeback.plugin.ApiFormatSpec,
    writeback.plugin.AuthMethodSpec,
    writeback.plugin.AuthRule,
    writeback.plugin.ThrottleDefaults,
    writeback.plugin.OutboundMessage,
    writeback.plugin.AttemptResult,
    writeback.plugin.Delivery,
    writeback.plugin.PipelineContext,
    writeback.plugin.ProbeReport,
    writeback.plugin.CommandSpec,
    writeback.plugin.AttemptFinished,
]


def _text(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def test_every_hook_is_documented():
    hooks = [n for n in vars(hookspecs) if n.startswith("writeback_")]
    text = _text("hooks.md")
    assert hooks and all(f"`{h}" in text for h in hooks), hooks


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_descriptor_field_is_documented(cls):
    text = _text("hooks.md")
    assert f"`{cls.__name__}`" in text
    missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in text]
    assert missing == [], f"{cls.__name__} fields not in docs/hooks.md: {missing}"


def test_every_name_of_writeback_plugin_is_documented():
    text = _text("plugin-api.md")
    missing = [n for n in writeback.plugin.__all__ if f"### `{n}`" not in text]
    assert missing == [], (
        f"names of writeback.plugin without a paragraph in docs/plugin-api.md: {missing}"
    )


def test_every_name_of_the_host_api_is_documented():
    text = _text("host-api.md")
    missing = [n for n in writeback.__all__ if f"`{n}`" not in text]
    assert missing == [], f"names of writeback without a mention in docs/host-api.md: {missing}"


def test_plugin_api_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/plugin-api.md)" in readme


def test_docs_show_plugins_importing_from_writeback_plugin():
    moved = set(writeback._MOVED)
    for name in ("hooks.md", "plugin-authoring.md", "plugin-api.md"):
        for line in _text(name).splitlines():
            if line.lstrip().startswith("from writeback import "):
                names = {n.strip(" ()") for n in line.split(" import ", 1)[1].split(",")}
                assert not names & moved, f"docs/{name}: {line.strip()}"


def test_every_error_code_is_documented():
    used = set()
    for folder in ("core/src", "plugins", "testing/src", "server/src"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"WB-\d{3}", path.read_text(encoding="utf-8")))
    text = _text("errors.md")
    assert used and sorted(c for c in used if c not in text) == []


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


# -- the repository stands alone ------------------------------------------------

#: Citations of documents that are not part of the repository.  Spelt in pieces so
#: that this file does not match itself.
OUTSIDE_CITATIONS = (
    "contract" + " §",
    "lab" + " notes",
    "lab" + "-notes",
    "domain" + ".md",
    "shared" + "/docs",
)
#: Where the repository's files are not (the walk's fallback outside a git checkout).
NOT_THE_REPOSITORY = {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def _repository_files() -> list[Path]:
    """Every file of the repository: tracked or new, not ignored (so not ``.venv``)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file()
            and not any(
                part in NOT_THE_REPOSITORY or part.endswith(".egg-info")
                for part in path.relative_to(ROOT).parts
            )
        ]
    names = {name for name in listed.decode("utf-8", "surrogateescape").split("\0") if name}
    return [ROOT / name for name in sorted(names) if (ROOT / name).is_file()]


def test_nothing_cites_documents_outside_the_repository():
    files = _repository_files()
    assert ROOT / "README.md" in files and Path(__file__).resolve() in files
    found = []
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace").lower()
        for citation in OUTSIDE_CITATIONS:
            for match in re.finditer(re.escape(citation), text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {citation!r}")
    assert found == [], "say it in the repository's own docs instead:\n" + "\n".join(found)


_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def _prose(path: Path) -> list[tuple[int, str]]:
    """The file's numbered lines outside fenced code blocks, inline code blanked out."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", lambda m: " " * len(m.group()), line)))
    return lines


def _anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for ``path``: lower case, punctuation dropped,
    spaces as hyphens, ``-1``, ``-2`` … after repeats; and explicit ``<a id>``s."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        anchors.update(_HTML_ANCHOR.findall(line))
        heading = _HEADING.match(line)
        if heading is None:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        repeat = seen.get(slug, 0)
        seen[slug] = repeat + 1
        anchors.add(f"{slug}-{repeat}" if repeat else slug)
    return anchors


def _linking_documents() -> list[Path]:
    """docs/*.md and the READMEs: the repository's, each distribution's."""
    readmes = [ROOT / "README.md", *ROOT.glob("*/README.md"), *ROOT.glob("plugins/*/README.md")]
    return sorted((ROOT / "docs").glob("*.md")) + sorted(readmes)


def test_relative_links_resolve_to_a_file_and_heading():
    documents = _linking_documents()
    assert ROOT / "README.md" in documents and len(documents) > 10
    broken, checked, anchors = [], 0, {}
    for document in documents:
        for number, line in _prose(document):
            for target in _LINK.findall(line):
                if not target or re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # https:, mailto: …
                checked += 1
                file_part, _, anchor = target.partition("#")
                linked = (document.parent / file_part).resolve() if file_part else document
                where = f"{document.relative_to(ROOT)}:{number}: {target}"
                if not linked.exists():
                    broken.append(f"{where}: no such file")
                    continue
                if anchor and linked.suffix == ".md":
                    if linked not in anchors:
                        anchors[linked] = _anchors(linked)
                    if anchor not in anchors[linked]:
                        broken.append(f"{where}: no heading with that anchor")
    assert checked > 100
    assert broken == [], "\n".join(broken)


def _cli_sections() -> dict[str, str]:
    """Each heading of docs/cli.md naming a command, with the text of its section."""
    text = _text("cli.md")
    found = re.finditer(r"^(#+) (.*)$", text, re.M)
    heads = [(m.start(), len(m.group(1)), m.group(2)) for m in found]
    sections = {}
    for i, (at, level, title) in enumerate(heads):
        end = next((a for a, lvl, _ in heads[i + 1 :] if lvl <= level), len(text))
        sections[title] = text[at:end]
    return sections


def test_every_cli_option_is_documented_in_its_section():
    """Every option of the core's commands and writeback-server's (serve,
    api-keys) appears in the section of docs/cli.md that names the command."""
    import typer.main
    from writeback.cli._app import app

    commands = {}

    def walk(prefix: str, group) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(f"{prefix}{name} ", command)
            else:
                commands[f"{prefix}{name}"] = command

    walk("", typer.main.get_command(app))
    try:
        from writeback_server._keys_cmd import app as keys
        from writeback_server._serve_cmd import app as serve
    except ImportError:  # writeback-server not installed: the core's alone
        pass
    else:
        commands["serve"] = typer.main.get_command(serve)
        walk("api-keys ", typer.main.get_command(keys))
    sections = _cli_sections()
    problems = []
    for name, command in sorted(commands.items()):
        leaf = name.split(" ", 1)[-1]
        found = [
            body
            for title, body in sections.items()
            if re.search(rf"`(writeback )?{re.escape(name)}\b", title)
            or (" " in name and re.search(rf"`{re.escape(leaf)}\b", title))
        ]
        if not found:
            problems.append(f"{name}: no section in docs/cli.md")
            continue
        options = [o for p in command.params for o in getattr(p, "opts", ()) if o.startswith("--")]
        problems += [
            f"{name}: {o} not in its section"
            for o in options
            if not any(re.search(rf"{re.escape(o)}\b", body) for body in found)
        ]
    assert problems == [], "\n".join(problems)
