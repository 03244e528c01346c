#!/bin/sh
# Remove the background behind the people in a photo, with curl.
#
#   HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... IMAGE=photo.jpg sh sample.sh
#
# Optional: RETURN_FORM (empty = transparent cut-out, mask, whiteBK or crop) and OUTPUT
# (a file to save the PNG to). Prints the result URL (valid for 24 hours).
set -eu
HUMANCUT_URL="${HUMANCUT_URL:-http://localhost:8000}"
: "${HUMANCUT_KEY:?set HUMANCUT_KEY to your API key}"
: "${IMAGE:?set IMAGE to the path of a photo}"
RETURN_FORM="${RETURN_FORM:-}"

answer=$(curl -sS \
  -H "ailabapi-api-key: $HUMANCUT_KEY" \
  -F "image=@$IMAGE" \
  -F "return_form=$RETURN_FORM" \
  "${HUMANCUT_URL%/}/api/cutout/portrait/portrait-background-removal")

# The answer is JSON; with jq: printf '%s' "$answer" | jq -r .data.image_url
url=$(printf '%s' "$answer" | sed -n 's/.*"image_url" *: *"\([^"]*\)".*/\1/p')
if [ -z "$url" ]; then
  echo "failed: $answer" >&2  # error_detail.code and error_detail.message say why
  exit 1
fi
echo "$url"
if [ -n "${OUTPUT:-}" ]; then
  curl -sS -f -o "$OUTPUT" "$url"
fi
