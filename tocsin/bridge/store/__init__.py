"""Storage: the schema, the engine factory and the queries over SQLAlchemy Core."""
