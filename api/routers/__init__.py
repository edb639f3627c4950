"""HTTP routers, one module per concern; each exposes ``router``."""
