"""What is not an API family: the trial page and its static files, the demo key, health."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import admin
from ..errors import HumancutError
from ..settings import Settings
from ..store import KeyStore
from .service import service_of

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
SAMPLES = {"sample.sh": ("curl", "sh"), "sample_httpx.py": ("Python, httpx", "python"),
           "sample_sdk.py": ("Python, ailabtools-sdk", "python"),
           "sample_fetch.js": ("JavaScript, fetch", "javascript")}
TRIAL_NAME = "trial page (made at start)"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> Response:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/api/trial", summary="The demo key for the trial page, when enabled")
async def trial(request: Request) -> JSONResponse:
    secret = request.app.state.trial_secret
    if not secret:
        raise HumancutError("not_found", "Trial mode is off on this server.")
    return JSONResponse({"enabled": True, "key": secret,
                         "rate_per_minute": service_of(request).settings.trial_rate_per_minute},
                        headers={"Cache-Control": "no-store"})


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready: the model is loaded and the server is not stopping")
async def readyz(request: Request) -> JSONResponse:
    if request.app.state.draining:  # SIGTERM: the load balancer should stop sending calls
        raise HumancutError("busy", "The server is stopping.")
    if not service_of(request).runner.ready:
        raise HumancutError("busy", "The model is still loading.")
    return JSONResponse({"status": "ready"})


def new_trial_key(keys: KeyStore, settings: Settings) -> str:
    """A fresh demo key for this run; the previous runs' ones are revoked (both audited, as
    the server's own changes)."""
    for old in keys.list():
        if old.name == TRIAL_NAME and old.status != "revoked":
            admin.update_key(keys, admin.SERVER_ACTOR, old.id, {"status": "revoked"})
    _, secret = admin.create_key(keys, admin.SERVER_ACTOR, name=TRIAL_NAME,
                                 rate_per_minute=settings.trial_rate_per_minute,
                                 max_in_flight=1)
    return secret


REMOVEBG_CLIENTS = """
### remove.bg clients

The same keys also work with remove.bg's API: `POST /v1.0/removebg` and `GET /v1.0/account`
(aliases `/api/removebg`, `/api/account`) with the `X-Api-Key` header. Tested clients and the
line that points each at this server (`HOST` is this server's address):

- PyPI `removebg`: `removebg.removebg.API_ENDPOINT = "http://HOST/v1.0/removebg"`
- PyPI `remove-bg-api`: `remove_bg_api.API_URL = "http://HOST/v1.0"`
- npm `remove.bg`: replace `https://api.remove.bg/v1.0/removebg` in its `dist/index.js`

Every parameter that makes sense for people is served (size, format incl. zip, channels,
crop, crop_margin, scale, position, roi, bg_color, bg_image_file, bg_image_url);
`semitransparency` and the shadow fields are accepted without effect. One image costs one
credit. Details: docs/removebg.md in the repository.
"""


def describe(route: str) -> str:
    """The /docs front matter: what the service is, then the sample programs as shipped."""
    text = ("Human background removal, compatible with AILabTools' API: POST a photo as "
            f"multipart/form-data to `{route}` with the `ailabapi-api-key` header. The "
            "samples read HUMANCUT_URL, HUMANCUT_KEY and IMAGE from the environment; they are "
            "also served at `/static/samples/<name>`.\n")
    text += REMOVEBG_CLIENTS
    for name, (title, lang) in SAMPLES.items():
        code = (STATIC / "samples" / name).read_text(encoding="utf-8").strip()
        text += f"\n### {title} (`{name}`)\n\n```{lang}\n{code}\n```\n"
    return text
