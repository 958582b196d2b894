"""SQLite storage: schema and migrations, records and attachments, the OCR work queue."""

from .db import DB_FILE, connect, transaction

__all__ = ["DB_FILE", "connect", "transaction"]
