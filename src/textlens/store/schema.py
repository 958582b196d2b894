"""The SQLite schema, as numbered migrations applied in order."""

from __future__ import annotations

# Each entry is applied once, in its own transaction, and recorded in `migrations`.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL DEFAULT '',
        source TEXT,                      -- e.g. 'watch:<folder>' for records a watcher owns
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        name TEXT NOT NULL,               -- original file name
        path TEXT NOT NULL,               -- relative to the library (copied) or absolute (linked)
        linked INTEGER NOT NULL,
        mime TEXT,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        sha256 TEXT NOT NULL,
        added REAL NOT NULL
    );
    CREATE INDEX attachments_record ON attachments(record_id);
    CREATE INDEX attachments_sha ON attachments(sha256);
    CREATE INDEX attachments_linked ON attachments(linked);

    -- One row per distinct file content: OCR is done once per sha256, whoever attached it.
    CREATE TABLE contents (
        sha256 TEXT PRIMARY KEY,
        mime TEXT,
        size INTEGER NOT NULL,
        state TEXT NOT NULL,              -- pending | running | done | failed | skipped
        reason TEXT,
        page_count INTEGER,               -- NULL until the document has been opened (planned)
        run_id INTEGER,                   -- the run being filled by pending pages
        engine TEXT,                      -- per-file override of the engine setting
        languages TEXT,                   -- per-file override of the languages setting
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL DEFAULT 0,
        updated REAL NOT NULL
    );
    CREATE INDEX contents_state ON contents(state);

    -- The unit of OCR work: one page of one content.
    CREATE TABLE pages (
        sha256 TEXT NOT NULL REFERENCES contents(sha256) ON DELETE CASCADE,
        page INTEGER NOT NULL,            -- 1-based
        method TEXT NOT NULL,             -- ocr | text-layer
        state TEXT NOT NULL,              -- pending | running | done | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL DEFAULT 0,
        error TEXT,
        PRIMARY KEY (sha256, page)
    ) WITHOUT ROWID;
    CREATE INDEX pages_state ON pages(state, next_attempt);

    CREATE TABLE ocr_runs (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        source TEXT NOT NULL,             -- engine | text-layer | import
        engine TEXT,
        engine_version TEXT,
        model TEXT,
        languages TEXT,
        params TEXT,                      -- JSON
        created REAL NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX ocr_runs_sha ON ocr_runs(sha256);

    CREATE TABLE ocr_pages (
        run_id INTEGER NOT NULL REFERENCES ocr_runs(id) ON DELETE CASCADE,
        page INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        rotation INTEGER NOT NULL DEFAULT 0,
        method TEXT NOT NULL,
        text TEXT NOT NULL,
        confidence REAL,
        words TEXT NOT NULL,              -- the words, joined by newlines (see wordboxes.py)
        boxes BLOB NOT NULL,              -- their boxes and confidences, packed int32
        PRIMARY KEY (run_id, page)
    ) WITHOUT ROWID;

    -- Durable outbox feeding the search index: rows are deleted only after the index commits.
    CREATE TABLE index_outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,               -- record | attachment
        ref INTEGER NOT NULL
    );
    """,
    # 2: a file can wait, pending, for something its OCR needs that cannot be had yet (language
    # data): `reason` says what, and this says since when (NULL when it is not waiting).
    """
    ALTER TABLE contents ADD COLUMN waiting_since REAL;
    """,
    # 3: words a second recognition pass found that the page's shown text lacks; searchable.
    """
    ALTER TABLE ocr_pages ADD COLUMN extra_text TEXT NOT NULL DEFAULT '';
    """,
    # 4: specimen records: a catalog number unique within its collection, and the collection's
    # own processing status (free text), which batch OCR filters on.
    """
    ALTER TABLE records ADD COLUMN catalog_number TEXT;
    ALTER TABLE records ADD COLUMN processing_status TEXT;
    ALTER TABLE records ADD COLUMN collection TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX records_catalog ON records(collection, catalog_number)
        WHERE catalog_number IS NOT NULL;
    CREATE INDEX records_catalog_any ON records(catalog_number);
    CREATE INDEX records_status ON records(processing_status);
    """,
]
