"""The CA list of the console: filtered and sorted in Python, over every CA.

CAs number in the tens, and the expiry they sort by lives in their PEM, not in a column;
one query reads them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authorities.models import CaUse, CertificateAuthority

# The columns each sort compares; the name (unique) breaks ties, so the order is stable.
CA_SORTS: dict[str, Callable[[CertificateAuthority], Any]] = {
    "name": lambda ca: (ca.name.lower(), ca.name),
    "state": lambda ca: (ca.is_verified, ca.name.lower()),
    "expiry": lambda ca: (ca.expires_at, ca.name.lower()),
    "created": lambda ca: (ca.created_at, ca.pk),
}
DEFAULT_CA_SORT = "name"
CA_USES = {"ott": CaUse.OTT_ENROLLMENT, "auto": CaUse.AUTO_ENROLLMENT, "auth": CaUse.AUTHENTICATION}


def listed_certificate_authorities(
    *, q: str | None = None, state: str | None = None, use: str | None = None, sort: str = DEFAULT_CA_SORT
) -> list[CertificateAuthority]:
    """The CAs the console list shows. `q` matches a part of the name or fingerprint
    (ignoring case and colons), `state` is "verified" or "unverified", `use` one of
    CA_USES switched on. Raises KeyError for a sort or use the form does not offer."""
    cas = CertificateAuthority.objects.all()
    if state:
        cas = cas.filter(is_verified=state == "verified")
    if use:
        cas = cas.filter(**{CA_USES[use].flag: True})
    listed = list(cas)
    if q:
        wanted = q.lower().replace(":", "")
        listed = [ca for ca in listed if wanted in ca.name.lower() or wanted in ca.fingerprint.lower()]
    return sorted(listed, key=CA_SORTS[sort.lstrip("-")], reverse=sort.startswith("-"))
