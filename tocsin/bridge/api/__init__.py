"""The HTTP API: routers, authentication, error handlers and request limits.

Owns every JSON route under /api and the receivers' webhooks. May import the runtime and every
layer below it (ingest, notify, reports, incidents, kb, store, platform, …); the web board may
reuse its auth and parameters; only server and cli build on it.
"""
