from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody
from litestar.security.jwt import Token

from registry.auth import PUBLIC, roles
from registry.roles import ADMINS, ALL_ROLES
from registry.schemas.misc import LoginRequest, TokenResponse, UserCreate, UserRead
from registry.services import users
from registry.services.login import sign_in
from registry.stores import LOGIN_LOCKOUT, REVOKED_TOKENS, revoke, store_of


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", operation_id="Login", name="auth:login", opt=PUBLIC, status_code=200, security=[])
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest]) -> TokenResponse:
        store = store_of(request.app, LOGIN_LOCKOUT)
        user = await sign_in(store, request.app.state.edge, data.username, data.password)
        if user is None:
            raise NotAuthorizedException(detail="wrong username or password")
        jwt_auth = request.app.state.jwt_auth
        return TokenResponse(
            access_token=jwt_auth.create_token(identifier=user.username, token_extras={"role": user.role})
        )

    @post("/logout", operation_id="Logout", name="auth:logout", opt=roles(ALL_ROLES), status_code=204)
    async def logout(self, request: Request[UserRead, Token, Any]) -> None:
        """Revoke the token this request carries: it is refused from now on, on every worker."""
        await revoke(store_of(request.app, REVOKED_TOKENS), request.auth)

    @get("/me", operation_id="WhoAmI", name="auth:me", opt=roles(ALL_ROLES))
    async def me(self, request: Request[UserRead, Any, Any]) -> UserRead:
        return request.user


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]

    @get(operation_id="ListUsers", name="users:list", opt=roles(ADMINS))
    async def list_users(self) -> list[UserRead]:
        return await users.list_users()

    @post(operation_id="CreateUser", name="users:create", opt=roles(ADMINS))
    async def create_user(self, request: Request[UserRead, Any, Any], data: JSONBody[UserCreate]) -> UserRead:
        return await users.create_user(data.username, data.password, data.role, request.user.username)
