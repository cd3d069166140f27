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

from authorities.models import CaUse, RevokedCertificate
from authorities.pki import load_pki
from enrollment import errors
from enrollment.models import ApiSession
from identities.models import Authenticator
from kernel.certificates import CertificateRejected, sha1_fingerprint, verify_client_certificate


def _session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    session: ApiSession
    token: str  # shown once, to the client that authenticated
    authenticator: Authenticator


def authenticate_with_certificate(certificate: x509.Certificate | None) -> OpenedSession:
    """Open an API session for the identity that owns the presented certificate.

    Internal certificates are re-verified against the internal PKI and must not be
    revoked (one lookup on the revocation table's unique serial, so a revocation counts
    on every worker and replica at once); third-party ones against their CA, which must
    be usable for authentication now. Disabled or unknown identities and unusable or
    revoked certificates all get INVALID_AUTH.
    """
    if certificate is None:
        raise errors.InvalidAuth("no client certificate was presented")
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
    if ca is None and RevokedCertificate.objects.is_revoked(authenticator.serial):
        raise errors.InvalidAuth("the certificate has been revoked")
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
        session = ApiSession.objects.create(
            identity=identity, authenticator=authenticator, token_hash=_session_token_hash(token)
        )
    return OpenedSession(session=session, token=token, authenticator=authenticator)


def current_api_session(token: str | None) -> ApiSession:
    """The live session for a zt-session token; using it restarts the idle clock.

    Raises UNAUTHORIZED without a token, for an unknown or idle one, for a disabled
    identity, and once the session's certificate is revoked.
    """
    if not token:
        raise errors.Unauthorized()
    now = timezone.now()
    session = (
        ApiSession.objects.select_related("identity", "authenticator")
        .filter(token_hash=_session_token_hash(token), last_activity_at__gt=now - ApiSession.IDLE_TIMEOUT)
        .first()
    )
    if session is None or session.identity.is_disabled:
        raise errors.Unauthorized()
    authenticator = session.authenticator
    # A session outlives neither its certificate's revocation nor (by cascade) its
    # authenticator's removal.
    if (
        authenticator is not None
        and authenticator.is_internal
        and RevokedCertificate.objects.is_revoked(authenticator.serial)
    ):
        raise errors.Unauthorized("the certificate this session was opened with has been revoked")
    ApiSession.objects.filter(pk=session.pk).update(last_activity_at=now)
    session.last_activity_at = now
    return session
