"""Remove the background behind the people in a photo, with httpx (pip install httpx).

    HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... IMAGE=photo.jpg python sample_httpx.py

Optional: RETURN_FORM (empty = transparent cut-out, mask, whiteBK or crop) and OUTPUT (a file
to save the PNG to). Prints the result URL (valid for 24 hours).
"""

import os
import sys

import httpx

base_url = os.environ.get("HUMANCUT_URL", "http://localhost:8000").rstrip("/")
api_key = os.environ["HUMANCUT_KEY"]
image = os.environ["IMAGE"]
return_form = os.environ.get("RETURN_FORM", "")

with open(image, "rb") as f:
    response = httpx.post(
        f"{base_url}/api/cutout/portrait/portrait-background-removal",
        headers={"ailabapi-api-key": api_key},
        files={"image": (os.path.basename(image), f)},
        data={"return_form": return_form},
        timeout=60,
    )
answer = response.json()
if response.status_code != 200 or answer["error_code"] != 0:
    detail = answer["error_detail"]
    sys.exit(f"failed: {detail['code']} (HTTP {response.status_code}): "
             f"{detail['message'] or answer['error_msg']}")

url = answer["data"]["image_url"]
print(url)
if os.environ.get("OUTPUT"):
    png = httpx.get(url, timeout=60)
    png.raise_for_status()
    with open(os.environ["OUTPUT"], "wb") as out:
        out.write(png.content)
