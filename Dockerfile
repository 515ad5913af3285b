# The one codedrop image: every part of docker-compose.yml runs a `codedrop` subcommand in it.
# Its default command runs everything in one process on the embedded default (SQLite and
# objects in /data, a volume its non-root user owns).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY api ./api
COPY bots ./bots
COPY scheduler ./scheduler
COPY cli ./cli
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin codedrop \
    && mkdir -p /data \
    && chown codedrop:codedrop /data
# the working folder holds the embedded default's SQLite file and data/objects
WORKDIR /data
VOLUME /data
USER codedrop
EXPOSE 8000
# readiness of the default command's API; compose gives each part its own check
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3)"]
# `codedrop run` stops gracefully on SIGTERM (docker stop) within CODEDROP_SHUTDOWN_TIMEOUT
STOPSIGNAL SIGTERM
CMD ["codedrop", "run", "--host", "0.0.0.0", "--port", "8000"]
