"""Turning command-line arguments into CAs, with a clear sentence when that fails."""

from django.core.management.base import CommandError

from authorities.models import CertificateAuthority


def ca_by_name(name: str) -> CertificateAuthority:
    ca = CertificateAuthority.objects.filter(name=name).first()
    if ca is None:
        raise CommandError(f'no certificate authority is named "{name}"')
    return ca
