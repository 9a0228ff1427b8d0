"""HTTP API and web UI: one FastAPI app (``create_app``) served by ``revsearch serve``."""
