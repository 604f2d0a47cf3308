# Heartbeat: the wheel in a slim Python image, run as a non-root user. Not built on the development machines
# (no Docker daemon there); docs/deploy.md says how to build and run it. The project directory is mounted at
# /project, secrets come from an env file, state (dlt working folders) lives in /var/lib/heartbeat.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY heartbeat_core ./heartbeat_core
COPY heartbeat_cli ./heartbeat_cli
COPY heartbeat_web ./heartbeat_web
COPY heartbeat_mcp ./heartbeat_mcp
COPY heartbeat_demo ./heartbeat_demo
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/heartbeat heartbeat \
    && mkdir -p /var/lib/heartbeat /project \
    && chown heartbeat:heartbeat /var/lib/heartbeat /project
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV HEARTBEAT_HOME=/var/lib/heartbeat \
    HEARTBEAT_PROJECT=/project \
    PYTHONUNBUFFERED=1
USER heartbeat
WORKDIR /project
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["heartbeat"]
CMD ["serve", "--port", "8787"]
