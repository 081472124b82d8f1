from __future__ import annotations

from litestar import Router


def frontend_router() -> Router:
    return Router(path="/", route_handlers=[])
