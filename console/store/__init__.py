"""The store: tables, engine and migrations, and the small repositories the core uses."""
