"""Use cases of authentication: opening and using API sessions with a certificate.

The only module that writes ApiSession rows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from cryptography import x509
from django.db import transaction
from django.utils import timezone

from authorities.models import CaUse
from authorities.pki import load_pki
from enrollment import errors
from enrollment.models import ApiSession
from identities.models import Authenticator
from kernel.certificates import (
    END_ENTITY_ONLY,
    CertificateRejected,
    is_ca_certificate,
    sha1_fingerprint,
    verify_client_certificate,
)


def _session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    session: ApiSession
    token: str  # shown once, to the client that authenticated


def authenticate_with_certificate(certificate: x509.Certificate | None) -> OpenedSession:
    """Open an API session for the identity that owns the presented certificate.

    Internal certificates are re-verified against the internal PKI; third-party ones
    against their CA, which must be usable for authentication now. Disabled or
    unknown identities and unusable certificates all get INVALID_AUTH.
    """
    if certificate is None:
        raise errors.InvalidAuth("no client certificate was presented")
    if is_ca_certificate(certificate):
        # Refused before any look-up: also one recorded before this rule existed.
        raise errors.CertFailedValidation(END_ENTITY_ONLY)
    authenticator = (
        Authenticator.objects.select_related("identity", "ca")
        .filter(fingerprint=sha1_fingerprint(certificate))
        .first()
    )
    if authenticator is None:
        raise errors.InvalidAuth("the certificate does not belong to any identity")
    identity = authenticator.identity
    if identity.is_disabled:
        raise errors.InvalidAuth("the identity is disabled")
    ca = authenticator.ca
    if ca is not None and (refusal := ca.refusal(CaUse.AUTHENTICATION)) is not None:
        raise errors.InvalidAuth(f"the certificate's CA does not allow authentication: it {refusal}")
    pki = load_pki()
    anchors, intermediates = ([ca.certificate], []) if ca else ([pki.root_cert], [pki.signing_cert])
    try:
        verify_client_certificate(certificate, anchors, intermediates)
    except CertificateRejected as exc:
        raise errors.InvalidAuth(str(exc)) from exc
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Sessions idle past the timeout are dead; drop this identity's, so devices that
        # authenticate again and again do not pile them up.
        identity.api_sessions.filter(last_activity_at__lte=timezone.now() - ApiSession.IDLE_TIMEOUT).delete()
        session = ApiSession.objects.create(identity=identity, token_hash=_session_token_hash(token))
    return OpenedSession(session=session, token=token)


def current_api_session(token: str | None) -> ApiSession:
    """The live session for a zt-session token; using it restarts the idle clock."""
    if not token:
        raise errors.Unauthorized()
    now = timezone.now()
    session = (
        ApiSession.objects.select_related("identity")
        .filter(token_hash=_session_token_hash(token), last_activity_at__gt=now - ApiSession.IDLE_TIMEOUT)
        .first()
    )
    if session is None or session.identity.is_disabled:
        raise errors.Unauthorized()
    ApiSession.objects.filter(pk=session.pk).update(last_activity_at=now)
    session.last_activity_at = now
    return session
