"""Request-scoped access to the runtime the app was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tocsin.bridge.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Return the runtime create_app stored on the application."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
