# The route reflector and the upstream Linux router: gobgpd 4.8, FRR's zebra, lbroute-rr.
# One image, three roles chosen by the command (see compose.yaml):
#   gobgpd --api-hosts unix:///run/gobgpd/gobgp.sock --pprof-disable
#   /usr/lib/frr/zebra ...           (router only)
#   lbroute-rr run --config /etc/lbroute/rr.yaml
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/lbroute/venv/bin:/opt/lbroute/gobgp/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY setup/install-debian-deps.sh setup/install-debian-deps.sh
# gobgpd 4.8 from Debian sid (Debian 12's 3.10 panics against FRR 8.4's zebra) and FRR
RUN bash setup/install-debian-deps.sh frr gobgp && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY protos protos
COPY lbroute lbroute
COPY rr rr
COPY announcer announcer
RUN python3 -m venv /opt/lbroute/venv \
    && /opt/lbroute/venv/bin/pip install --no-cache-dir . \
    && /opt/lbroute/venv/bin/python protos/generate.py \
         --out /opt/lbroute/venv/lib/python3.11/site-packages/lbroute/gobgp/apipb

COPY configs /etc/lbroute
ENV LBROUTE_LOG_FORMAT=json
# Runs as root: gobgpd binds port 179 and zebra programs the FIB (zebra itself drops to
# user frr once its sockets are open). Grant only NET_ADMIN/NET_BIND_SERVICE at run time.
CMD ["lbroute-rr", "run", "--config", "/etc/lbroute/rr.yaml"]
