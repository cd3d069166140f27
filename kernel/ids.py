"""Short random identifiers, like the ones OpenZiti gives its entities."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 10) -> str:
    """A random base62 id: 10 characters carry about 59 bits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
