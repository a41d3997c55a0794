# One image for every semon process (ingest, alerts, api, migrations, broker
# files); docker-compose.yml picks the process with the command.
# Two stages: wheels are built with the compilers, the runtime has none.
FROM python:3.11.10-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cli ./cli
COPY semon ./semon
COPY ingest ./ingest
COPY alerts ./alerts
COPY api ./api
COPY simulators ./simulators
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.10-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
# broker-auth: `semon broker files` runs as Mosquitto's uid (1883) and writes
# here, so the broker can read the files and reload them on SIGHUP.
RUN pip install --no-index --find-links=/wheels semon && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/semon --create-home semon \
    && install -d -o 1883 -g 1883 -m 0700 /var/lib/semon/broker-auth
USER semon
WORKDIR /var/lib/semon
# The API listens here; ingest and alerts serve /metrics on their metrics ports.
EXPOSE 8000 9101 9102
ENTRYPOINT ["semon"]
CMD ["--help"]
