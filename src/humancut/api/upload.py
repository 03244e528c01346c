"""Streaming multipart/form-data reader with byte limits checked as the body arrives.

Nothing touches the disk: parts are kept in memory, bounded by the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from ..errors import HumancutError
from ..settings import Settings

MAX_FIELD_BYTES = 4096  # any non-file field
MAX_PARTS = 16
MULTIPART_OVERHEAD = 64 * 1024  # headers, boundaries and small fields around the file
DRAIN_LIMIT = 32 * 1024 * 1024  # read and drop at most this much of a refused body


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace").strip()


def _invalid(message: str) -> HumancutError:
    return HumancutError("invalid_parameter", message)


class FormReader:
    """Feed body chunks; collects each field once. Limits: `max_file` bytes per file part,
    `max_body` for the whole body."""

    def __init__(self, content_type: str, *, max_file: int, max_body: int,
                 max_field: int = MAX_FIELD_BYTES, max_parts: int = MAX_PARTS):
        kind, params = parse_options_header(content_type or "")
        if kind != b"multipart/form-data":
            raise HumancutError("missing_parameter",
                                "Send the image as multipart/form-data with an `image` field.")
        boundary = params.get(b"boundary")
        if not boundary:
            raise _invalid("The multipart/form-data body has no boundary.")
        self.max_file, self.max_body = max_file, max_body
        self.max_field, self.max_parts = max_field, max_parts
        self.received = 0
        self.parts: dict[str, Part] = {}
        self._part = Part()
        self._header_name = b""
        self._headers: dict[bytes, bytes] = {}
        self._count = 0
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
            "on_header_field": self._hfield, "on_header_value": self._hvalue,
            "on_header_end": self._hend, "on_headers_finished": self._hdone,
        })

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_body:
            raise HumancutError("body_too_large",
                                f"The request body is over {self.max_body} bytes.")
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise _invalid(f"The multipart/form-data body is malformed ({exc}).") from None

    def finish(self) -> dict[str, Part]:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise _invalid(f"The multipart/form-data body is malformed ({exc}).") from None
        # python-multipart's finalize does not check that the body reached its closing
        # boundary; a body cut short (inside the image, say) is malformed, not "missing".
        if self._parser.state not in (MultipartState.END, MultipartState.BOUNDARY_PADDING):
            raise _invalid("The multipart/form-data body is malformed (it ends before its "
                           "closing boundary).")
        return self.parts

    # parser callbacks
    def _begin(self) -> None:
        self._count += 1
        if self._count > self.max_parts:
            raise _invalid(f"Too many form fields (at most {self.max_parts}).")
        self._part, self._headers = Part(), {}

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        name = self._header_name.lower()
        self._headers[name] = self._headers.get(name, b"") + data[start:end]

    def _hend(self) -> None:
        self._header_name = b""

    def _hdone(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._part.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._part.filename = None if filename is None else filename.decode("utf-8", "replace")
        self._part.content_type = self._headers.get(b"content-type", b"").decode("latin-1")

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.data += data[start:end]
        limit = self.max_file if part.filename is not None else self.max_field
        if len(part.data) > limit:
            if part.filename is not None:
                raise HumancutError("file_too_large",
                                    f"The file `{part.name}` is over {limit} bytes "
                                    f"({limit / 1024 / 1024:g} MB).")
            raise _invalid(f"The field `{part.name}` is over {limit} bytes.")

    def _end(self) -> None:
        part = self._part
        if part.name in self.parts:
            raise _invalid(f"The field `{part.name}` was sent more than once.")
        self.parts[part.name] = part


T = TypeVar("T")


async def read_form(content_type: str, body: AsyncIterator[bytes], *, max_file: int,
                    max_body: int, **limits: int) -> dict[str, Part]:
    reader = FormReader(content_type, max_file=max_file, max_body=max_body, **limits)
    async for chunk in body:
        reader.feed(chunk)
    return reader.finish()


async def read_all(body: AsyncIterator[bytes], max_body: int) -> bytes:
    """A whole non-multipart body, refused as soon as it passes `max_body` bytes."""
    data = bytearray()
    async for chunk in body:
        data += chunk
        if len(data) > max_body:
            raise HumancutError("body_too_large", f"The request body is over {max_body} bytes.")
    return bytes(data)


async def read_upload(request: Request, settings: Settings,
                      max_bytes: int | None = None) -> dict[str, Part]:
    """The AILabTools routes' multipart body, the image within `max_bytes` (default: the
    max_bytes setting)."""
    max_file = settings.max_bytes if max_bytes is None else max_bytes
    max_body = max(settings.max_body_bytes, max_file + MULTIPART_OVERHEAD)
    content_type = request.headers.get("content-type", "")
    return await read_bounded(
        request, settings, max_body,
        lambda stream: read_form(content_type, stream, max_file=max_file, max_body=max_body),
        note=f", and the image at most {max_file} bytes")


async def read_bounded(request: Request, settings: Settings, max_body: int,
                       consume: Callable[[AsyncIterator[bytes]], Awaitable[T]], *,
                       note: str = "") -> T:
    """Run `consume` on the body stream, stopping at the limits (declared length, time);
    a refused body is drained (up to a bound) so the client reads our answer instead of a
    reset connection."""
    stream = request.stream()
    try:
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_body:
            raise HumancutError("body_too_large",
                                f"The request body is {declared} bytes; the limit is "
                                f"{max_body} bytes{note}.")
        async with asyncio.timeout(settings.upload_timeout):
            return await consume(stream)
    except TimeoutError:
        raise HumancutError("upload_timeout", f"The upload took longer than "
                            f"{settings.upload_timeout:g} s; send it faster.") from None
    except HumancutError:
        drained = 0
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                async for chunk in stream:
                    drained += len(chunk)
                    if drained > DRAIN_LIMIT:
                        break
        raise
