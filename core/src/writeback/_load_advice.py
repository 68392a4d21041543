"""What to do about a plugin that failed to load, from why it failed.

"Reinstall it" was the advice for every load error, and it is wrong for the
person who meets most of them: the author of a plugin being written, whose
import, hook or declaration is the problem (issue 21).  This turns the load
error's text into the step that fixes it, naming the distribution.
"""

from __future__ import annotations

import re

__all__ = ["load_advice", "with_advice"]

_MISSING = re.compile(r"No module named '([^']+)'")


def load_advice(dist: str, error: str) -> str:
    """One clause saying what to fix, for a load error ``error`` of ``dist``."""
    missing = _MISSING.search(error)
    if missing:
        module = missing.group(1)
        own = module.split(".")[0] == dist.replace("-", "_").replace(".", "_")
        if own:
            return (
                f"{dist} imports its own module {module!r}, which does not exist: fix the "
                "module path in its entry point or in the import that names it"
            )
        top = module.split(".")[0]
        return (
            f"{dist} needs {top!r}, which is not installed: install it, and list it in "
            f"{dist}'s pyproject.toml dependencies if it is not there"
        )
    if error.startswith("import failed"):
        return (
            f"importing {dist}'s plugin module raised: fix that module (keep it to "
            "declarations; 'writeback plugins check' shows the error)"
        )
    if error.startswith(("declaration failed", "writeback_commands failed")):
        return (
            f"a hook of {dist} raised: make its writeback_* hooks return descriptors "
            "without raising or doing I/O"
        )
    if error.startswith("not a valid plugin"):
        return f"fix {dist}'s hook implementations: only writeback_* hooks marked @hookimpl"
    if "fix" in error:  # a conformance problem already says what to fix
        return f"'writeback plugins check' lists every problem of {dist}"
    return f"fix it in {dist}; 'writeback plugins check' lists every problem"


def with_advice(dist: str, error: str) -> str:
    """``error`` followed by what to fix, unless it already says (a conformance
    problem, a duplicate name); for ``writeback plugins check``'s lines."""
    if "fix" in error or "uninstall" in error:
        return error
    return f"{error.rstrip('.')}; {load_advice(dist, error)}."
