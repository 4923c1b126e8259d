"""Persistence in the state directory (SQLite): see `db.py`; the ledger of commands in
`ledger.py`."""
