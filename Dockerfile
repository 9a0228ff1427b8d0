# RevSearch: the HTTP API and web UI (`revsearch serve`), CPU only, no PyTorch.
# Not built here: no container engine runs on the machines this was written on
# (see docs/deployment.md, "What was and was not run").
#
#   docker build -t revsearch .
#   docker build --build-arg EXTRAS=serve,s3 -t revsearch .   # without the Milvus client
#
# The default encoder ships inside the package (src/revsearch/models/); another model can be
# mounted and named with REVSEARCH_MODEL (docs/deployment.md, "The encoder model").

FROM python:3.11-slim AS build
# serve: FastAPI + uvicorn; s3: boto3 (images in MinIO/S3); milvus: the vector-server client.
ARG EXTRAS=serve,s3,milvus
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Wheels for the package and every dependency; the PyPI onnxruntime wheel is the CPU build.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[${EXTRAS}]"

FROM python:3.11-slim
ARG EXTRAS=serve,s3,milvus
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REVSEARCH_HOME=/data \
    REVSEARCH_CATALOG=/data/catalog
COPY --from=build /wheels /wheels
# Only the wheels built above (--no-index): the image holds exactly what was resolved there.
# hadolint ignore=DL3013
RUN pip install --no-index --find-links /wheels "revsearch[${EXTRAS}]" \
    && rm -rf /wheels \
    && groupadd --gid 10001 revsearch \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin revsearch \
    && mkdir -p /data /models /opt/revsearch/empty \
    && chown 10001:10001 /data
# Numeric, so orchestrators can check "not root" without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/revsearch
EXPOSE 8000
# Liveness only (/readyz says when the index is loaded and the model warmed up).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["revsearch", "serve", "--host", "0.0.0.0", "--port", "8000"]
