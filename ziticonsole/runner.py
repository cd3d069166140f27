"""Running the HTTPS server until told to stop."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from authorities.pki import load_pki
from authorities.services import third_party_ca_pems
from authorities.truststore import TrustStore
from ziticonsole.server import ControllerServer

log = logging.getLogger(__name__)


def build_server(bind: str, port: int, *, reuse_port: bool = False) -> ControllerServer:
    """An HTTPS server for the Django app on (bind, port); port 0 picks a free one."""
    trust_store = TrustStore(load_pki(), third_party_ca_pems)
    return ControllerServer(
        (bind, port),
        get_wsgi_application(),
        trust_store,
        threads=settings.ZITI_SERVER_THREADS,
        reuse_port=reuse_port,
    )


def serve(bind: str, port: int) -> None:
    server = build_server(bind, port)
    log.info("serving on https://%s:%s", bind, port)
    server.safe_start()
