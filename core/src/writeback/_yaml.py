"""Loading connector rows written in YAML, bounded.

YAML aliases are allowed (rows may share an ``auth`` block or merge
``<<: *defaults``), but an alias is a pointer: nine lines of aliases to aliases
stand for a billion values, and whatever walks the loaded rows (validation, an
error message) walks them all.  So the composed document is measured with
every alias expanded, without expanding anything, and refused past
``MAX_YAML_VALUES``; an alias that refers to itself is refused too.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from ._errors import InputFileError
from ._limits import MAX_YAML_VALUES, depth_sentence, int_sentence

__all__ = ["load_yaml"]

#: Longer integer scalars are refused before Python is asked to read them.
_MAX_INT_TEXT = 100

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    def __init__(self, sentence: str, node: Node) -> None:
        super().__init__(f"{sentence.rstrip('.')} (line {node.start_mark.line + 1}).")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node) -> None:
    """Count the values ``root`` stands for with aliases expanded; each shared node
    is measured once.  Iterative, so a deep document needs no deep stack."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            entered.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_YAML_VALUES:
                raise _Refused(
                    f"its YAML aliases expand to more than {MAX_YAML_VALUES} values; write "
                    "the rows out, or share less",
                    node,
                )
            sizes[key] = total
        elif key in entered:
            # Only a node's own descendants run between entering and finishing it.
            raise _Refused(
                "a YAML alias is used inside its own anchor, which makes it endless", node
            )
        elif key not in sizes:
            entered.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


class _BoundedLoader(_Base):  # type: ignore[misc,valid-type]
    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    def construct_yaml_int(self, node: Node) -> int:
        if len(str(node.value)) > _MAX_INT_TEXT:
            digits = sum(c.isdigit() for c in str(node.value))
            raise _Refused(int_sentence(f"holds an integer of {digits} digits"), node)
        return int(super().construct_yaml_int(node))


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def load_yaml(text: str, label: str, not_yaml: str) -> Any:
    """The YAML document in ``text``.

    :param not_yaml: the start of the sentence for text that is not YAML either.
    :raises InputFileError: one sentence for text that is not YAML or is refused.
    """
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except _Refused as exc:
        raise InputFileError(f"{label}: {exc}") from None
    except RecursionError:
        raise InputFileError(f"{label}: {depth_sentence('its content')}") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "")):
            raise InputFileError(f"{label}: {depth_sentence('its content')}") from None
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(f"{label}: {not_yaml}{where}.") from None
