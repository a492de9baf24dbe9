"""The event log: an append-only, hash-chained SQLite store, its in-memory twin, folds and snapshots."""
