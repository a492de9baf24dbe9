"""`create_app`: the FastAPI app of one company server, its lifespan starting the recovery loop and MQTT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from servers.api import errors, peer, public
from servers.api.peer_auth_middleware import PeerAuth
from servers.bootstrap import Server


class Gateway(Protocol):
    """Something that runs beside the HTTP app on its event loop (the MQTT gateway)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_app(server: Server, gateway_factory: Callable[[Server], Gateway] | None = None) -> FastAPI:
    """The app serving `server`; it owns the server's lifetime (closed at shutdown)."""

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
    app = FastAPI(
        title=f"recarga — {company.name}",
        version="1.0.0",
        summary=f"{company.name}'s server in the recarga network: public API and peer API",
        description="Public `/api/v1` for vehicles and dashboards; `/peer/v1` for other companies "
                    "(HMAC-signed, see docs/booking.md). Errors are JSON: `{code, message, details}`.",
        lifespan=lifespan,
    )
    app.state.server = server
    errors.install(app)
    app.add_middleware(PeerAuth, verifier=lambda: server.verifier)
    app.include_router(public.router)
    app.include_router(peer.router)
    return app
