# The one codedrop image: every part of docker-compose.yml runs a `codedrop` subcommand in it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY api ./api
COPY bots ./bots
COPY scheduler ./scheduler
COPY cli ./cli
RUN pip install . && useradd --system --uid 10001 codedrop
USER codedrop
EXPOSE 8000
CMD ["codedrop", "run", "--host", "0.0.0.0", "--port", "8000"]
