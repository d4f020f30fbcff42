"""Storage: the schema, the engine factory and the queries over SQLAlchemy Core.

Owns the tables and the Store. May import platform only.
"""
