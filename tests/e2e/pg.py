"""A throwaway PostgreSQL server for the end-to-end tests.

scripts/test.sh starts one server for the whole suite and exports
MILLRACE_TEST_PG_DSN; run alone (plain pytest), `server()` starts a private
one with scripts/pg_test_server.sh and stops it afterwards.  Either way each
test gets its own database (`database()`), so tests never see each other's
tables.
"""
import contextlib
import os
import subprocess
import tempfile
import uuid

import psycopg

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "pg_test_server.sh"


@contextlib.contextmanager
def server():
    """Yields the DSN of a PostgreSQL server: $MILLRACE_TEST_PG_DSN or a private one."""
    dsn = os.environ.get("MILLRACE_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    folder = tempfile.mkdtemp(prefix="millrace-pg-")
    r = subprocess.run([str(SCRIPT), "start", folder], capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run([str(SCRIPT), "stop", folder], capture_output=True)
        raise RuntimeError("cannot start a PostgreSQL server (run through scripts/test.sh or set "
                           f"MILLRACE_TEST_PG_DSN): {r.stderr.strip()}")
    dsn = next(l.split("=", 1)[1] for l in r.stdout.splitlines()
               if l.startswith("MILLRACE_TEST_PG_DSN="))
    try:
        yield dsn
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], capture_output=True)


@contextlib.contextmanager
def database(server_dsn):
    """Creates a fresh database; yields its DSN; drops it afterwards."""
    name = "e2e_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_dsn, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_dsn} dbname={name}"
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(dsn, sql, params=None):
    """All rows of sql, as tuples of Python values (Decimal, datetime, ...)."""
    with psycopg.connect(dsn) as con:
        return con.execute(sql, params).fetchall()
