# syntax=docker/dockerfile:1
# Build stage: install the package and its wheels into a virtual environment.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /venv
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /venv/bin/pip install --no-cache-dir .

# Run stage: only the environment, the knowledge files and an unprivileged user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app buergerbot \
    && mkdir -p /data && chown buergerbot /data
COPY --from=build /venv /venv
WORKDIR /app
COPY faq ./faq
COPY intents ./intents
ENV PATH="/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    BUERGERBOT_DATA_DIR=/data \
    BUERGERBOT_DATABASE_URL=sqlite:////data/buergerbot.db
VOLUME ["/data"]
USER buergerbot
# The knowledge must load and validate (the check start-up runs; a /healthz endpoint comes with
# the monitoring work and will replace this heavier check).
HEALTHCHECK --interval=5m --timeout=60s --start-period=30s \
    CMD buergerbot faq validate --quick >/dev/null 2>&1 || exit 1
ENTRYPOINT ["buergerbot"]
CMD ["run"]
