# syntax=docker/dockerfile:1
# One image for every role. The entry point is `ces`; the command picks the role: `serve` (the
# default below), `worker`, `scheduler`, `migrate` (docker-compose.yml runs each).

# Build stage: the wheel, as .ci/run builds it and checks that it holds every file.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN pip install "build>=1.0"
COPY pyproject.toml setup.py README.md ./
COPY config ./config
COPY connectors ./connectors
COPY worker ./worker
RUN python -m build --wheel --outdir /dist

# Final stage: only the installed wheel, run by an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/dist,target=/dist pip install /dist/*.whl \
    && useradd --system --create-home --home-dir /home/ces ces
USER ces
WORKDIR /home/ces
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["ces"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
