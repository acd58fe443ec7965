"""One error format for the whole API:

    {"error": {"status": 409, "code": "transition_not_allowed", "message": "...",
               "fields": {"phones": ["..."]}, "allowed": ["open", "closed"]}}

`fields` appears on 400s (per-field messages; `non_field_errors` for the rest); any extra keys
an exception carries (`Conflict(..., allowed=[...])`) are added as they are. Django's own
`ValidationError`, `PermissionDenied` and `Http404`, raised by services and `get_object()`,
are translated here, so services need not know about HTTP.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("crm.api")


class Conflict(exceptions.APIException):
    """409. Keyword arguments become extra keys of the error body (e.g. `allowed`)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the resource."

    def __init__(self, detail=None, code=None, **extra):
        super().__init__(detail, code)
        self.extra = extra


def _from_django(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, Http404):
        # DRF would quote the model's name ("No Contact matches..."); say less.
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    return exc


def exception_handler(exc, context):
    exc = _from_django(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, reported as such
    body: dict = {"status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        body["code"] = "invalid"
        body["message"] = "The request has invalid fields."
        detail = exc.detail
        body["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    else:
        detail = getattr(exc, "detail", None)
        body["code"] = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body["message"] = str(detail) if detail is not None else str(exc)
    body.update(getattr(exc, "extra", {}))
    request = context.get("request")
    if request is not None and response.status_code < 500:
        # Bad input is logged with its reason (never the body: it may hold personal data).
        logger.info(
            "API %s %s answered %s (%s)",
            request.method,
            request.path,
            response.status_code,
            body["code"],
        )
    return Response({"error": body}, status=response.status_code, headers=response.headers)
