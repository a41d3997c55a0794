"""Database access: the pool, migrations, and the SQL each part runs."""
