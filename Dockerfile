# The MCC console as a container image (used by deploy/compose/compose.yaml).
#   docker build -t mcc-console .
#   docker run --rm -v $PWD/site.yaml:/etc/mcc/site.yaml:ro -v mcc-data:/var/lib/mcc -p 8000:8000 mcc-console
# The site file is /etc/mcc/site.yaml; MCC_* environment variables win over it (use them for
# secrets). Data that is not in PostgreSQL (SQLite, guards' photos) belongs under /var/lib/mcc.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged system user that owns nothing but the data folder.
RUN groupadd --system --gid 10001 mcc \
 && useradd --system --uid 10001 --gid mcc --home-dir /var/lib/mcc --no-create-home \
            --shell /usr/sbin/nologin mcc \
 && install -d -o mcc -g mcc -m 0750 /var/lib/mcc \
 && install -d -m 0755 /etc/mcc

# The console finds web/, sops/ and deploy/demo/ beside its package, so it is installed in place
# (editable), as scripts/setup.sh does, with the exact versions of constraints.txt.
WORKDIR /opt/mcc
COPY pyproject.toml constraints.txt README.md ./
COPY console ./console
COPY adapters ./adapters
COPY web ./web
COPY sops ./sops
COPY deploy/demo ./deploy/demo
RUN python -m pip install -c constraints.txt -e . \
 && python -c "import console, adapters, paho.mqtt, fastapi, sqlalchemy, psycopg, influxdb_client" \
 && mcc --help >/dev/null

USER mcc
WORKDIR /var/lib/mcc
VOLUME ["/var/lib/mcc"]
EXPOSE 8000

# Ready, not only alive: 503 (exit 1) while the broker or the store is down or intake is stalled.
HEALTHCHECK --interval=15s --timeout=6s --start-period=30s --retries=3 \
  CMD ["mcc", "health", "--config", "/etc/mcc/site.yaml"]

CMD ["mcc", "run", "--config", "/etc/mcc/site.yaml"]
