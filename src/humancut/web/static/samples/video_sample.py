"""Remove the background behind the people in a video, with httpx: submit, then poll.

    HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... VIDEO=clip.mp4 python video_sample.py

Optional: RETURN_FORM (webm = transparent, the default; mov, png_zip, mask or whiteBK) and
OUTPUT (a file to save the result to). Prints the progress, then the result URL (valid for
24 hours)."""

import os
import sys
import time

import httpx

base = os.environ.get("HUMANCUT_URL", "http://localhost:8000").rstrip("/")
headers = {"ailabapi-api-key": os.environ["HUMANCUT_KEY"]}

with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
    with open(os.environ["VIDEO"], "rb") as clip:
        answer = client.post("/api/cutout/portrait/video-background-removal",
                             files={"video": clip},
                             data={"return_form": os.environ.get("RETURN_FORM") or "webm"}).json()
    while answer["error_code"] == 0 and answer.get("task_status") in (0, 1):
        time.sleep(2)
        answer = client.get("/api/common/query-async-task-result",
                            params={"task_id": answer["task_id"]}).json()
        print(f"progress {answer.get('data', {}).get('progress', 0)}%", file=sys.stderr)
    if answer["error_code"] != 0:  # refused at once, or the task failed (task_status 3)
        detail = answer["error_detail"]
        sys.exit(f"failed: {detail['code']}: {detail['message']}")
    url = answer["data"]["video_url"]
    print(url)
    if os.environ.get("OUTPUT"):
        with open(os.environ["OUTPUT"], "wb") as out:
            out.write(client.get(url).content)
