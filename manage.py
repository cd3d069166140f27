#!/usr/bin/env python
"""Django's command-line utility for the Ziti identity controller."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ziticonsole.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from environs import EnvError

    try:
        execute_from_command_line(sys.argv)
    except (EnvError, ImproperlyConfigured) as exc:
        # A setting the operator got wrong: one line that names it, not a traceback.
        sys.exit(f"configuration error: {exc}")


if __name__ == "__main__":
    main()
