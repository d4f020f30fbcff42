"""The HTTP API: routers, authentication, error handlers and request limits."""
