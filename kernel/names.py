"""The rules every named thing of the controller follows: identities, CAs, roles."""

from __future__ import annotations

from collections.abc import Iterable

MAX_NAME_LENGTH = 255


def clean_name(name: str, noun: str) -> str:
    """`name` trimmed, or ValueError saying what is wrong with it; `noun` is "an identity", ..."""
    name = name.strip()
    if not name:
        raise ValueError(f"{noun} needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{noun} name may have at most {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise ValueError(f"{noun} name may not contain control characters")
    return name


def clean_role_attributes(values: Iterable[str]) -> list[str]:
    """Trimmed, non-empty, without duplicates, in the order given."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
