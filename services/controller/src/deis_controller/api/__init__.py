"""The HTTP layer: FastAPI routes, Deis-compatible errors, authentication."""
