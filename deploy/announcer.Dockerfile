# The LB pod's BGP sidecar: exabgp 4.2 running lbroute-announcer as its API process.
# NODE_IP (the next-hop) comes from the downward API: status.hostIP.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/lbroute/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    exabgp_api_cli=false \
    exabgp_daemon_drop=false \
    exabgp_daemon_user=root \
    exabgp_log_destination=stdout \
    LBROUTE_LOG_FORMAT=json

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY setup/install-debian-deps.sh setup/install-debian-deps.sh
RUN bash setup/install-debian-deps.sh exabgp && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY lbroute lbroute
COPY rr rr
COPY announcer announcer
RUN python3 -m venv /opt/lbroute/venv && /opt/lbroute/venv/bin/pip install --no-cache-dir . \
    && install -m 0755 announcer/exabgp_launcher.py /usr/local/bin/lbroute-exabgp

COPY configs /etc/lbroute
# exabgp itself, started so that its reconnect backoff starts over after each session that came up
CMD ["/usr/local/bin/lbroute-exabgp", "/etc/lbroute/exabgp.conf"]
