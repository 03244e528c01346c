"""Where a bulk job reads its photos and writes its cut-outs: a folder or `s3://bucket/prefix`.

Files are named relative to the location (`a/b.jpg`), so an output keeps its source's name
(`a/b.png`) whichever kind each side is. A location is opened from its URL wherever it is
used (the Ray driver lists, each actor reads and writes), so only the URL travels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from . import batch
from .imageops import IMAGE_SUFFIXES, images_under
from .settings import Settings

S3 = "s3://"
S3_TIMEOUT = 60.0  # seconds: photos, not the API's small backend calls


class Location(Protocol):
    def images(self) -> list[str]:
        """Relative names of the images here, sorted."""
        ...

    def pngs(self) -> set[str]:
        """Relative names of the PNGs here (outputs already written), listed at once."""
        ...

    def read(self, name: str) -> bytes: ...

    def write(self, name: str, data: bytes) -> None: ...

    def describe(self, name: str = "") -> str:
        """The file's full name for messages (the location's own when `name` is empty)."""
        ...


def is_s3(url: str) -> bool:
    return url.startswith(S3)


def output_name(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(".png"))


def is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def absolute(url: str) -> str:
    """The URL as another process sees it (Ray's workers have a cwd of their own)."""
    return url if is_s3(url) else str(Path(url).resolve())


def open_location(url: str, settings: Settings) -> Location:
    return S3Location(url, settings) if is_s3(url) else Folder(Path(url))


class Folder:
    def __init__(self, root: Path):
        self.root = root

    def images(self) -> list[str]:
        return [p.relative_to(self.root).as_posix() for p in images_under(self.root)]

    def pngs(self) -> set[str]:
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*.png")
                if p.is_file()}

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write(self, name: str, data: bytes) -> None:
        batch.write_atomic(self.root / name, data)

    def describe(self, name: str = "") -> str:
        return str(self.root / name) if name else str(self.root)


class S3Location:
    """Objects under a prefix; boto3 with `s3_endpoint_url` and the standard AWS variables.
    A PUT is atomic, so an interrupted run leaves no half PNG under a final key."""

    def __init__(self, url: str, settings: Settings):
        from .store.s3 import make_client, split_url

        self.bucket, self.prefix = split_url(url)
        self.s3: Any = make_client(settings.s3_endpoint_url, S3_TIMEOUT)

    def _keys(self) -> list[str]:
        with _as_os_error("list"):
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=self.prefix)
            return [obj["Key"][len(self.prefix):] for page in pages
                    for obj in page.get("Contents", [])]

    def images(self) -> list[str]:
        return sorted(k for k in self._keys() if is_image(k))

    def pngs(self) -> set[str]:
        return {k for k in self._keys() if k.endswith(".png")}

    def read(self, name: str) -> bytes:
        with _as_os_error("get"):
            return self.s3.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        with _as_os_error("put"):
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data,
                               ContentType="image/png")

    def describe(self, name: str = "") -> str:
        return f"{S3}{self.bucket}/{self.prefix}{name}"


@contextmanager
def _as_os_error(what: str) -> Iterator[None]:
    """boto3's errors as OSError: a per-file failure in the job, a clean exit in the CLI."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise OSError(f"S3 {what} failed: {exc}") from None
