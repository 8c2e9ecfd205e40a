# The Mulu image (issue 14): one image for every role, chosen by its command.
#   web:     mulu serve --host 0.0.0.0 --workers 4          (the default below)
#   loads:   mulu worker                                     (a Celery worker, same image)
#   Dagster: the user code deployment of Dagster's Helm chart (docs/deploy.md, "Kubernetes")
# Configuration comes from the environment (MULU_DATABASE_URL, MULU_LAKE_CATALOG_URL, …: every
# setting is in docs/deploy.md), never from the image.
#
#   docker build -t mulu:0.1.0 .
#   docker run -p 8000:8000 -e MULU_DATABASE_URL=postgresql://mulu:…@db:5432/mulu mulu:0.1.0
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The sources only (.dockerignore keeps out tests, .venv, workspaces and git).
WORKDIR /opt/mulu/src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY warehouse ./warehouse
COPY quality ./quality
COPY catalog ./catalog
COPY pipelines ./pipelines
COPY mulu ./mulu
# Every dependency is pinned in pyproject.toml and ships as a wheel for linux (amd64, arm64):
# no compiler. DuckDB's extensions are pip packages too: nothing is downloaded at run time.
RUN pip install . \
    && cd / && rm -rf /opt/mulu

# A user of its own, no root: the workspace (MULU_HOME) is its only writable folder; mount a
# volume there for the embedded defaults, or point the settings at shared engines.
RUN useradd --system --create-home --uid 10001 --home-dir /home/mulu mulu \
    && mkdir -p /var/lib/mulu \
    && chown mulu:mulu /var/lib/mulu
USER mulu
WORKDIR /var/lib/mulu
ENV MULU_HOME=/var/lib/mulu \
    MULU_LOG_FORMAT=json

EXPOSE 8000
# For docker and compose; Kubernetes uses its own probes on /healthz and /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"

CMD ["mulu", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
