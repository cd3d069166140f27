"""The enrollment, step by step, in the order trust is established (wire-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import client, identity_file, methods, tokens, trust

Say = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    jwt_source: str  # a path, or "-" for stdin
    out: Path
    method: methods.MethodOptions = field(default_factory=methods.MethodOptions)
    timeout: float = 30.0


@dataclass(frozen=True)
class Reporter:
    """Where messages go: `say` always, `step` only with -v."""

    say: Say
    verbose: bool = False

    def step(self, name: str, detail: str) -> None:
        if self.verbose:
            self.say(f"[{name}] {detail}")


def enroll(options: Options, report: Reporter, stdin: TextIO | None = None) -> Path:
    """Run the whole flow; raises EnrollerError subclasses. Returns the file written."""
    # Cheap local checks first: no network work for an enrollment we could not save.
    identity_file.ensure_can_create(options.out)
    source = "standard input" if options.jwt_source == "-" else options.jwt_source
    report.step("parse", f"reading the enrollment JWT from {source}")
    token = tokens.parse_token(tokens.read_jwt(options.jwt_source, stdin))
    method = methods.method_for(token, options.method)
    report.say(f"enrolling {_describe(token)} with controller {token.controller.url}")

    leaf = _authenticate_controller(token, options.timeout, report)
    bundle_pem = _fetch_ca_bundle(token, leaf, options.timeout, report)
    channel = client.Channel(token.controller, bundle_pem, options.timeout, method.client_cert())
    material = method.enroll(token, channel, report.step)

    report.step("write", f"writing the identity file {options.out} (mode 0600)")
    data = identity_file.render(token.controller.url, material.key_pem, material.cert_pem, bundle_pem)
    identity_file.write_new(options.out, data)
    report.say(f"enrolled: identity file written to {options.out}")
    return options.out


def _describe(token: tokens.EnrollmentToken) -> str:
    name = f'"{token.name}" ' if token.name else ""
    if token.method == "ca":
        return f"a new identity through CA {name}({token.subject})"
    return f"identity {name}({token.subject}) by {token.method}"


def _authenticate_controller(
    token: tokens.EnrollmentToken, timeout: float, report: Reporter
) -> trust.ServerLeaf:
    """The leaf the controller presents, once it has proven it signed the JWT."""
    report.step("fetch controller cert", f"TLS to {token.controller.netloc}, taking the leaf unverified")
    leaf = trust.load_leaf(client.fetch_leaf(token.controller, timeout))
    report.step("verify JWT", "checking the signature (RS256) with the controller's key, and the expiry")
    trust.check_leaf(leaf.cert, token.controller, trust.now())
    tokens.verify_token(token, leaf.cert.public_key())
    return leaf


def _fetch_ca_bundle(
    token: tokens.EnrollmentToken,
    leaf: trust.ServerLeaf,
    timeout: float,
    report: Reporter,
) -> str:
    """The CA bundle, trusted because it comes from the authenticated key and covers it."""
    report.step("fetch CA bundle", f"GET {client.CACERTS_PATH} from {token.controller.url}")
    bundle = trust.parse_ca_bundle(client.get_ca_bundle(token.controller, leaf.der, timeout))
    trust.check_chain(leaf.cert, bundle, token.controller)
    return trust.certs_to_pem(bundle)
