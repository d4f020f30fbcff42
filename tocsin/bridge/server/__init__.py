"""The server: the FastAPI app, the listening sockets and systemd readiness.

Owns `create_app`, the listener and the /healthz-gated watchdog. May import every package but cli,
which starts it.
"""
