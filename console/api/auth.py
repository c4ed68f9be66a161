"""Login (bearer token and HttpOnly cookie), logout, and who am I.

A login is throttled before its password is checked (console/people/throttle.py): a locked account
name or client address gets 429 with Retry-After, and every lockout goes into the audit chain.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from console.api.deps import (
    COOKIE,
    CurrentUser,
    RuntimeDep,
    SocketsDep,
    client_address,
    secure_request,
    token_from,
)
from console.errors import AuthError
from console.people import auth
from console.store import audit

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    username: str


@router.post("/login", response_model=TokenOut, responses={
    401: {"description": "Wrong user name or password."},
    429: {"description": "Too many failed logins (or logins at once): see Retry-After."}})
def login(body: LoginBody, request: Request, response: Response, runtime: RuntimeDep) -> TokenOut:
    client = client_address(request)
    throttle = runtime.logins
    if wait := math.ceil(throttle.wait_seconds(body.username, client)):
        raise AuthError("auth.locked", f"too many failed logins: try again in {wait} s", status=429,
                        headers={"Retry-After": str(wait)}, seconds=wait)
    if not throttle.checks.acquire(timeout=5.0):
        raise AuthError("auth.busy", "too many logins at once: try again in a moment", status=429,
                        headers={"Retry-After": "1"})
    try:
        with runtime.store.write() as session, session.begin():
            try:
                user = auth.check_password(session, body.username, body.password)
            except AuthError:
                audit.record(session, body.username, "login.failed", client=client)
                for lockout in throttle.failed(body.username, client):
                    audit.record(session, body.username, "login.locked", target=f"{lockout.scope}:{lockout.key}",
                                 client=client, detail={"failures": lockout.failures, "seconds": lockout.seconds})
                failed = True
            else:
                token = auth.issue_token(session, user, runtime.settings.http.session_hours, client)
                audit.record(session, user.username, "login", client=client, detail={"role": user.role})
                throttle.succeeded(body.username)
                failed = False
    finally:
        throttle.checks.release()
    if failed:
        raise AuthError("auth.bad_credentials", "wrong user name or password", status=401)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict",
        secure=runtime.settings.http.secure_cookie or secure_request(request),
        max_age=int(runtime.settings.http.session_hours * 3600), path="/",
    )
    return TokenOut(access_token=token, role=user.role, username=user.username)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, user: CurrentUser, runtime: RuntimeDep,
           sockets: SocketsDep) -> None:
    token = token_from(request)
    with runtime.store.write() as session, session.begin():
        if token:
            auth.revoke_token(session, token)
        audit.record(session, user.username, "logout", client=client_address(request))
    if token:
        sockets.close_token(auth.token_digest(token))  # the pages of that session stop too
    response.delete_cookie(COOKIE, path="/")


@router.get("/me")
def me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username, "role": user.role, "display_name": user.display_name}
