"""Bulk import of catalogue exports (CSV, Excel, JSON, DCAT-US ``data.json``) through
declarative field mappings (one YAML per source shape)."""
