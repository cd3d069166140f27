#!/usr/bin/env python
"""Django's command-line utility for the Ziti identity controller."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ziticonsole.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError
    from environs import EnvError

    try:
        execute_from_command_line(sys.argv)
    except (EnvError, ImproperlyConfigured) as exc:
        # A setting the operator got wrong: one line that names it, not a traceback.
        sys.exit(f"configuration error: {exc}")
    except OperationalError as exc:
        # Django's own commands (migrate, shell, ...) before the first start, or a
        # database that is down: say so in one line.
        sys.exit(f"database error: {exc}; start the controller once (make run), or check DATABASE_URL")


if __name__ == "__main__":
    main()
