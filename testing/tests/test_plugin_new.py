"""``writeback plugin new``: what it writes, what it refuses, and that each kind
installs into a fresh virtualenv and passes its own tests as generated.

The virtualenv: ``python -m venv`` plus ``pip install`` from the package index
would take minutes and the network, and ``--system-site-packages`` would hide a
missing dependency.  Instead the new environment gets one ``.pth`` file naming
a folder of links to the distributions in the *declared* dependency closure of
the generated plugins (as installed in this test's own environment) and the
source folders of the editable ones.  A library nobody declared is not there,
so a plugin importing it fails as it would for a user.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

KINDS = ("type", "format", "auth")


def writeback(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "writeback", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One plugin of each kind, ``writeback-my-KIND``, side by side."""
    where = tmp_path_factory.mktemp("plugins")
    for kind in KINDS:
        made = writeback("plugin", "new", f"my-{kind}", "--kind", kind, cwd=where)
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"created writeback-my-{kind}/ (")
    return where


def test_each_kind_installs_and_passes_its_own_tests(generated: Path, tmp_path: Path) -> None:
    python = make_venv(
        tmp_path / "venv",
        # What the generated pyprojects declare (with their test extras), and the
        # build backend: the environment holds these and what they need, no more.
        ["writeback-testing", "writeback-json", "writeback-auth-basic", "httpx", "hatchling"],
    )
    plugins = [str(generated / f"writeback-my-{kind}") + "[test]" for kind in KINDS]
    install = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-index", "--no-build-isolation", *plugins),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WRITEBACK_"))}
    for kind in KINDS:
        run = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
            cwd=generated / f"writeback-my-{kind}",
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert run.returncode == 0, f"{kind}:\n{run.stdout}\n{run.stderr}"
        assert " passed" in run.stdout and "failed" not in run.stdout
        # The contract suite ran, not only the plain test.
        assert "_contract.py" in run.stdout or run.stdout.count(".") > 8
    # The auth test's back office checks the header: a mechanism sending nothing fails it.
    silent = tmp_path / "silent"
    shutil.copytree(generated / "writeback-my-auth", silent)
    mechanism = silent / "src" / "writeback_my_auth" / "_mechanism.py"
    code = mechanism.read_text()
    assert "return {self.settings.header: key}" in code
    mechanism.write_text(code.replace("return {self.settings.header: key}", "return {}"))
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=silent,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(silent / "src")},  # the copy, not the installed one
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "wants the X-API-Key header carrying settings['key']" in run.stdout, run.stdout
    # Three plugins' tests in one run do not collide (each module named after its package).
    together = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + [f"writeback-my-{kind}" for kind in KINDS],
        cwd=generated,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert together.returncode == 0, together.stdout + together.stderr
    # Installed for real: the plugin is listed by the environment's writeback.
    listed = subprocess.run(
        [str(python), "-m", "writeback", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    for kind in KINDS:
        assert f'"my-{kind}"' in listed.stdout


def test_the_generated_code_passes_the_repositorys_lint(generated: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [
                *(sys.executable, "-m", "ruff", *command, "--no-cache"),
                *("--config", str(root / "pyproject.toml"), str(generated)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_the_layout_and_entry_point(generated: Path, kind: str) -> None:
    folder = generated / f"writeback-my-{kind}"
    # What the generator wrote, not what building and testing it left behind.
    left_behind = ("__pycache__", "build", ".pytest_cache")
    names = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part in left_behind or part.endswith(".egg-info") for part in p.parts)
    )
    work = {"type": "_connector", "format": "_format", "auth": "_mechanism"}[kind]
    package = f"writeback_my_{kind}"
    assert names == sorted(
        [
            ".gitignore",
            "README.md",
            "pyproject.toml",
            f"src/{package}/__init__.py",
            f"src/{package}/{work}.py",
            f"src/{package}/plugin.py",
            f"src/{package}/py.typed",
            f"tests/test_{package}_contract.py",
            f"tests/test_{package}_plugin.py",
        ]
    )
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"writeback-my-{kind}"
    # As the shipped plugins declare theirs: group "writeback", short name -> module.
    assert project["project"]["entry-points"]["writeback"] == {f"my-{kind}": f"{package}.plugin"}
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]
    assert "writeback" in project["project"]["dependencies"]
    assert "writeback-testing" in project["project"]["optional-dependencies"]["test"]
    contract = (folder / "tests" / f"test_{package}_contract.py").read_text()
    suite = {"type": "ConnectorTypeContract", "format": "ApiFormatContract"}
    assert f"from writeback_testing.contract import {suite.get(kind, 'AuthMethodContract')}" in (
        contract
    )


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["Teams", "--kind", "type"], "NAME 'Teams' is not a plugin name; use lower-case"),
        (["my plugin", "--kind", "type"], "NAME 'my plugin' is not a plugin name"),
        (["1teams", "--kind", "type"], "NAME '1teams' is not a plugin name"),
        (["teams-", "--kind", "type"], "NAME 'teams-' is not a plugin name"),
        (["writeback-teams", "--kind", "type"], "NAME 'writeback-teams' is a distribution name"),
        (["json", "--kind", "format"], "NAME 'json' is taken by the installed plugin"),
        (["none", "--kind", "auth"], "NAME 'none' is the core's own auth method"),
        (["teams", "--kind", "widget"], "--kind 'widget' is not a plugin kind; use type, format"),
        (["teams"], "--kind is required: type, format or auth."),
    ],
)
def test_bad_input_is_one_sentence_exit_2_nothing_written(
    tmp_path: Path, args: list[str], sentence: str
) -> None:
    done = writeback("plugin", "new", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and sentence in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "out" / "writeback-teams").mkdir(parents=True)
    (tmp_path / "out" / "writeback-teams" / "mine.txt").write_text("keep")
    done = writeback("plugin", "new", "teams", "--kind", "type", "--dir", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: WB-100: out/writeback-teams already exists; remove it or "
        "choose another --dir (nothing was written)."
    )
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["mine.txt", "writeback-teams"]


def test_dir_is_where_the_distribution_goes(tmp_path: Path) -> None:
    done = writeback("plugin", "new", "api_key", "--kind", "auth", "--dir", "a/b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "a" / "b" / "writeback-api-key"
    assert (folder / "src" / "writeback_api_key" / "plugin.py").is_file()
    assert done.stdout.splitlines()[1] == "  cd a/b/writeback-api-key"
    plugin = (folder / "src" / "writeback_api_key" / "plugin.py").read_text()
    assert 'name="api_key"' in plugin and "class ApiKeySettings(BaseModel):" in plugin


# -- the virtualenv -----------------------------------------------------------------


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``roots`` need, following declared requirements
    (with their extras and environment markers)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    queue = [Requirement(root) for root in roots]
    while queue:
        requirement = queue.pop()
        name = _normal(requirement.name)
        if name not in found:
            found[name] = importlib.metadata.distribution(name)
        for extra in ("", *requirement.extras):
            if (name, extra) in done:
                continue
            done.add((name, extra))
            for text in found[name].requires or ():
                sub = Requirement(text)
                if sub.marker is None or sub.marker.evaluate({"extra": extra}):
                    queue.append(sub)
    return list(found.values())


def _editable_source(dist: importlib.metadata.Distribution) -> list[str]:
    """The folders an editable install puts on ``sys.path`` (its ``.pth`` lines)."""
    paths = []
    for file in dist.files or ():
        if file.name.endswith(".pth"):
            text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
            paths += [ln.strip() for ln in text.splitlines() if ln.strip() and "import" not in ln]
    return paths


def make_venv(where: Path, roots: list[str]) -> Path:
    """Create a virtualenv at ``where``; returns its python.

    It sees the distributions ``roots`` (requirement strings, extras allowed)
    need and nothing else.  Install into it with
    ``python -m pip --python <it> install --no-index --no-build-isolation``.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    links = where / "closure"
    links.mkdir()
    lines = [str(links)]
    for dist in _closure(roots):
        direct = dist.read_text("direct_url.json")
        editable = bool(direct and json.loads(direct).get("dir_info", {}).get("editable"))
        tops = {file.parts[0] for file in dist.files or () if file.parts[0] != ".."}
        for top in sorted(tops):
            if top.endswith(".pth") or top == "__pycache__":
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (links / top).exists():
                (links / top).symlink_to(source)
        if editable:
            lines += _editable_source(dist)
    (Path(site) / "closure.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python
