"""Sinch-shaped error responses, as the real API sends them."""

from __future__ import annotations

from aiohttp import web

__all__ = ["ERROR_STATUS_TEXT", "SinchHTTPError", "sinch_error"]

ERROR_STATUS_TEXT = {
    400: "400 ParameterValidation",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 NotFound",
    405: "405 MethodNotAllowed",
    413: "413 PayloadTooLarge",
    429: "429 TooManyRequests",
    500: "500 InternalServerError",
    503: "503 ServiceUnavailable",
}


def sinch_error(status: int, error_code: int, message: str, *,
                reference: str = "emulator") -> web.Response:
    """``{"status", "errorCode", "message", "reference"}`` with the given HTTP status."""
    return web.json_response(
        {
            "status": ERROR_STATUS_TEXT.get(status, str(status)),
            "errorCode": error_code,
            "message": message,
            "reference": reference,
        },
        status=status,
    )


class SinchHTTPError(Exception):
    """Raised by route handlers; the emulator turns it into :func:`sinch_error`."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def response(self) -> web.Response:
        """The HTTP response for this error."""
        return sinch_error(self.status, self.error_code, self.message)


def bad_request(message: str, code: int = 40001) -> SinchHTTPError:
    """400 with a ParameterValidation body."""
    return SinchHTTPError(400, code, message)


def not_found(message: str) -> SinchHTTPError:
    """404 with Sinch's 40400 body."""
    return SinchHTTPError(404, 40400, message)
