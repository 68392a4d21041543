"""What ``writeback plugin new`` runs: a new plugin distribution from a template.

The templates are package data (``templates/plugin/``), filled in with
:class:`string.Template` (``$name``), so writeback-testing needs no template
engine.  ``common/`` holds what every kind shares; ``type/``, ``format/`` and
``auth/`` the plugin module, its working module, the contract-suite test and
the README's usage section of each kind.  Each kind's template is the smallest
plugin that passes its contract suite as generated.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

__all__ = ["KINDS", "Kind", "check_name", "new_plugin"]

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_MAX_NAME = 40


@dataclass(frozen=True)
class Kind:
    """One ``--kind``: how its template differs from the others."""

    #: The kind's name in writeback's own words (``connector type`` …).
    human: str
    #: The working module the factory imports (``_connector`` …).
    work_module: str
    #: The registry's getter for the descriptor (``connector_type`` …).
    getter: str
    #: The descriptor's default summary.
    summary: str
    #: Requirements besides ``writeback``.
    dependencies: tuple[str, ...]
    #: Other plugins the plain test loads with this one (entry-point names).
    also_load: tuple[str, ...] = ()
    #: The ``test`` extra besides ``writeback-testing``.
    test_dependencies: tuple[str, ...] = ()


KINDS = {
    "type": Kind(
        human="connector type",
        work_module="_connector",
        getter="connector_type",
        summary="appointment changes as JSON events to an HTTP endpoint",
        # The json format sends what the type builds.
        dependencies=("writeback-json",),
        also_load=("json",),
        # The contract test's rows use basic auth, so that a secret is checked.
        test_dependencies=("writeback-auth-basic",),
    ),
    "format": Kind(
        human="API format",
        work_module="_format",
        getter="api_format",
        summary="JSON over HTTP(S), sent with httpx",
        dependencies=("httpx>=0.27",),
    ),
    "auth": Kind(
        human="auth method",
        work_module="_mechanism",
        getter="auth_method",
        summary="an API key in a request header",
        dependencies=(),
    ),
}


def check_name(name: str) -> None:
    """Refuse a NAME that cannot be a plugin's short name, in one sentence.

    :raises ValueError: the name, and what is allowed.
    """
    if name.startswith(("writeback-", "writeback_")) and _NAME.fullmatch(name):
        short = name[len("writeback-") :]
        raise ValueError(
            f"NAME {name!r} is a distribution name; give the plugin's short name "
            f"({short!r}): the distribution is called writeback-NAME."
        )
    if not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise ValueError(
            f"NAME {name!r} is not a plugin name; use lower-case letters and digits, "
            f"words joined by '-' or '_', at most {_MAX_NAME} characters (like 'teams' or "
            "'api-key')."
        )
    for point in importlib.metadata.entry_points(group="writeback"):
        if point.name == name:
            owner = point.dist.name if point.dist is not None else "another distribution"
            raise ValueError(
                f"NAME {name!r} is taken by the installed plugin {owner}; choose another "
                f"name (two plugins with one name are both refused), or pip uninstall {owner} "
                "first if it is the one you are replacing."
            )
    if name == "none":
        raise ValueError("NAME 'none' is the core's own auth method; choose another name.")


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the distribution ``writeback-NAME`` into ``parent``; returns its folder.

    Everything is written into a temporary folder beside it first and moved
    into place at the end, so a failure leaves nothing behind.

    :raises ValueError: a bad name or kind, or a folder that already exists.
    """
    check_name(name)
    if kind not in KINDS:
        raise ValueError(f"--kind {kind!r} is not a plugin kind; use type, format or auth.")
    target = parent / _distribution(name)
    if target.exists():
        raise ValueError(
            f"{target} already exists; remove it or choose another --dir (nothing was written)."
        )
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--dir {parent} is not a folder.")
    parent.mkdir(parents=True, exist_ok=True)
    spec = KINDS[kind]
    values = _values(name, kind, spec)
    package = values["package"]
    outputs = {
        "pyproject.toml": ("common", "pyproject.toml"),
        "README.md": ("common", "README.md"),
        ".gitignore": ("common", "gitignore"),
        f"src/{package}/__init__.py": ("common", "__init__.py"),
        f"src/{package}/plugin.py": (kind, "plugin.py"),
        f"src/{package}/{spec.work_module}.py": (kind, f"{spec.work_module}.py"),
        f"tests/test_{package}_plugin.py": ("common", "test_plugin.py"),
        f"tests/test_{package}_contract.py": (kind, "test_contract.py"),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=parent))
    try:
        for relative, (folder, template) in outputs.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_render(folder, template, values), encoding="utf-8")
        (staging / "src" / package / "py.typed").write_text("", encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _values(name: str, kind: str, spec: Kind) -> dict[str, str]:
    package = "writeback_" + name.replace("-", "_")
    values = {
        "name": name,
        "kind": kind,
        "kind_human": spec.human,
        "dist": _distribution(name),
        "package": package,
        "cls": "".join(part.capitalize() for part in re.split(r"[-_]", name)),
        "summary": spec.summary,
        "getter": spec.getter,
        "work_module": spec.work_module,
        # Keeps the README's layout column aligned whatever the module's name.
        "work_pad": " " * max(1, 21 - len(spec.work_module)),
        "dependencies": "".join(f'    "{d}",\n' for d in ("writeback", *spec.dependencies)),
        "test_dependencies": "".join(
            f'    "{d}",\n' for d in ("writeback-testing", *spec.test_dependencies)
        ),
        "also_load": "".join(f', "{n}"' for n in spec.also_load),
    }
    values["usage"] = _render(kind, "usage.md", values).rstrip("\n")
    return values


def _render(folder: str, template: str, values: dict[str, str]) -> str:
    source = files("writeback_testing") / "templates" / "plugin" / folder / f"{template}.tmpl"
    return Template(source.read_text(encoding="utf-8")).substitute(values)


def _distribution(name: str) -> str:
    return "writeback-" + name.replace("_", "-")
