"""Use cases of authentication: opening and using API sessions with a certificate.

The only module that writes ApiSession rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from cryptography import x509
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from authorities.models import CaUse, RevokedCertificate
from authorities.pki import load_pki
from enrollment import errors
from enrollment.models import ApiSession
from identities.models import Authenticator, Identity
from identities.services import identity_disabled
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
        now = timezone.now()
        identity.api_sessions.filter(
            Q(last_activity_at__lte=now - ApiSession.idle_timeout())
            | Q(created_at__lte=now - ApiSession.max_age())
        ).delete()
        session = ApiSession.objects.create(
            identity=identity, authenticator=authenticator, token_hash=_session_token_hash(token)
        )
    return OpenedSession(session=session, token=token, authenticator=authenticator)


def current_api_session(token: str | None) -> ApiSession:
    """The live session for a zt-session token; using it restarts the idle clock.

    A session is only as good as what it was opened with: on every use, in the one
    query that finds it, its identity must still be enabled and its authenticator
    still there, unexpired and not revoked, with its CA (if any) still allowing authentication.
    Otherwise the session is deleted and the request is UNAUTHORIZED. Sessions end
    after ZITI_API_SESSION_IDLE_MINUTES unused and ZITI_API_SESSION_MAX_MINUTES in all.
    """
    if not token:
        raise errors.Unauthorized()
    now = timezone.now()
    session = (
        ApiSession.objects.select_related("identity", "authenticator", "authenticator__ca")
        .filter(token_hash=_session_token_hash(token))
        .first()
    )
    if session is None:
        raise errors.Unauthorized()
    why = _session_ended(session, now)
    if why is not None:
        session.delete()
        raise errors.Unauthorized(f"the API session has ended: {why}")
    ApiSession.objects.filter(pk=session.pk).update(last_activity_at=now)
    session.last_activity_at = now
    return session


def _session_ended(session: ApiSession, now: dt.datetime) -> str | None:
    authenticator = session.authenticator
    if session.last_activity_at <= now - ApiSession.idle_timeout():
        return "it was idle too long"
    if session.created_at <= now - ApiSession.max_age():
        return "it reached its maximum lifetime"
    if session.identity.is_disabled:
        return "the identity is disabled"
    if authenticator is None:
        return "its certificate is no longer an authenticator"
    if authenticator.not_after <= now:
        return "its certificate has expired"
    if authenticator.is_internal and RevokedCertificate.objects.is_revoked(authenticator.serial):
        return "the certificate this session was opened with has been revoked"
    ca = authenticator.ca
    if ca is not None and (refusal := ca.refusal_as_loaded(CaUse.AUTHENTICATION)) is not None:
        return f"the certificate's CA {refusal}"
    return None


@receiver(identity_disabled)
def _end_sessions_of_disabled(sender: object, identity: Identity, **_: object) -> None:
    """Disabling an identity ends its sessions at once, not at their next use."""
    ApiSession.objects.filter(identity=identity).delete()
