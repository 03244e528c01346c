"""The video route's multipart body: the `video` part is written to its upload file as it
streams in (a clip of up to video_max_bytes is never held in memory), the other fields are
kept as upload.py keeps them; the byte limits are checked on the way."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from fastapi import Request

from ..errors import HumancutError
from ..settings import Settings
from .upload import MULTIPART_OVERHEAD, FormReader, Part, read_bounded

FIELD = "video"


class SpoolingReader(FormReader):
    def __init__(self, content_type: str, path: Path, *, max_file: int, max_body: int):
        super().__init__(content_type, max_file=max_file, max_body=max_body)
        self.path = path
        self.size = 0  # bytes of the video part
        self._file: BinaryIO | None = None
        self._spooling = False  # the part under way is the video file

    def _hdone(self) -> None:
        super()._hdone()
        part = self._part
        if part.name == FIELD and part.filename is not None and self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            self._spooling = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._spooling:
            super()._data(data, start, end)
            return
        self.size += end - start
        if self.size > self.max_file:
            raise HumancutError("file_too_large", f"The video is over {self.max_file} bytes "
                                f"({self.max_file / 1024 / 1024:g} MB).")
        assert self._file is not None
        self._file.write(data[start:end])

    def _end(self) -> None:
        self._spooling = False
        super()._end()

    def close(self) -> None:
        """Flush the upload to disk (the worker may read it after a crash of this one)."""
        if self._file is not None and not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


async def read_video(request: Request, settings: Settings,
                     path: Path) -> tuple[dict[str, Part], int]:
    """The form's fields and the size of the `video` file written to `path` (0 and no file
    when there was none). On any error the caller deletes `path`."""
    max_body = settings.video_max_bytes + MULTIPART_OVERHEAD
    readers: list[SpoolingReader] = []

    async def consume(stream: AsyncIterator[bytes]) -> dict[str, Part]:
        readers.append(SpoolingReader(request.headers.get("content-type", ""), path,
                                      max_file=settings.video_max_bytes, max_body=max_body))
        async for chunk in stream:
            readers[0].feed(chunk)
        return readers[0].finish()

    try:
        parts = await read_bounded(request, settings, max_body, consume,
                                   note=f", and the video at most {settings.video_max_bytes} "
                                   "bytes")
    finally:
        for reader in readers:
            reader.close()
    return parts, readers[0].size
