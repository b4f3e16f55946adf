"""PostgreSQL backend: Django's, with pooled connections checked before use (see ``base``)."""
