# One image for every role: `ces serve`, `ces worker`, `ces scheduler`, `ces migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY connectors ./connectors
COPY worker ./worker
RUN pip install . && useradd --system --home-dir /app ces
USER ces
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["ces", "serve", "--host", "0.0.0.0", "--port", "8000"]
