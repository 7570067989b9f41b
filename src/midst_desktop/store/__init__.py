"""The local store: models, the database connection and the queries on it."""
