"""One typed settings object, from `HUMANCUT_*` environment variables and overridden by flags.

Each field declares what it accepts, here and nowhere else: a `Literal` lists a choice's
values, `Annotated[..., Range(...)]` bounds a number. `Settings(...)` checks every field when
it is built (a bad value is a SettingError naming the setting, the value and what is allowed),
so the library, `serve`, `cut` and `keys` refuse it before doing anything.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from .presets import DEFAULT_PRESET, preset_values

MB = 1024 * 1024


@dataclass(frozen=True)
class Range:
    """Bounds of a number setting: lo <= value (lo < value when `above`), value <= hi."""

    lo: float | None = None
    hi: float | None = None
    above: bool = False  # the lower bound itself is not allowed (a timeout of 0)

    def allows(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.above else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def describe(self) -> str:
        if self.hi is None:
            return f"a number {'above' if self.above else 'at least'} {self.lo:g}"
        return f"from {self.lo:g} to {self.hi:g}"


class Secret:
    """Marks a setting shown as *** by `humancut config` and in messages."""


class SettingError(ValueError):
    """A setting's value is not allowed. `label` is how the user wrote the setting (the
    variable, the flag, or the field name in the library)."""

    def __init__(self, name: str, value: object, allowed: str, label: str = ""):
        self.name, self.value, self.allowed = name, value, allowed
        self.label = label or name
        shown = "***" if name in SECRETS and value else value
        said = f"{self.label} {shown!r}" if self.label.startswith("--") else \
            f"{self.label}={shown!r}"
        super().__init__(f"{said}: {allowed}")

    def as_written(self, label: str, value: object = None) -> SettingError:
        """The same error, naming the setting (and its value) as the user wrote them."""
        return SettingError(self.name, self.value if value is None else value, self.allowed,
                            label)


def _default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "humancut" / "models"


Size = Annotated[int, Range(0)]  # px; 0 = off where the field says so
Positive = Annotated[int, Range(1)]
Seconds = Annotated[float, Range(0, above=True)]
Share = Annotated[float, Range(0, 1)]
Amount = Annotated[float, Range(0)]
PositiveAmount = Annotated[float, Range(0, above=True)]


@dataclass(frozen=True)
class Settings:
    # engine
    preset: Literal["fast", "balanced", "best"] = DEFAULT_PRESET  # type: ignore[assignment]  # fast | balanced | best: fills in the pipeline and PNG
    # settings below that are not set explicitly (humancut.presets)
    model: Literal["rvm_mobilenetv3"] = "rvm_mobilenetv3"  # humancut.engine.MODELS' names
    model_path: Path | None = None  # use this file instead of the model directory
    model_dir: Path = field(default_factory=_default_model_dir)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto | cpu | cuda
    threads: Size = 0  # onnxruntime intra-op threads; 0 = one per core
    inference_size: Annotated[int, Range(32)] = 512  # long side (px) the model sees
    passes: Positive = 1  # times the image is fed so RVM's recurrent state settles
    max_model_side: Size = 640  # larger photos are matted at this long side, then scaled up
    fusion_size: Size = 320  # also infer at this long side and average the alphas; 0 = off
    fuse_above: Share = 0.0  # adaptive: fuse only when the first view's uncertain share (soft
    # pixels / person pixels) is at least this; 0 = always fuse
    view_scale: Amount = 2.0  # each view runs on the photo scaled to at most this x its
    # encoder size (RVM's guided filter then works on fewer pixels); 0 = the model side
    flip: bool = False  # also infer on the mirrored image and average (test-time augmentation)
    closer_size: Size = 768  # no one fills the frame: matte again at this long side; 0 = off
    closer_extent: Share = 0.7  # "fills the frame": largest person's box / image long side
    zoom: bool = True  # small subjects: infer again on a crop around them, enlarged
    zoom_size: Annotated[int, Range(32)] = 512  # long side (px) a zoomed crop is enlarged to
    clean_up: bool = True  # drop far specks and bystanders, fill small holes, clear far haze
    bystander_share: Share = 0.2  # clean-up drops people below this share of the main one's
    # area unless near a bigger one; 0.01 keeps everyone but specks
    person_threshold: Share = 0.002  # min share of the image that must be person
    # input limits (the contract's defaults)
    max_bytes: Positive = 3 * MB  # the image file
    max_body_bytes: Positive = 8 * MB  # the whole request body (file, fields, multipart framing)
    max_side: Positive = 1999  # width and height must each be at most this
    # isal (numpy + ISA-L, about 7x faster) | pillow (humancut.png)
    png_encoder: Literal["isal", "pillow"] = "isal"
    png_compress_level: Annotated[int, Range(0, 9)] = 1  # isal: 0-3 (checked); pillow: 0-9
    # the remove.bg family (docs/removebg.md) and the AILabTools HD route
    removebg_max_bytes: Positive = 22 * MB  # an image (file, base64 decoded or downloaded)
    removebg_max_pixels: Positive = 50_000_000  # input resolution; matted at max_model_side
    hd_max_bytes: Positive = 20 * MB  # the AILabTools HD route's image file
    hd_max_side: Positive = 5999  # ... and its width and height ("under 6000x6000")
    # memory on large photos (docs/limits.md#memory): pixels decoded and being cut out at
    # once across the workers; a photo waits for room (one larger than this runs alone);
    # 0 = no limit
    max_pixels_in_flight: Size = 80_000_000
    # onnxruntime's CPU memory arena keeps the largest run's buffers (150-200 MB here) for
    # the next; off: they go back after each run (no measurable cost at this model's sizes)
    cpu_arena: bool = False
    # video (docs/video.md): limits checked from the container header, before decoding
    video_max_bytes: Positive = 100 * MB  # the clip file
    video_max_seconds: Seconds = 60.0  # its duration
    video_max_side: Positive = 1920  # its frame's long side (px, upright)
    video_size: Annotated[int, Range(64)] = 512  # long side (px) the model's encoder sees
    # video parallel chunks (issue 27 item 5, video/chunks.py): a clip of 4 s or more cut at
    # keyframes and matted by `workers` processes; auto: only when the machine has more cores
    # than workers (the calling process decodes and encodes beside them)
    video_chunks: Literal["auto", "on", "off"] = "auto"
    # video API (docs/video.md#api): tasks on a pool of their own, apart from the photos'
    video_workers: Positive = 1  # clips this server processes at once
    video_threads: Size = 1  # onnxruntime threads per clip; 0 = one per core
    video_queue_size: Size = 20  # open (queued or processing) video tasks in the key store
    # before submissions answer busy (503, Retry-After); 0 = unbounded
    video_queue_per_key: Size = 5  # ... of one key before rate_limited (429); 0 = unbounded
    video_lease: Seconds = 30.0  # seconds a processing task stays claimed without a heartbeat
    # (then another start, on any server, takes it over)
    video_attempts: Positive = 2  # starts of a task (after crashes) before it fails
    video_upload_dir: Path | None = None  # where clips wait for their task; None =
    # <data_dir>/video-uploads (servers sharing one PostgreSQL must share this folder)
    webhook_secret: Annotated[str, Secret] = ""  # HMAC-SHA256 key of callback_url POSTs;
    # empty = callback_url refused
    webhook_timeout: Seconds = 10.0  # seconds one webhook POST may take (3 tries)
    fetch_timeout: Seconds = 15.0  # seconds one image_url / bg_image_url download may take
    fetch_allow: str = ""  # comma-separated non-public networks image_url may reach (tests:
    # 127.0.0.1); empty = public addresses only
    # server
    host: str = "127.0.0.1"
    port: Annotated[int, Range(0, 65535)] = 8000  # 0 = any free port
    data_dir: Path = Path("data")
    # backends, by URL (store/__init__.py); empty = the embedded default under data_dir
    keys_url: str = ""  # sqlite://<data_dir>/keys.db
    results_url: str = ""  # file://<data_dir>/results
    limits_url: str = ""  # memory://
    # shared backends (docs/multi-process.md)
    backend_timeout: Seconds = 5.0  # seconds to reach PostgreSQL/Redis/S3 before answering busy
    lease_ttl: Amount = 0.0  # seconds an in-flight slot (Redis) outlives a crashed server;
    # 0 = upload_timeout + request_timeout + 30
    # Redis down: open (admit, log a warning) | busy (503)
    limits_unreachable: Literal["open", "busy"] = "open"
    s3_endpoint_url: str = ""  # an S3-compatible service; empty = AWS
    # image_url of S3 results: api (/api/results/..) | presigned
    s3_urls: Literal["api", "presigned"] = "api"
    # where the model runs: a name from humancut.runner.RUNNERS (a test checks)
    runner: Literal["thread", "ray"] = "thread"
    public_base_url: str = ""  # e.g. https://cut.example.com; empty = from the request
    result_ttl: Positive = 24 * 3600  # seconds a result URL stays valid
    sweep_interval: Positive = 300  # seconds between deletions of expired results
    workers: Positive = 2  # images processed at once
    queue_size: Size = 16  # images waiting for a worker before 503
    request_timeout: Seconds = 60.0  # seconds one image may take
    upload_timeout: Seconds = 30.0  # seconds the whole request body may take to arrive
    # rolling restarts (docs/deploy.md#rolling-restarts): after SIGTERM, /readyz answers 503
    # at once and calls are still taken for this many seconds, so a load balancer's health
    # check takes the server out before its listener closes; 0 = close it at once
    drain_seconds: Amount = 0.0
    rate_per_minute: Size = 600  # per key, unless the key sets its own; 0 = unlimited
    max_in_flight: Size = 8  # requests of one key in progress at once; 0 = unlimited
    cors_origins: str = ""  # comma-separated origins allowed to call the API; empty = CORS off
    trial_key: bool = False  # let the trial page work without a key (rate limited)
    trial_rate_per_minute: Size = 10
    # enables /admin (the operator console, docs/admin.md) and guards /metrics
    # (docs/metrics.md); empty = /admin off, /metrics open
    admin_token: Annotated[str, Secret] = ""
    admin_token_file: Path | None = None  # ... or read it from this file (contents stripped)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # GET /metrics, Prometheus' text format (docs/metrics.md): on | off
    metrics: Literal["on", "off"] = "on"
    # Ray (humancut[ray]: `serve --ray`, `cut --ray`; docs/ray.md)
    ray_address: str = ""  # join this cluster (host:port, auto); empty = start Ray on loopback
    ray_cpus: Size = 0  # CPUs of a Ray started here; 0 = all of this machine's
    ray_num_cpus: Amount = 1.0  # CPUs reserved per model replica and per bulk actor
    ray_min_replicas: Size = 1  # model replicas autoscaling keeps at least
    ray_max_replicas: Positive = 2  # ... and at most (also: bulk actors)
    ray_target_ongoing: PositiveAmount = 2.0  # autoscaling aims at this many requests per replica
    ray_ingress_replicas: Positive = 1  # replicas of the FastAPI app (HTTP ingress)

    def __post_init__(self) -> None:
        for name, (choices, bounds) in _RULES.items():
            value = getattr(self, name)
            if choices and value not in choices:
                raise SettingError(name, value,
                                   f"must be one of {', '.join(map(str, choices))}")
            if bounds and not (isinstance(value, int | float) and bounds.allows(value)):
                raise SettingError(name, value, f"must be {bounds.describe()}")
        if self.png_encoder == "isal" and self.png_compress_level > 3:  # ISA-L has levels 0-3
            raise SettingError("png_compress_level", self.png_compress_level,
                               "must be 0 to 3 with png_encoder isal (0 to 9 with pillow)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the preset's values, then `HUMANCUT_<FIELD>` variables, then
        non-None keyword overrides: whatever is set explicitly wins over the preset."""
        return cls.resolve(env, overrides)[0]

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None,
                overrides: dict[str, object] | None = None, *,
                flags: bool = False) -> tuple[Settings, dict[str, str]]:
        """Settings as `from_env` makes them, and where each came from: "default", "preset
        NAME", "environment HUMANCUT_X" or "flag --x" (`flags`: the overrides are command-line
        flags, so a bad one is named as the user typed it)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        labels: dict[str, str] = {}
        raws: dict[str, str] = {}  # a variable's text, shown as written when refused
        for f in dataclasses.fields(cls):
            var = f"HUMANCUT_{f.name.upper()}"
            raw = env.get(var)
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw, var)
                labels[f.name], raws[f.name] = var, raw
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
                labels[name] = f"--{name.replace('_', '-')}" if flags else name
                raws.pop(name, None)
        for name in ("model_path", "model_dir", "data_dir", "admin_token_file",
                     "video_upload_dir"):
            if isinstance(value := values.get(name), str):
                values[name] = Path(value)
        try:
            # The preset fills in the rest (_with_preset). Each value has its field's type
            # (_parse); mypy cannot tie a dict's values to the fields by name.
            settings = cls(**values)  # type: ignore[arg-type]
        except SettingError as exc:
            raise exc.as_written(labels.get(exc.name, exc.name), raws.get(exc.name)) from None
        origins = {f.name: "default" for f in dataclasses.fields(cls)}
        origins |= {name: f"preset {settings.preset}" for name in preset_values(settings.preset)}
        origins |= {name: ("flag " if label.startswith("--") else "environment ") + label
                    for name, label in labels.items()}
        return settings, origins

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


def _with_preset(init: Any) -> Any:
    """`Settings(preset="best", zoom=False)`: the preset fills in what is not given, as in
    `from_env`. (dataclasses.replace passes every field, so it changes only what it names.)"""

    @functools.wraps(init)
    def __init__(self: Settings, **values: Any) -> None:
        preset = values.get("preset", DEFAULT_PRESET)
        try:
            filled = preset_values(str(preset))
        except ValueError:
            raise _bad_preset(preset, "preset") from None
        init(self, **(filled | values))

    return __init__


Settings.__init__ = _with_preset(Settings.__init__)  # type: ignore[method-assign]


def _bad_preset(value: object, label: str) -> SettingError:
    return SettingError("preset", value, f"must be one of {', '.join(choices('preset'))}", label)


def _rules() -> dict[str, tuple[tuple[object, ...], Range | None]]:
    """Per field: the values a Literal allows, and an Annotated Range."""
    rules: dict[str, tuple[tuple[object, ...], Range | None]] = {}
    for name, hint in typing.get_type_hints(Settings, include_extras=True).items():
        bounds = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Range)),
                      None)
        base = typing.get_args(hint)[0] if bounds else hint
        choices = typing.get_args(base) if typing.get_origin(base) is Literal else ()
        if choices or bounds:
            rules[name] = (choices, bounds)
    return rules


def _secrets() -> frozenset[str]:
    hints = typing.get_type_hints(Settings, include_extras=True)
    # marked, or named like one (a field added without the marker is still not shown)
    return frozenset(n for n, h in hints.items()
                     if any(m is Secret for m in getattr(h, "__metadata__", ()))
                     or n.endswith("token") or "password" in n or "secret" in n)


_RULES = _rules()
SECRETS = _secrets()
FIELDS = tuple(f.name for f in dataclasses.fields(Settings))


def choices(name: str) -> list[str]:
    """The values a choice-type setting allows (for argparse's `choices`)."""
    return [str(c) for c in _RULES[name][0]]


def is_choice(name: str) -> bool:
    return bool(_RULES.get(name, ((), None))[0])


def bounds(name: str) -> Range | None:
    return _RULES.get(name, ((), None))[1]


# HUMANCUT_* variables that are not settings: the samples', the tests' and the bench's
OTHER_VARIABLES = ("HUMANCUT_URL", "HUMANCUT_KEY", "HUMANCUT_EVAL_DIR", "HUMANCUT_LOAD_REQUESTS",
                   "HUMANCUT_CHROMIUM", "HUMANCUT_ROLLING_SECONDS")


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each HUMANCUT_* variable that no setting reads, with the nearest name."""
    env = os.environ if env is None else env
    known = [f"HUMANCUT_{n.upper()}" for n in FIELDS]
    warnings = []
    for var in sorted(env):
        if var.startswith("HUMANCUT_") and var not in known and var not in OTHER_VARIABLES:
            near = difflib.get_close_matches(var, known + list(OTHER_VARIABLES), n=1)
            hint = f"; did you mean {near[0]}?" if near else " (humancut config lists them)"
            warnings.append(f"{var}: unknown setting{hint}")
    return warnings


def _parse(name: str, raw: str, var: str) -> object:
    kind = _TYPES[name]
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind in (int, float):
            return kind(raw)
        if "Path" in str(kind):
            return Path(raw).expanduser()
        return raw
    except ValueError:
        noun = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
        raise SettingError(name, raw, f"must be {noun}", var) from None


_TYPES = typing.get_type_hints(Settings)
