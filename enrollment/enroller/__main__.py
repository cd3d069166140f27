"""`python -m enrollment.enroller`: see cli.py."""

from .cli import main

raise SystemExit(main())
