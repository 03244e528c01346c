#!/bin/sh
# Remove the background behind the people in a video, with curl: submit, then poll.
#
#   HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... VIDEO=clip.mp4 sh video_sample.sh
#
# Optional: RETURN_FORM (webm = transparent, the default; mov, png_zip, mask or whiteBK) and
# OUTPUT (a file to save the result to). Prints the result URL (valid for 24 hours).
set -eu
HUMANCUT_URL="${HUMANCUT_URL:-http://localhost:8000}"
HUMANCUT_URL="${HUMANCUT_URL%/}"
: "${HUMANCUT_KEY:?set HUMANCUT_KEY to your API key}"
: "${VIDEO:?set VIDEO to the path of a clip}"

answer=$(curl -sS -H "ailabapi-api-key: $HUMANCUT_KEY" -F "video=@$VIDEO" \
  -F "return_form=${RETURN_FORM:-webm}" \
  "$HUMANCUT_URL/api/cutout/portrait/video-background-removal")
task=$(printf '%s' "$answer" | sed -n 's/.*"task_id" *: *"\([^"]*\)".*/\1/p')
if [ -z "$task" ]; then
  echo "failed: $answer" >&2  # error_detail.code and error_detail.message say why
  exit 1
fi

while :; do  # task_status: 0 queued, 1 processing, 2 done, 3 failed
  answer=$(curl -sS -H "ailabapi-api-key: $HUMANCUT_KEY" \
    "$HUMANCUT_URL/api/common/query-async-task-result?task_id=$task")
  status=$(printf '%s' "$answer" | sed -n 's/.*"task_status" *: *\([0-9]\).*/\1/p')
  case "$status" in
    2) break ;;
    0|1) sleep 2 ;;
    *) echo "failed: $answer" >&2; exit 1 ;;
  esac
done
url=$(printf '%s' "$answer" | sed -n 's/.*"video_url" *: *"\([^"]*\)".*/\1/p')
echo "$url"
if [ -n "${OUTPUT:-}" ]; then
  curl -sS -f -o "$OUTPUT" "$url"
fi
