"""The SQLite implementation of the metadata store."""
