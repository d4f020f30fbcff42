"""The server: the FastAPI app, the composition root (runtime) and the listening sockets."""
