"""The SQL metadata store (SQLite by default, PostgreSQL for scale), on SQLAlchemy 2 Core.

`store.py` (the class), `metrics.py` (hot paths), `search.py` (run search),
`engine.py` (engines and SQLite rules), `migrate.py` (schema versions),
`schema.py` (tables at head). Imported only by `store.factory.open_store`.
"""
