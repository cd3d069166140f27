"""Command line: `python -m enrollment.enroller --jwt FILE|- --out FILE [options]` to
enroll, `python -m enrollment.enroller renew --identity FILE [--keep-key]` to renew.

Progress goes to stdout; a failure is exactly one line on stderr, "error: <sentence>",
with an exit code from EXIT_CODES, the only place errors meet exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, NoReturn, TextIO

from . import errors, keys
from .flow import Options, Reporter, enroll
from .methods import MethodOptions
from .renew import RenewOptions, renew

EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug or an unforeseen condition
EXIT_USAGE = 2  # as argparse uses
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class ExitCode(NamedTuple):
    error: type[errors.EnrollerError]
    code: int
    meaning: str  # for --help


# The one place errors meet exit codes. Most specific class first: the first match wins.
EXIT_CODES: list[ExitCode] = [
    ExitCode(errors.UsageError, EXIT_USAGE, "wrong or missing options"),
    ExitCode(errors.InputUnreadable, 3, "the JWT, certificate or key file cannot be read"),
    ExitCode(errors.TokenMalformed, 4, "the JWT is malformed or of an unknown method"),
    ExitCode(errors.OutputExists, 5, "the output file exists (it is never overwritten)"),
    ExitCode(errors.OutputError, 6, "the output file cannot be written"),
    ExitCode(errors.ControllerUnreachable, 7, "the controller cannot be reached"),
    ExitCode(errors.TokenForged, 8, "the JWT was not signed by the controller's key"),
    ExitCode(errors.ControllerNotTrusted, 9, "the controller's certificate or TLS cannot be trusted"),
    ExitCode(errors.TokenExpired, 10, "the JWT has expired"),
    ExitCode(errors.EnrollmentRefused, 11, "the controller refused the enrollment"),
    ExitCode(errors.ProtocolError, 12, "the controller's reply breaks the protocol"),
]
EXIT_CODE_OF = {entry.error: entry.code for entry in EXIT_CODES}


def exit_code(error: errors.EnrollerError) -> int:
    return next((entry.code for entry in EXIT_CODES if isinstance(error, entry.error)), EXIT_INTERNAL)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one "error:" line like every other failure."""

    def error(self, message: str) -> NoReturn:
        raise errors.UsageError(f"{message} (see --help)")


def _exit_code_help() -> str:
    rows = [
        (EXIT_OK, "enrolled"),
        *((e.code, e.meaning) for e in EXIT_CODES),
        (EXIT_INTERNAL, "anything else"),
    ]
    return "\n".join(["exit codes:", *(f"  {code:>3}  {meaning}" for code, meaning in rows)])


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m enrollment.enroller",
        description="Enroll this device with a Ziti controller and write its identity file.",
        epilog=_exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--jwt", required=True, metavar="FILE", help='the enrollment JWT file, or "-" for stdin'
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the identity file to create")
    parser.add_argument("--key-type", choices=keys.KEY_TYPES, default="ec", help="key to generate (ott)")
    parser.add_argument("--rsa-bits", type=int, choices=keys.RSA_BITS, default=2048, help="RSA key size")
    parser.add_argument("--cert", type=Path, metavar="FILE", help="device certificate PEM (ottca, ca)")
    parser.add_argument("--key", type=Path, metavar="FILE", help="device private key PEM (ottca, ca)")
    parser.add_argument("--idname", metavar="NAME", help="requested identity name (ca)")
    parser.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS", help="per connection")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each step")
    return parser


def build_renew_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m enrollment.enroller renew",
        description=(
            "Renew the certificate of an enrolled identity over mutual TLS (extend, then "
            "extend-verify) and rewrite its identity file in place. On any failure the old "
            "file is left as it was, and keeps working."
        ),
        epilog=_exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--identity", required=True, type=Path, metavar="FILE", help="the identity file")
    parser.add_argument("--keep-key", action="store_true", help="reuse the current key instead of a new one")
    parser.add_argument("--key-type", choices=keys.KEY_TYPES, default="ec", help="new key to generate")
    parser.add_argument("--rsa-bits", type=int, choices=keys.RSA_BITS, default=2048, help="RSA key size")
    parser.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS", help="per connection")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each step")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        jwt_source=args.jwt,
        out=args.out,
        method=MethodOptions(
            key_type=args.key_type, rsa_bits=args.rsa_bits, cert=args.cert, key=args.key, idname=args.idname
        ),
        timeout=args.timeout,
    )


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the CLI and return its exit code (streams are injectable for tests)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        arguments = list(sys.argv[1:] if argv is None else argv)
        if arguments[:1] == ["renew"]:
            args = build_renew_parser().parse_args(arguments[1:])
            report = Reporter(say=lambda line: print(line, file=out, flush=True), verbose=args.verbose)
            renew(
                RenewOptions(args.identity, args.keep_key, args.key_type, args.rsa_bits, args.timeout), report
            )
            return EXIT_OK
        args = build_parser().parse_args(arguments)  # --help exits 0 here
        report = Reporter(say=lambda line: print(line, file=out, flush=True), verbose=args.verbose)
        enroll(options_from(args), report, stdin)
    except errors.EnrollerError as exc:
        return _fail(err, str(exc), exit_code(exc))
    except KeyboardInterrupt:
        return _fail(err, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # one line even for a bug; -v is not a debugger
        return _fail(err, f"unexpected {type(exc).__name__}: {exc}", EXIT_INTERNAL)
    return EXIT_OK


def _fail(stream: TextIO, sentence: str, code: int) -> int:
    one_line = " ".join(sentence.split())
    print(f"error: {one_line}", file=stream, flush=True)
    return code
