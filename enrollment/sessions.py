"""Use cases of authentication: opening and using API sessions with a certificate.

The only module that writes ApiSession rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from cryptography import x509
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from authorities.models import CaUse, RevokedCertificate
from authorities.pki import load_pki
from enrollment import errors
from enrollment.models import AdminApiSession, ApiSession
from identities.models import Authenticator, Identity
from identities.services import identity_disabled
from kernel.actors import Actor
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


def authenticate_with_certificate(
    certificate: x509.Certificate | None, *, admin_only: bool = False
) -> OpenedSession:
    """Open an API session for the identity that owns the presented certificate.

    Internal certificates are re-verified against the internal PKI and must not be
    revoked (one lookup on the revocation table's unique serial, so a revocation counts
    on every worker and replica at once); third-party ones against their CA, which must
    be usable for authentication now. Disabled or unknown identities and unusable or
    revoked certificates all get INVALID_AUTH; with `admin_only` (the management API),
    so do identities not flagged admin.
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
    if admin_only and not identity.is_admin:
        raise errors.InvalidAuth("the identity is not an admin")
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


# The management API: admin accounts by password, admin identities by certificate.


@dataclass(frozen=True)
class LiveSession:
    """A live API session: a device's or admin identity's (ApiSession), or an admin account's."""

    session: AdminApiSession | ApiSession
    user: AbstractBaseUser | None  # the admin account, for a password session
    identity: Identity | None  # the admin identity, for a certificate session
    token: str | None = None  # only right after authenticating, shown once

    def actor(self, address: str | None) -> Actor:
        """Who the API's service calls run for (kernel.actors)."""
        if self.user is not None:
            return Actor(
                "admin",
                self.user.get_username(),
                ref=str(self.user.pk),
                address=address,
                channel="management-api",
            )
        assert self.identity is not None
        return Actor(
            "identity", self.identity.name, ref=self.identity.id, address=address, channel="management-api"
        )


def authenticate_admin_with_password(request: HttpRequest, username: str, password: str) -> LiveSession:
    """Open a management API session for a console admin account.

    The console's own check (django.contrib.auth with django-axes first): failures count
    per account and per address, and past ZITI_LOGIN_FAILURE_LIMIT both are refused
    with RATE_LIMITED until the cool-off ends, whatever the password. Otherwise a wrong
    account or password is INVALID_AUTH, in the same words either way.
    """
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise errors.RateLimited()
    if user is None:
        raise errors.InvalidAuth("the username or password is wrong")
    # As a console login does: django-axes resets the account's failures, and whatever
    # records logins sees this one. No Django session is made: the token is the session.
    user_logged_in.send(sender=type(user), request=request, user=user)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Ended sessions of this account go, so scripts that log in often leave none behind.
        now = timezone.now()
        AdminApiSession.objects.filter(
            Q(user=user, last_activity_at__lte=now - ApiSession.idle_timeout())
            | Q(user=user, created_at__lte=now - ApiSession.max_age())
        ).delete()
        session = AdminApiSession.objects.create(user=user, token_hash=_session_token_hash(token))
    return LiveSession(session=session, user=user, identity=None, token=token)


def authenticate_admin_with_certificate(certificate: x509.Certificate | None) -> LiveSession:
    """Open an API session for an identity flagged admin, by its certificate; the
    client API's rules (authenticate_with_certificate) apply in full."""
    opened = authenticate_with_certificate(certificate, admin_only=True)
    return LiveSession(
        session=opened.session, user=None, identity=opened.session.identity, token=opened.token
    )


def current_management_session(token: str | None) -> LiveSession:
    """The live management session for a zt-session token; using it restarts its idle
    clock. An admin account's session ends after the same idle and maximum times as a
    device's, and with its account (deleted or deactivated). An identity's session
    follows current_api_session, and the identity must still be an admin. Otherwise
    UNAUTHORIZED."""
    if not token:
        raise errors.Unauthorized()
    now = timezone.now()
    admin = (
        AdminApiSession.objects.select_related("user").filter(token_hash=_session_token_hash(token)).first()
    )
    if admin is None:
        session = current_api_session(token)
        if not session.identity.is_admin:
            raise errors.Unauthorized("the identity of this API session is not an admin")
        return LiveSession(session=session, user=None, identity=session.identity)
    if (
        admin.last_activity_at <= now - ApiSession.idle_timeout()
        or admin.created_at <= now - ApiSession.max_age()
    ):
        admin.delete()
        raise errors.Unauthorized(
            "the API session has ended: it was idle too long or reached its maximum lifetime"
        )
    if not admin.user.is_active:
        admin.delete()
        raise errors.Unauthorized("the API session has ended: its account is inactive")
    AdminApiSession.objects.filter(pk=admin.pk).update(last_activity_at=now)
    admin.last_activity_at = now
    return LiveSession(session=admin, user=admin.user, identity=None)


def end_management_session(session: LiveSession) -> None:
    """Log out: the token stops working at once."""
    session.session.delete()
