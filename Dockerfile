# The worker image (with its web face): `docker build -t feedbot .` then, for example,
#   docker run -d --name feedbot --env-file .env -v feedbot-data:/app/data feedbot
#   docker run -d -p 8080:8080 -e WEB_HOST=0.0.0.0 -e WEB_PASSWORD=... --env-file .env feedbot
# Several workers: run more containers with the same PostgreSQL DATABASE_URL (see deploy/).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them: the runtime lock, every transitive
# dependency pinned with its hashes. Every locked package ships a manylinux wheel (lxml,
# psycopg-binary), so the slim image needs no compiler.
COPY requirements.lock ./
RUN pip install --no-compile --require-hashes -r requirements.lock

# A dedicated unprivileged user; the code stays owned by root (read-only for the bot), only the
# SQLite folder is writable. With PostgreSQL nothing on disk is written at all.
RUN groupadd --system --gid 10001 feedbot \
    && useradd --system --uid 10001 --gid feedbot --home-dir /app --shell /usr/sbin/nologin feedbot \
    && mkdir -p /app/data \
    && chown feedbot:feedbot /app/data
COPY . .
USER feedbot
VOLUME ["/app/data"]

# The web face: `run` serves it on WEB_PORT beside the worker. Inside the container it listens on
# loopback only (WEB_HOST=127.0.0.1), enough for the health check; to publish the port
# (`-p 8080:8080`), set WEB_HOST=0.0.0.0 and WEB_PASSWORD.
ENV WEB_PORT=8080
EXPOSE 8080

# /healthz answers 200 or 503 with the same truth as `status --json` (a platform paused, a post
# failed for good, a feed dead, no poll within three poll intervals; README "Health checks"), so
# the engine marks the container unhealthy. The start period covers the first poll.
HEALTHCHECK --interval=2m --timeout=30s --start-period=3m --retries=3 \
    CMD ["python", "bot/healthcheck.py"]

# `run` stops within 10 s on SIGTERM (docker stop waits 10 s by default; use --stop-timeout 15).
STOPSIGNAL SIGTERM
CMD ["python", "main.py", "run"]
