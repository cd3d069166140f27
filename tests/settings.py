"""Test settings: the real settings, pointed at a throw-away data directory."""

import os
import tempfile

os.environ.setdefault("ZITI_DATA_DIR", tempfile.mkdtemp(prefix="ziti-test-"))
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make beside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from ziticonsole.settings import *  # noqa: F403
from ziticonsole.settings import DATA_DIR, DATABASES

# A file, not SQLite's shared in-memory database, so the threaded test server and
# concurrent clients see one database with real locking.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

# Server threads in tests must let go of their connections when a request ends, or the
# test database could not be dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Hashing passwords slowly is a production virtue and a test-suite vice.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
