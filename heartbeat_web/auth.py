"""Bearer-token guard for writes: open while no HEARTBEAT_API_TOKEN is set (the server then listens on
loopback only), constant-time compare once it is."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from heartbeat_core.settings import get_settings


def token_configured() -> bool:
    return bool(get_settings().api_token)


def check_bearer(authorization: str | None) -> bool:
    token = get_settings().api_token
    if not token:
        return True
    if not authorization:
        return False
    scheme, _, provided = authorization.partition(" ")
    if scheme.lower() != "bearer" or not provided:
        return False
    return hmac.compare_digest(provided.strip().encode(), token.encode())


def require_token(request: Request) -> None:
    """FastAPI dependency for every write route."""
    if not check_bearer(request.headers.get("authorization")):
        raise HTTPException(
            status_code=401,
            detail="this write needs Authorization: Bearer <HEARTBEAT_API_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="heartbeat"'},
        )
