"""Short random identifiers, like the ones OpenZiti gives its entities."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 10) -> str:
    """A random base62 id: 10 characters carry about 59 bits.

    One draw of a number below 62**length, written in base 62: as uniform as a choice per
    character, and one call to the system's random source instead of `length` (seeding a
    million identities spent a quarter of its time here).
    """
    value = secrets.randbelow(len(_ALPHABET) ** length)
    digits = []
    for _ in range(length):
        value, digit = divmod(value, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(digits)
