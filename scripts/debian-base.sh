#!/bin/sh
# A Debian bookworm base image with python3 (3.11), for building the humancut image where no
# container registry is reachable (docs/deploy.md): mmdebstrap makes the root filesystem from
# Debian's own archive, podman imports it. Both are cached: the tarball under
# ~/.cache/humancut/image/, the image in podman's storage; a second run does nothing.
#
#   scripts/debian-base.sh [IMAGE]     # default localhost/humancut-base:bookworm
set -eu
IMAGE=${1:-localhost/humancut-base:bookworm}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/humancut/image
TAR=$CACHE/debian-bookworm-python3.tar

if podman image exists "$IMAGE" 2>/dev/null; then
    echo "$IMAGE"
    exit 0
fi
mkdir -p "$CACHE"
if [ ! -s "$TAR" ]; then
    # minbase + python3; no documentation, manual pages or translations (about 50 MB less);
    # /usr merged by mmdebstrap's hook rather than the usrmerge package (which needs perl).
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3,python3-venv,ca-certificates \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$TAR.part" >&2
    mv "$TAR.part" "$TAR"
fi
podman import --quiet "$TAR" "$IMAGE" >&2
echo "$IMAGE"
