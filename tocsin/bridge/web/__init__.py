"""The on-call web board: server-rendered pages in English and Chinese, behind a login.

Owns the pages (the one-click ack page too), their templates, static files and texts (i18n,
messages). May import the runtime, api (auth, parameters) and every layer below; only server
and cli build on it.

`router` carries every page; other pages (reports) reuse the role dependencies from
tocsin.bridge.web.visitor, `page` from tocsin.bridge.web.render and extend templates/base.html.
"""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.bridge.web import (
    account_pages,
    auth,
    find_pages,
    maintenance_page,
    pages,
    people_page,
    sso_pages,
    survey,
)

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(account_pages.router)
router.include_router(people_page.router)
router.include_router(sso_pages.router)
router.include_router(find_pages.router)
router.include_router(maintenance_page.router)
router.include_router(pages.router)
router.include_router(survey.router)  # the reporter's survey: a signed link, no sign-in

__all__ = ["router"]
