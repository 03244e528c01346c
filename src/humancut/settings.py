"""One typed settings object, from `HUMANCUT_*` environment variables and overridden by flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .presets import DEFAULT_PRESET, preset_values

MB = 1024 * 1024


def _default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "humancut" / "models"


@dataclass(frozen=True)
class Settings:
    # engine
    preset: str = DEFAULT_PRESET  # fast | balanced | best: fills in the pipeline and PNG
    # settings below that are not set explicitly (humancut.presets)
    model: str = "rvm_mobilenetv3"  # a name from humancut.engine.MODELS
    model_path: Path | None = None  # use this file instead of the model directory
    model_dir: Path = field(default_factory=_default_model_dir)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core
    inference_size: int = 512  # long side (px) the model sees
    passes: int = 1  # times the image is fed so RVM's recurrent state settles
    max_model_side: int = 640  # larger photos are matted at this long side, then scaled up
    fusion_size: int = 320  # also infer at this long side and average the alphas; 0 = off
    fuse_above: float = 0.0  # adaptive: fuse only when the first view's uncertain share (soft
    # pixels / person pixels) is at least this; 0 = always fuse
    view_scale: float = 2.0  # each view runs on the photo scaled to at most this x its
    # encoder size (RVM's guided filter then works on fewer pixels); 0 = the model side
    flip: bool = False  # also infer on the mirrored image and average (test-time augmentation)
    closer_size: int = 768  # no one fills the frame: matte again at this long side; 0 = off
    closer_extent: float = 0.7  # "fills the frame": largest person's box / image long side
    zoom: bool = True  # small subjects: infer again on a crop around them, enlarged
    zoom_size: int = 512  # long side (px) a zoomed crop is enlarged to
    clean_up: bool = True  # drop far specks and bystanders, fill small holes, clear far haze
    bystander_share: float = 0.2  # clean-up drops people below this share of the main one's
    # area unless near a bigger one; 0.01 keeps everyone but specks
    person_threshold: float = 0.002  # min share of the image that must be person
    # input limits (the contract's defaults)
    max_bytes: int = 3 * MB  # the image file
    max_body_bytes: int = 8 * MB  # the whole request body (file, fields, multipart framing)
    max_side: int = 1999  # width and height must each be at most this
    png_encoder: str = "isal"  # isal (numpy + ISA-L, about 7x faster) | pillow (humancut.png)
    png_compress_level: int = 1  # isal: 0-3; pillow: zlib's 0-9
    # the remove.bg family (docs/removebg.md) and the AILabTools HD route
    removebg_max_bytes: int = 22 * MB  # an image (file, base64 decoded or downloaded)
    removebg_max_pixels: int = 50_000_000  # input resolution; matted at max_model_side
    hd_max_bytes: int = 20 * MB  # the AILabTools HD route's image file
    hd_max_side: int = 5999  # ... and its width and height ("under 6000x6000")
    fetch_timeout: float = 15.0  # seconds one image_url / bg_image_url download may take
    fetch_allow: str = ""  # comma-separated non-public networks image_url may reach (tests:
    # 127.0.0.1); empty = public addresses only
    # server
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    # backends, by URL (store/__init__.py); empty = the embedded default under data_dir
    keys_url: str = ""  # sqlite://<data_dir>/keys.db
    results_url: str = ""  # file://<data_dir>/results
    limits_url: str = ""  # memory://
    # shared backends (docs/multi-process.md)
    backend_timeout: float = 5.0  # seconds to reach PostgreSQL/Redis/S3 before answering busy
    lease_ttl: float = 0.0  # seconds an in-flight slot (Redis) outlives a crashed server;
    # 0 = upload_timeout + request_timeout + 30
    limits_unreachable: str = "open"  # Redis down: open (admit, log a warning) | busy (503)
    s3_endpoint_url: str = ""  # an S3-compatible service; empty = AWS
    s3_urls: str = "api"  # image_url of S3 results: api (/api/results/..) | presigned
    runner: str = "thread"  # where the model runs: a name from humancut.runner.RUNNERS
    public_base_url: str = ""  # e.g. https://cut.example.com; empty = from the request
    result_ttl: int = 24 * 3600  # seconds a result URL stays valid
    sweep_interval: int = 300  # seconds between deletions of expired results
    workers: int = 2  # images processed at once
    queue_size: int = 16  # images waiting for a worker before 503
    request_timeout: float = 60.0  # seconds one image may take
    upload_timeout: float = 30.0  # seconds the whole request body may take to arrive
    rate_per_minute: int = 600  # per key, unless the key sets its own; 0 = unlimited
    max_in_flight: int = 8  # requests of one key in progress at once; 0 = unlimited
    cors_origins: str = ""  # comma-separated origins allowed to call the API; empty = CORS off
    trial_key: bool = False  # let the trial page work without a key (rate limited)
    trial_rate_per_minute: int = 10
    admin_token: str = ""  # enables /admin (the operator console, docs/admin.md) and guards
    # /metrics (docs/metrics.md); empty = /admin off, /metrics open
    admin_token_file: Path | None = None  # ... or read it from this file (contents stripped)
    log_level: str = "info"
    metrics: str = "on"  # GET /metrics, Prometheus' text format (docs/metrics.md): on | off
    # Ray (humancut[ray]: `serve --ray`, `cut --ray`; docs/ray.md)
    ray_address: str = ""  # join this cluster (host:port, auto); empty = start Ray on loopback
    ray_cpus: int = 0  # CPUs of a Ray started here; 0 = all of this machine's
    ray_num_cpus: float = 1.0  # CPUs reserved per model replica and per bulk actor
    ray_min_replicas: int = 1  # model replicas autoscaling keeps at least
    ray_max_replicas: int = 2  # ... and at most (also: bulk actors)
    ray_target_ongoing: float = 2.0  # autoscaling aims at this many requests per replica
    ray_ingress_replicas: int = 1  # replicas of the FastAPI app (HTTP ingress)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the preset's values, then `HUMANCUT_<FIELD>` variables, then
        non-None keyword overrides: whatever is set explicitly wins over the preset."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"HUMANCUT_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        values = preset_values(str(values.get("preset", DEFAULT_PRESET))) | values
        for name in ("model_path", "model_dir", "data_dir", "admin_token_file"):
            if isinstance(value := values.get(name), str):
                values[name] = Path(value)
        # Each value has its field's type (_parse, the presets); mypy cannot tie a dict's
        # values to the fields by name.
        return cls(**values)  # type: ignore[arg-type]

    def admin_secret(self) -> str:
        """The admin token: admin_token_file's contents (stripped) when set, else
        admin_token; "" = /admin is off. A file that cannot be read, or is empty, is an
        error (a console silently off would look like a network problem)."""
        if self.admin_token_file is None:
            return self.admin_token.strip()
        try:
            token = Path(self.admin_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"HUMANCUT_ADMIN_TOKEN_FILE={self.admin_token_file}: "
                             f"{exc.strerror or exc}") from None
        if not token:
            raise ValueError(f"HUMANCUT_ADMIN_TOKEN_FILE={self.admin_token_file} is empty")
        return token

    def replace(self, **changes: object) -> Settings:
        # The callers' keywords are fields of any type; the dataclass checks the names.
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _parse(type_name: object, raw: str, name: str) -> object:
    kind = str(type_name)
    try:
        if kind.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if "Path" in kind:
            return Path(raw).expanduser()
        return raw
    except ValueError:
        raise ValueError(f"HUMANCUT_{name.upper()}={raw!r} is not a valid {kind}") from None
