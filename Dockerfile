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
# The knowledge must load and validate: the same check start-up runs.
HEALTHCHECK --interval=60s --timeout=30s --start-period=20s \
    CMD buergerbot faq validate --quick >/dev/null 2>&1 || exit 1
ENTRYPOINT ["buergerbot"]
CMD ["run"]
