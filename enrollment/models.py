"""API sessions: what a device holds after authenticating with its certificate."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from identities.models import Authenticator, Identity
from kernel.ids import new_id


class TokenSession(models.Model):
    """What every API session holds: a token, known only by its SHA-256 (the token is
    256 random bits, so a fast hash is enough, and a database leak does not hand out
    live sessions), and when it opened and was last used."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @staticmethod
    def idle_timeout() -> dt.timedelta:
        return dt.timedelta(minutes=settings.ZITI_API_SESSION_IDLE_MINUTES)

    @staticmethod
    def max_age() -> dt.timedelta:
        return dt.timedelta(minutes=settings.ZITI_API_SESSION_MAX_MINUTES)

    @property
    def expires_at(self) -> dt.datetime:
        """The sooner of the idle and the absolute end."""
        return min(self.last_activity_at + self.idle_timeout(), self.created_at + self.max_age())


class ApiSession(TokenSession):
    """An API session opened by certificate authentication (devices, admin identities)."""

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="api_sessions")
    # The certificate it was opened with: replacing or removing that authenticator
    # (reset, delete) ends the session. None for sessions older than this field.
    authenticator = models.ForeignKey(
        Authenticator, null=True, blank=True, on_delete=models.CASCADE, related_name="api_sessions"
    )

    class Meta(TokenSession.Meta):
        pass

    def __str__(self) -> str:
        return f"API session {self.id} of {self.identity_id}"


class AdminApiSession(TokenSession):
    """A management API session opened by an admin account's password."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_sessions")

    class Meta(TokenSession.Meta):
        pass

    def __str__(self) -> str:
        return f"admin API session {self.id} of user {self.user_id}"
