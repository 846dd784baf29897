"""Checked reading of the YAML files people edit (lists/, detectors/): a mistake must point at the file, the
line and the field. The text is composed into nodes, which keep their line numbers, and a ``Checker`` converts
them field by field, collecting every problem as ``file:line: field: message`` (an unknown or misspelt key is an
error, never a silent default), so a check shows them all at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import yaml

#: libyaml's loader when available (about ten times faster); both keep line numbers on nodes.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Checker:
    """Reads one file's node tree, converting fields and collecting ``file:line: field: message``."""

    def __init__(self, file: str, loader: yaml.BaseLoader) -> None:
        self.file = file
        self.loader = loader
        self.problems: list[str] = []

    def problem(self, node: yaml.Node, where: str, message: str) -> None:
        self.problems.append(f"{self.file}:{node.start_mark.line + 1}: {where}: {message}")

    def fields(
        self, node: yaml.Node, where: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where or "(top)", "must be a mapping of fields")
            return None
        required, allowed = set(required), set(required) | set(optional)
        explicit: set[str] = set()
        for key_node, _ in node.value:
            if key_node.value in explicit:
                self.problem(key_node, f"{where}.{key_node.value}" if where else key_node.value, "appears twice")
            explicit.add(key_node.value)
        self.loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor): later keys override merged ones
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                self.problem(
                    key_node,
                    f"{where}.{key}" if where else key,
                    f"unknown field; allowed here: {', '.join(sorted(allowed))}",
                )
            else:
                found[key] = value_node
        for key in sorted(required - set(found)):
            self.problem(node, f"{where}.{key}" if where else key, "is required")
        return found

    def value(self, node: yaml.Node) -> object:
        """The node's Python value; a scalar YAML cannot construct (2025-02-30) stays text for the field check."""
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError):
            return node.value if isinstance(node, yaml.ScalarNode) else None

    def text(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None:
            return None
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.problem(node, where, "must be a non-empty text")
            return None
        return value.strip()

    def optional_text(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return None
        return self.text(node, where)

    def boolean(self, node: yaml.Node | None, where: str, default: bool) -> bool:
        if node is None:
            return default
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.problem(node, where, "must be true or false")
            return default
        return value

    def choice(self, node: yaml.Node | None, where: str, choices: Sequence[str], default: str | None = None) -> str:
        if node is None:
            return default or choices[0]
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if value not in choices:
            self.problem(node, where, f"{value!r} is not one of: {', '.join(repr(c) for c in choices)}")
            return default or choices[0]
        return str(value)

    def items(self, node: yaml.Node | None, where: str, *, allow_empty: bool = True) -> list[yaml.Node]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, where, "must be a list")
            return []
        if not node.value and not allow_empty:
            self.problem(node, where, "must not be empty")
        return list(node.value)

    def texts(self, node: yaml.Node | None, where: str, *, allow_empty: bool = True) -> tuple[str, ...]:
        out = (
            self.text(item, f"{where}[{i}]") for i, item in enumerate(self.items(node, where, allow_empty=allow_empty))
        )
        return tuple(t for t in out if t is not None)
