"""A fresh PostgreSQL database per benchmark run, dropped at the end."""

from __future__ import annotations

import os
import urllib.parse

import psycopg
from psycopg import sql

DEFAULT_URL = "postgres://ziti:ziti@127.0.0.1:5432/ziti"
CONNECT_TIMEOUT_S = 5


class PostgresUnavailable(Exception):
    pass


def redacted(url: str) -> str:
    """The URL without its password, fit for output."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def _admin_connection(url: str) -> psycopg.Connection:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise PostgresUnavailable(f"the benchmark only talks to this machine, not to {host}")
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"cannot connect to {redacted(url)}: {str(exc).strip()}") from exc


def database_name() -> str:
    return f"ziti_bench_{os.getpid()}"


def create_bench_database(url: str) -> str:
    """Create a fresh `ziti_bench_<pid>` (the role needs CREATEDB); return its URL.

    Raises PostgresUnavailable when the server cannot be reached or refuses.
    """
    name = sql.Identifier(database_name())
    with _admin_connection(url) as admin:
        try:
            # A leftover of a killed run with the same pid would otherwise make CREATE fail.
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
        except psycopg.Error as exc:
            raise PostgresUnavailable(
                f"cannot create database {database_name()}: {str(exc).strip()}"
            ) from exc
    return _with_database(url, database_name())


def drop_bench_database(url: str) -> str | None:
    """Drop the database create_bench_database made; the error, if that failed."""
    try:
        with _admin_connection(url) as admin:
            # FORCE: a server killed mid-run may have left connections behind.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name()))
            )
    except (PostgresUnavailable, psycopg.Error) as exc:
        return str(exc).strip()
    return None
