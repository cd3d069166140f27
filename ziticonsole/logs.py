"""Log lines that a request cannot forge.

Paths, methods and headers reach log messages; percent-decoded, they can hold a
newline and so write a line of their own (`/enroll?method=x%0A... CRITICAL ...`).
Every message is escaped once, in the formatter, so no call site can forget.
"""

from __future__ import annotations

import logging

# C0 controls, DEL and the C1 controls, plus the Unicode line and paragraph separators.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_UNPRINTABLE.update({0x2028: "\\u2028", 0x2029: "\\u2029", ord("\\"): "\\\\"})


def printable(value: object) -> str:
    """`value` as one line of printable text: controls become backslash escapes."""
    return str(value).translate(_UNPRINTABLE)


class SingleLineFormatter(logging.Formatter):
    """Escapes the message; a traceback, written by our own code's failures, stays as is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
