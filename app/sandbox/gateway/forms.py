"""Stripe's form encoding: ``metadata[invoice]=1045``, ``expand[0]=latest_charge``.

Stripe's SDKs send every parameter form-encoded, nesting objects with brackets and arrays
with indices (``expand[0]``) or empty brackets (``expand[]``). This turns such a body or
query string back into nested dicts and lists, the way Stripe's servers read it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormError", "decode_form"]

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A parameter name that is not valid bracket notation."""


def decode_form(text: str) -> dict[str, Any]:
    """Decode a form-encoded body into nested dicts/lists of strings."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        match = _KEY_RE.match(raw_key)
        if not match:
            raise FormError(f"Invalid parameter name: {raw_key}")
        parts = [match.group(1), *_PART_RE.findall(match.group(2))]
        _assign(root, parts, value, raw_key)
    return _listify(root)  # type: ignore[no-any-return]


def _assign(node: dict[str, Any], parts: list[str], value: str, raw_key: str) -> None:
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if part == "":
            # ``a[]=x``: append under the next free index.
            part = str(sum(1 for k in node if k.isdigit()))
        if last:
            if isinstance(node.get(part), dict):
                raise FormError(f"Parameter {raw_key} is both a value and an object")
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise FormError(f"Parameter {raw_key} is both a value and an object")
        node = child


def _listify(node: Any) -> Any:
    """Dicts whose keys are exactly 0..n-1 become lists (Stripe's indexed arrays)."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        indices = sorted(int(k) for k in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted
