"""What /openapi.json says each operation may answer besides its success, and in which shape.

Every refusal has one body, from console/app.py's handlers: ``{"detail", "code", "params"}``
(``detail`` is the English text, or, for input that fails validation — code ``request.invalid`` —
the list of problems). FastAPI itself documents only the success and, where a route takes input, a
422 in its own validation shape. The statuses below follow from how each route is built:

- 401 where a login is needed (the operation has a security requirement);
- 403 there too: the role may not do this, or it is not this user's (a guard's own task or round);
- 404 where the path names something (a path parameter): nothing by that name or id;
- 409 on every change (POST, PUT, PATCH, DELETE) that needs a login: it cannot be done now, in the
  state things are in;
- 400 where there is a body: one that cannot be parsed (not JSON, not UTF-8);
- 422 where there is input, or on a change: the input is refused.

A route that answers anything else (413, 415, 503, a 404 for a name in its query...) declares it with
``responses={status: {"description": ...}}``; the error body's schema is filled in for it here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
RULES = {
    400: "The body cannot be parsed (not JSON, or not UTF-8).",
    401: "Not logged in, or the session has ended.",
    403: "The user's role may not do this, or it is not theirs to do.",
    404: "Nothing by that name or id.",
    409: "It cannot be done now, in the state things are in.",
    422: "The input is refused: ``detail`` lists the problems (code request.invalid) or says why.",
}


class Refused(BaseModel):
    """The body of every refusal (4xx, 5xx) the console answers on purpose."""

    detail: str | list[dict[str, Any]] = Field(description=(
        "What was refused, in English; for input that fails validation (code request.invalid), "
        "the list of problems, each with its loc, msg and type."))
    code: str = Field(description="A stable code; the pages word it from their catalogues (err.<code>).")
    params: dict[str, Any] = Field(description="The code's parameters (ids, names, limits).")


ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    found = set()
    if operation.get("security"):
        found |= {401, 403}
    if any(parameter.get("in") == "path" for parameter in parameters):
        found.add(404)
    if method in CHANGES:
        found.add(422)
        if operation.get("security"):  # an anonymous POST (the login) changes no state that could be in the way
            found.add(409)
    if "requestBody" in operation:
        found |= {400, 422}
    if parameters:
        found.add(422)
    return found


def document_refusals(app: FastAPI) -> None:
    """Make ``app.openapi()`` list the refusals of every operation, each with the error body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_refusals(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _add_refusals(schema: dict[str, Any]) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Refused"] = Refused.model_json_schema()
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method.upper(), operation)):
                responses.setdefault(str(status), {"description": RULES[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = ERROR  # FastAPI's own 422 shape is not what the console answers
            if "422" in responses:
                responses["422"]["description"] = RULES[422]
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's validation shapes are no longer referred to by any operation.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
