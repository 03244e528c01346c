# humancut's container image (docs/deploy.md).
#
#   docker build -t humancut .                              # or: make image
#   docker build --build-arg EXTRAS=postgres,redis,s3 -t humancut:shared .
#   docker run -p 8000:8000 -v humancut-data:/data humancut
#   docker run -v humancut-data:/data humancut keys create --name me
#
# BASE is any Debian-like image with python3 (3.11+) and its venv module; EXTRAS is a
# comma-separated list of humancut's extras (postgres, redis, s3, ray, bench); ONNXRUNTIME
# the onnxruntime package (onnxruntime-gpu for the CUDA variant, docs/deploy.md).
ARG BASE=python:3.12-slim-bookworm

# ---- build: the humancut wheel (the source tree stays in this stage) -------------------
FROM ${BASE} AS build
RUN python3 -m venv /opt/build
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /src

# ---- the image: a venv with the wheel and its dependencies, the model, no compilers ----
FROM ${BASE}
ARG EXTRAS=""
ARG ONNXRUNTIME=onnxruntime
ENV PATH=/opt/humancut/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HUMANCUT_DATA_DIR=/data \
    HUMANCUT_MODEL_DIR=/opt/humancut/models

# Dependencies first, from pyproject.toml alone: this layer is reused while only the
# source changes. ONNXRUNTIME replaces onnxruntime (onnxruntime-gpu on a CUDA base). The
# packages' own test suites (about 50 MB) and setuptools are not needed.
COPY pyproject.toml /tmp/pyproject.toml
RUN python3 -m venv /opt/humancut \
 && python3 -c 'import sys, tomllib; \
p = tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]; \
known = {k: v for k, v in p["optional-dependencies"].items() if k != "test"}; \
extras = [e.strip() for e in sys.argv[1].split(",") if e.strip()]; \
bad = [e for e in extras if e not in known]; \
names = ", ".join(known); \
bad and sys.exit(f"EXTRAS: unknown extra {bad[0]!r} (known: {names})"); \
reqs = p["dependencies"] + [r for e in extras for r in known[e]]; \
print("\n".join(r.replace("onnxruntime", sys.argv[2], 1) for r in reqs))' \
    "$EXTRAS" "$ONNXRUNTIME" > /tmp/requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt \
 && pip uninstall --yes --quiet setuptools \
 && find /opt/humancut/lib -depth -type d -name tests -exec rm -rf {} + \
 && rm /tmp/pyproject.toml /tmp/requirements.txt

COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && PIP_NO_CACHE_DIR=1 humancut models fetch \
 && useradd --system --user-group --uid 10001 --create-home humancut \
 && mkdir /data && chown humancut:humancut /data

USER humancut
WORKDIR /data
VOLUME /data
EXPOSE 8000
# No curl in the image: python asks /readyz (the model is loaded) on the configured port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HUMANCUT_PORT', '8000') + '/readyz', timeout=4)"]
ENTRYPOINT ["humancut"]
CMD ["serve", "--host", "0.0.0.0"]
