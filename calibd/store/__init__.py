"""Persistence in the state directory (SQLite): the database (`db.py`), its schema
(`migrations.py`), the single writer (`writer.py`) and what is recorded through it."""
