"""S3 results (`s3://bucket/prefix`), shared by every server process; `s3_endpoint_url` for an
S3-compatible service; credentials from the standard AWS variables (boto3's chain).

humancut enforces the TTL, the bucket's lifecycle rule only collects garbage: each object
carries its expiry in metadata, `open()` refuses an expired one even before it is deleted,
and a presigned URL (`s3_urls=presigned`) is signed for the remaining TTL only."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header

from ..settings import Settings
from .results import CHUNK, Opened, ResultStore, Stored, new_token, token_of

EXPIRES = "humancut-expires-at"  # metadata: the expiry, seconds since the epoch
URLS = ("api", "presigned")


class S3ResultStore(ResultStore):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str = "",
                 timeout: float = 5.0, urls: str = "api", ttl: float = 86400):
        if urls not in URLS:
            raise ValueError(f"HUMANCUT_S3_URLS={urls!r}: expected one of {', '.join(URLS)}")
        self.bucket, self.prefix, self.urls, self.ttl = bucket, prefix, urls, ttl
        self.s3: Any = make_client(endpoint_url, timeout)
        where = f" at {endpoint_url} (HUMANCUT_S3_ENDPOINT_URL)" if endpoint_url else ""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ValueError(f"bucket {bucket!r}{where}: "
                             f"{'not found' if code in ('404', 'NoSuchBucket') else exc}"
                             ) from None
        except BotoCoreError as exc:
            raise ValueError(f"bucket {bucket!r}{where}: {exc}") from None

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> S3ResultStore:
        s = settings or Settings()
        bucket, prefix = split_url(url)
        return cls(bucket, prefix, endpoint_url=s.s3_endpoint_url, timeout=s.backend_timeout,
                   urls=s.s3_urls, ttl=s.result_ttl)

    def put(self, data: bytes, content_type: str, ttl: float) -> Stored:
        stored = Stored(new_token(), content_type, time.time() + ttl)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + stored.name, Body=data,
                               ContentType=content_type,
                               Metadata={EXPIRES: f"{stored.expires_at:.3f}"})
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"S3 put failed: {exc}") from None
        return stored

    def open(self, name: str) -> Opened | None:
        token = token_of(name)
        if token is None:
            return None
        try:
            got = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        expires_at = _expiry(got.get("Metadata", {}))
        if expires_at <= time.time():
            got["Body"].close()
            return None
        stored = Stored(token, got.get("ContentType", "application/octet-stream"), expires_at)
        return Opened(stored, int(got["ContentLength"]), _chunks(got["Body"]))

    def url(self, stored: Stored, prefix: str) -> str:
        if self.urls == "api":
            return super().url(stored, prefix)
        remaining = max(1, math.ceil(stored.expires_at - time.time()))
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.prefix + stored.name},
            ExpiresIn=remaining)

    def sweep(self, now: float | None = None) -> int:
        """Delete expired results. Only objects older than the TTL can be expired, so only
        they are looked at (one HEAD each, to read their stored expiry)."""
        now = time.time() if now is None else now
        expired = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                   Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["LastModified"].timestamp() + self.ttl > now:
                    continue
                head = self.s3.head_object(Bucket=self.bucket, Key=obj["Key"])
                if _expiry(head.get("Metadata", {})) <= now:
                    expired.append({"Key": obj["Key"]})
        for i in range(0, len(expired), 1000):
            self.s3.delete_objects(Bucket=self.bucket,
                                   Delete={"Objects": expired[i:i + 1000], "Quiet": True})
        return len(expired)

    def close(self) -> None:
        self.s3.close()


def split_url(url: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b/"); the prefix is "" or ends with a slash."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket or not url.startswith("s3://"):
        raise ValueError(f"expected s3://BUCKET[/PREFIX], got {url!r}")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def make_client(endpoint_url: str, timeout: float) -> Any:
    """A boto3 S3 client: AWS, or the S3-compatible service at `endpoint_url`; credentials
    from boto3's chain (the standard AWS variables, profiles, instance roles)."""
    # Checksums only where S3 requires them (botocore >= 1.36 adds a CRC32 to every put by
    # default): less CPU a call, and S3-compatible services that refuse them keep working.
    config = Config(connect_timeout=timeout, read_timeout=timeout, signature_version="s3v4",
                    retries={"max_attempts": 2, "mode": "standard"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required")
    client = boto3.client("s3", endpoint_url=endpoint_url or None, config=config)
    # botocore sends every put's headers with `Expect: 100-continue` and waits for the
    # server's go-ahead before the body: a round trip more per result, only worth it to
    # spare the upload of a large body the server would refuse (ours are small, and refused
    # only when the configuration is wrong, which start-up checks).
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


def _expiry(metadata: dict[str, str]) -> float:
    """The stored expiry; an object without one (not ours) counts as expired."""
    try:
        return float(metadata.get(EXPIRES, "0"))
    except ValueError:
        return 0.0


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
