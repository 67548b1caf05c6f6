"""Alembic migration scripts of the SQL store (run by `store/sql/migrate.py`, never by hand).

Revision ids are zero-padded schema versions ("0001", "0002", ...), so the
version of a database is `int(revision)` and its pre-migration backup is
`<db>.bak-v<N>`. One head only: a test checks it.
"""
