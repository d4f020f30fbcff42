from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.bridge.testclient import TestClient
from tocsin.bridge.api import errors
from tocsin.bridge.api.shortcut import Shortcut
from tocsin.bridge.errors import InvalidInput


def _app(routed: list[str]) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    async def fast(request: Request) -> Response:
        body = await request.body()
        if body == b"bad":
            raise InvalidInput("not good", field="labels.x")
        return JSONResponse({"via": "shortcut", "body": body.decode()})

    @app.post("/hot")
    async def hot(request: Request) -> Response:
        routed.append("hot")
        return await fast(request)

    @app.get("/hot")
    def hot_get() -> dict[str, str]:
        routed.append("hot_get")
        return {"via": "router"}

    app.add_middleware(Shortcut, routes={("POST", "/hot"): fast})
    return app


def test_a_listed_route_is_answered_by_its_endpoint_past_the_router() -> None:
    routed: list[str] = []
    response = TestClient(_app(routed)).post("/hot", content=b"hi")
    assert (response.status_code, response.json(), routed) == (
        200,
        {"via": "shortcut", "body": "hi"},
        [],
    )


def test_other_methods_and_paths_go_through_the_app() -> None:
    routed: list[str] = []
    client = TestClient(_app(routed))
    assert client.get("/hot").json() == {"via": "router"}
    assert client.post("/cold").status_code == 404
    assert routed == ["hot_get"]


def test_a_refusal_is_answered_as_the_app_answers_it() -> None:
    response = TestClient(_app([])).post("/hot", content=b"bad")
    assert response.status_code == 422
    assert response.json() == {"error": "not good", "field": "labels.x"}
