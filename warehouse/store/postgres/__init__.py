"""The store on PostgreSQL: its database (connections, migrations) and its search index."""
