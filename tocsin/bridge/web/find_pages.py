"""Finding things after the fact: the incidents view and the knowledge base search."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from tocsin.bridge.kb import search as kb
from tocsin.bridge.web.finder import FIND_STATUSES, choices, clean, find, finder_from
from tocsin.bridge.web.render import page
from tocsin.bridge.web.visitor import ReaderDep, web_router

router = web_router()
KB_RESULTS = 20


@router.get("/incidents")
def incidents_view(request: Request, who: ReaderDep) -> Response:
    context = who.context
    finder = finder_from(request.query_params, context.priorities)
    with context.store.connect() as conn:
        rows, more = find(conn, finder)
        pickers = {name: choices(conn, name) for name in ("team", "service", "host")}
    return page(
        request,
        who,
        "incidents.html",
        {
            "rows": rows,
            "more": more,
            "finder": finder,
            "chosen": finder.chosen(),
            "priorities": context.priorities,
            "statuses": FIND_STATUSES,
            "pickers": pickers,
        },
    )


@router.get("/kb")
def knowledge_base(request: Request, who: ReaderDep) -> Response:
    query = clean(request.query_params, "q", 500)
    results = []
    if query:
        with who.context.store.connect() as conn:
            results = kb.search(conn, query, KB_RESULTS)
    return page(request, who, "kb.html", {"query": query or "", "results": results})
