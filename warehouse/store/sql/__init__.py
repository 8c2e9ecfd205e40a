"""The store's repositories in the SQL both dialects accept (SQLite and PostgreSQL)."""
