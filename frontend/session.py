"""Signing in and out of the pages, and where each role lands.

The pages use the same JWT as the API, carried in the HttpOnly `access_token` cookie that the JWT
cookie middleware already reads. The cookie is SameSite=Strict, and beside that the edge refuses a
cookie-carrying write whose Origin is another site (registry.edge). Logging out revokes the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_401_UNAUTHORIZED, HTTP_429_TOO_MANY_REQUESTS

from frontend.errors import LOGIN_PATH, safe_next
from frontend.risk_signals import signals_for
from frontend.templating import landing_page, layout_context, navigation_for, signed_in_user
from registry import clock
from registry.auth import PUBLIC, roles
from registry.edge import is_secure_request
from registry.roles import ALL_ROLES, Role
from registry.services.login import AccountLockedError, sign_in
from registry.stores import LOGIN_LOCKOUT, REVOKED_TOKENS, revoke, store_of

WRONG_CREDENTIALS = "Wrong username or password."


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    next: str = ""


def _login_page(
    request: Request[Any, Any, Any],
    *,
    username: str = "",
    next_path: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="login.html",
        context={**layout_context(request), "username": username, "next": next_path or "", "error": error},
        status_code=status_code,
    )


def _session_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    # Same attributes as JWTCookieAuth.login() would set, but on a redirect instead of a body.
    jwt_auth = request.app.state.jwt_auth
    return Cookie(
        key=jwt_auth.key,
        value=token,
        path=jwt_auth.path,
        domain=jwt_auth.domain,
        secure=jwt_auth.secure or is_secure_request(request.scope),
        httponly=True,
        samesite=jwt_auth.samesite,
        max_age=int(jwt_auth.default_token_expiration.total_seconds()),
    )


class SessionController(Controller):
    path = "/"

    @get("/login", name="pages:login-form", opt=PUBLIC)
    async def login_form(
        self, request: Request[Any, Any, Any], next_path: Annotated[str | None, QueryParameter(name="next")] = None
    ) -> Template:
        return _login_page(request, next_path=safe_next(next_path))

    @post("/login", name="pages:login", opt=PUBLIC)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        username = data.username.strip()
        next_path = safe_next(data.next)
        try:
            user = (
                await sign_in(store_of(request.app, LOGIN_LOCKOUT), request.app.state.edge, username, data.password)
                if username and data.password
                else None
            )
        except AccountLockedError as locked:
            return _login_page(
                request,
                username=username,
                next_path=next_path,
                error=locked.detail,
                status_code=HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            return _login_page(
                request,
                username=username,
                next_path=next_path,
                error=WRONG_CREDENTIALS,
                status_code=HTTP_401_UNAUTHORIZED,
            )
        token = request.app.state.jwt_auth.create_token(identifier=user.username, token_extras={"role": user.role})
        response = Redirect(path=next_path or landing_page(user.role), status_code=HTTP_303_SEE_OTHER)
        response.set_cookie(_session_cookie(request, token))
        return response

    @post("/logout", name="pages:logout", opt=PUBLIC)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        # Public on purpose: dropping the cookie needs no identity, and an expired session must still
        # be able to sign out cleanly.
        jwt_auth = request.app.state.jwt_auth
        if encoded := request.cookies.get(jwt_auth.key, "").split(" ")[-1]:
            try:
                token = Token.decode(encoded, secret=jwt_auth.token_secret, algorithm=jwt_auth.algorithm)
            except NotAuthorizedException:
                token = None  # expired or forged: nothing to revoke
            if token is not None:
                await revoke(store_of(request.app, REVOKED_TOKENS), token)
        response = Redirect(path=LOGIN_PATH, status_code=HTTP_303_SEE_OTHER)
        response.delete_cookie(jwt_auth.key, path=jwt_auth.path, domain=jwt_auth.domain)
        return response

    @get("/", name="pages:start", opt=roles(ALL_ROLES))
    async def start(self, request: Request[Any, Any, Any]) -> Redirect:
        user = signed_in_user(request)
        return Redirect(path=landing_page(user.role) if user else LOGIN_PATH, status_code=HTTP_303_SEE_OTHER)

    @get("/home", name="pages:home", opt=roles(ALL_ROLES))
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        """The risk warning (DESIGN 9): a count per signal the role may open, its own signals first."""
        user = signed_in_user(request)
        links = navigation_for(user.role) if user else []
        own, others = await signals_for(Role(user.role), clock.today()) if user else ([], [])
        return Template(
            template_name="home.html",
            context={**layout_context(request), "links": links, "own": own, "others": others, "today": clock.today()},
        )
