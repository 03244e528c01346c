"""A remove.bg request body in any of its three encodings (multipart/form-data,
application/x-www-form-urlencoded, application/json), read within byte and time limits,
as one flat dict of fields.

What real clients send decides the rules (docs/removebg.md#parameters): empty strings and nulls mean
"not given", JSON booleans and numbers become their usual strings, unknown fields are kept
(and ignored by the parser), uploaded files stay bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from fastapi import Request
from python_multipart.multipart import parse_options_header

from ..errors import HumancutError
from ..settings import Settings
from .upload import MULTIPART_OVERHEAD, read_all, read_bounded, read_form

Fields = dict[str, str | bytes]  # text values; bytes for the uploaded files
FILES = ("image_file", "bg_image_file")
MAX_FIELDS = 64  # the official CLI sends ~15, plus whatever --extra-api-option adds
ENCODINGS = ("multipart/form-data", "application/x-www-form-urlencoded", "application/json")


def b64_limit(max_bytes: int) -> int:
    """Characters of base64 (with a data: prefix and line breaks) for `max_bytes` bytes."""
    return (max_bytes + 2) // 3 * 4 * 21 // 20 + 1024


def body_limit(settings: Settings) -> int:
    """An image and a background image as files, or one as base64 (URL-escaped: +/= grow)."""
    image = settings.removebg_max_bytes
    return max(2 * image, b64_limit(image) * 6 // 5) + MULTIPART_OVERHEAD


def _text(value: object) -> str | None:
    """A JSON value as the string a form would carry; None for null and ""."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.strip() if isinstance(value, str) else json.dumps(value)
    return text or None


def from_json(body: bytes) -> Fields:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HumancutError("invalid_parameter", f"The JSON body is malformed ({exc}).") from None
    if not isinstance(doc, dict):
        raise HumancutError("invalid_parameter", "The JSON body must be an object.")
    return {k: t for k, v in doc.items() if (t := _text(v)) is not None}


def from_urlencoded(body: bytes) -> Fields:
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=False,
                          max_num_fields=MAX_FIELDS)
    except ValueError as exc:
        raise HumancutError("invalid_parameter", f"The form body is malformed ({exc}).") from None
    return {k: v.strip() for k, v in pairs if v.strip()}


async def from_multipart(content_type: str, stream: AsyncIterator[bytes],
                         settings: Settings) -> Fields:
    parts = await read_form(content_type, stream, max_file=settings.removebg_max_bytes,
                            max_body=body_limit(settings), max_parts=MAX_FIELDS,
                            max_field=b64_limit(settings.removebg_max_bytes))
    fields: Fields = {}
    for name, part in parts.items():
        if name in FILES:
            if part.data:  # an empty file input is "not given"
                fields[name] = bytes(part.data)
        elif part.text:
            fields[name] = part.text
    return fields


async def read_fields(request: Request, settings: Settings) -> Fields:
    content_type = request.headers.get("content-type", "")
    kind = parse_options_header(content_type)[0].decode("latin-1").lower()
    if kind not in ENCODINGS:
        raise HumancutError("missing_parameter", "Send the request as multipart/form-data, "
                            "application/x-www-form-urlencoded or application/json.",
                            detail="missing_source")
    limit = body_limit(settings)

    async def consume(stream: AsyncIterator[bytes]) -> Fields:
        if kind == "multipart/form-data":
            return await from_multipart(content_type, stream, settings)
        body = await read_all(stream, limit)
        return from_json(body) if kind == "application/json" else from_urlencoded(body)

    return await read_bounded(request, settings, limit, consume)
