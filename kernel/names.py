"""The rules every named thing of the controller follows: identities, CAs, roles.

Forms, commands and the management API all reach these through the services, so a
value refused in one place is refused in every other.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_NAME_LENGTH = 255
# Policies match role attributes by equality; longer ones are mistakes (a pasted file),
# and they stretch every page that lists them.
MAX_ROLE_ATTRIBUTE_LENGTH = 100
MAX_ROLE_ATTRIBUTES = 100


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
    """Trimmed, non-empty, without duplicates, in the order given.

    ValueError names the first attribute that is too long or holds a control character
    (shown escaped, so a newline reads as \\n), or says there are too many.
    """
    cleaned = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    for attribute in cleaned:
        if len(attribute) > MAX_ROLE_ATTRIBUTE_LENGTH:
            raise ValueError(
                f'the role attribute "{attribute[:20]}…" has {len(attribute)} characters; '
                f"at most {MAX_ROLE_ATTRIBUTE_LENGTH} are allowed"
            )
        if not attribute.isprintable():
            shown = attribute.encode("unicode_escape").decode("ascii")
            raise ValueError(f'the role attribute "{shown}" contains a control character')
    if len(cleaned) > MAX_ROLE_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ROLE_ATTRIBUTES} role attributes are allowed, got {len(cleaned)}")
    return cleaned
