"""`create_app`: the FastAPI app of one company server, its lifespan starting the recovery loop and MQTT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from servers.api import errors, peer, peer_direct, public
from servers.api.peer_auth_middleware import PeerAuth
from servers.bootstrap import Server


class Gateway(Protocol):
    """Something that runs beside the HTTP app on its event loop (the MQTT gateway)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class App(FastAPI):
    """FastAPI with `PeerAuth` outside all of its middleware, where it answers the hot peer routes without it."""

    def __init__(self, *, outermost: Callable[[ASGIApp], ASGIApp], **kwargs: Any) -> None:
        self.outermost = outermost
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        # Outside even ServerErrorMiddleware, which is why PeerAuth answers its own failures; inside FastAPI's
        # telemetry (`FastAPI.__call__`), which sees every request as before.
        return self.outermost(super().build_middleware_stack())


def create_app(server: Server, gateway_factory: Callable[[Server], Gateway] | None = None, *,
               direct_peer_routes: bool = True) -> FastAPI:
    """The app serving `server`; it owns the server's lifetime (closed at shutdown).

    `direct_peer_routes=False`: FastAPI answers the hot peer routes too (servers/api/peer_direct.py), for the
    tests and the benchmark that hold the two paths side by side.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.start()
        gateway = gateway_factory(server) if gateway_factory else None
        if gateway is not None:
            await gateway.start()
        try:
            yield
        finally:
            if gateway is not None:
                await gateway.stop()
            await server.close()

    company = server.network.company(server.company)
    direct = peer_direct.routes(server) if direct_peer_routes else {}
    app = App(
        outermost=lambda stack: PeerAuth(stack, verifier=lambda: server.verifier, direct=direct),
        title=f"recarga — {company.name}",
        version="1.0.0",
        summary=f"{company.name}'s server in the recarga network: public API and peer API",
        description="Public `/api/v1` for vehicles and dashboards; `/peer/v1` for other companies "
                    "(HMAC-signed, see docs/booking.md). Errors are JSON: `{code, message, details}`.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: FastAPI's default loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.server = server
    errors.install(app)
    app.include_router(public.router)
    app.include_router(peer.router)
    install_docs(app)
    return app


#: Swagger UI's files, shipped inside a Python package (swagger-ui-bundle-v2): /docs works without internet.
DOCS_ASSETS = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI on the app's own OpenAPI document, with its scripts and styles served locally."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")
