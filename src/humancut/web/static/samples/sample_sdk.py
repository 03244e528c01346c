"""Remove the background behind the people in a photo, with the official AILabTools SDK
(pip install ailabtools-sdk), pointed at a humancut server by its base URL.

    HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... IMAGE=photo.jpg python sample_sdk.py

Optional: RETURN_FORM (empty = transparent cut-out, mask, whiteBK or crop) and OUTPUT (a file
to save the PNG to). Prints the result URL (valid for 24 hours).
"""

import asyncio
import os
import sys
import urllib.request

from ailabtools import AILabApiError, AILabClient

base_url = os.environ.get("HUMANCUT_URL", "http://localhost:8000").rstrip("/")
api_key = os.environ["HUMANCUT_KEY"]
image = os.environ["IMAGE"]
return_form = os.environ.get("RETURN_FORM", "")


async def main() -> str:
    client = AILabClient(api_key, base_url=base_url, timeout=60)
    try:
        params: dict[str, bytes | str] = {"image": open(image, "rb").read()}
        if return_form:
            params["returnForm"] = return_form
        answer = await client.cutout.cutoutHumanBackgroundRemoval(params)
    finally:
        await client.aclose()
    return answer["data"]["image_url"]


try:
    url = asyncio.run(main())
except AILabApiError as exc:  # raised when the HTTP status is not 200 or error_code != 0
    sys.exit(f"failed: {exc.detail.code} (HTTP {exc.detail.status_code}): {exc}")

print(url)
if os.environ.get("OUTPUT"):
    urllib.request.urlretrieve(url, os.environ["OUTPUT"])
