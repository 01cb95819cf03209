"""Reading a console form: the fields of an urlencoded body (the guard has checked its size and
CSRF token already; the sign-in form is read here too)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

MAX_FIELDS = 2000


@frozen
class Form:
    """The fields of a submitted form, each with its values in order."""

    fields: dict[str, list[str]]

    def one(self, name: str, default: str = "") -> str:
        """A single-valued field (the first value), stripped."""
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        """Every value of a field."""
        return list(self.fields.get(name, []))


async def read_form(request: Request, max_bytes: int = 256 * 1024) -> Form:
    """The form of a POST; InvalidInput when it is not a readable urlencoded form."""
    body = await request.body()
    if len(body) > max_bytes:
        raise InvalidInput(f"the form is larger than {max_bytes} bytes")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form could not be read: {exc}") from exc
    return Form(fields)
