# The route reflector and the upstream Linux router: gobgpd, FRR's zebra and lbroute-rr.
# One image, a role per command (compose.yaml, deploy/kubernetes/, `lbroute lab up --images`):
#   gobgpd --api-hosts unix:///run/gobgpd/gobgp.sock --pprof-disable --metrics-path=
#   /usr/lib/frr/zebra -f ZEBRA.CONF ... -u frr -g frr        (the router only)
#   lbroute-rr run --config /etc/lbroute/rr.yaml               (the default command)
# It runs as lbroute (uid 10001). gobgpd binds BGP's port 179 through a file capability:
# grant NET_BIND_SERVICE and drop the rest. lbroute-rr needs no capability, but must run as
# the user its gobgpd runs as (gobgpd makes its API socket 0755). zebra starts as root with
# NET_ADMIN, NET_RAW, SYS_ADMIN, SETUID and SETGID and drops to frr; a router's gobgpd and
# lbroute-rr then run as frr, to reach zebra's socket. See docs/deploy.md.

# --- build: gobgpd, and the tools that build lbroute (never in the final image) ---------------
FROM debian:bookworm-slim AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv libcap2-bin \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY setup/install-debian-deps.sh setup/install-debian-deps.sh
# gobgpd and the API protos of the same version, behind the link /opt/lbroute/gobgp; port 179
# without root
RUN bash setup/install-debian-deps.sh gobgp \
    && setcap cap_net_bind_service=+ep /opt/lbroute/gobgp/usr/bin/gobgpd \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/requirements.txt deploy/requirements.txt
# the stub generator and the build backend, at the lock's versions
RUN python3 -m venv /opt/tools \
    && grep -E '^(grpcio|grpcio-tools|protobuf|setuptools|typing_extensions)==' deploy/requirements.txt \
       > /tmp/tools.txt \
    && /opt/tools/bin/pip install --no-cache-dir --no-deps -r /tmp/tools.txt

# --- venv: the third-party packages, every one at the lock's version ---------------------------
# Left out: the build-time tools, pyroute2 (only the data plane's ipvs driver uses it) and
# aiohttp with what only it needs (the kubernetes client's asyncio half, kubernetes/aio,
# which lbroute does not use: 68 MB). A layer that only a change of the lock rebuilds.
FROM build AS venv
RUN python3 -m venv --without-pip /opt/lbroute/venv \
    && grep -v -E '^(#|grpcio-tools|pyroute2|setuptools|aiohttp|aiohttp-retry|aiohappyeyeballs|aiosignal|attrs|frozenlist|multidict|propcache|yarl)(=|$| )' \
       deploy/requirements.txt > /tmp/runtime.txt \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       -r /tmp/runtime.txt \
    && rm -rf /opt/lbroute/venv/lib/python3.11/site-packages/kubernetes/aio

# --- app: lbroute itself and the gRPC stubs, staged under /out ------------------------------
# The data plane's commands are removed: its code is not copied (it runs in its own image)
FROM venv AS app
COPY pyproject.toml README.md ./
COPY protos protos
COPY lbroute lbroute
COPY rr rr
COPY announcer announcer
ARG SITE=/out/opt/lbroute/venv/lib/python3.11/site-packages
RUN /opt/tools/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /tmp/wheel . \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       --no-compile --prefix /out/opt/lbroute/venv /tmp/wheel/lbroute-*.whl \
    && rm /out/opt/lbroute/venv/bin/lbroute-dataplane /out/opt/lbroute/venv/bin/lbroute-realserver \
    && /opt/tools/bin/python protos/generate.py --out "$SITE/lbroute/gobgp/apipb" \
    && chmod -R a+rX,go-w /out \
    && /opt/lbroute/venv/bin/python -m compileall -q -s /out -p / "$SITE" \
    && PYTHONPATH="$SITE" /opt/lbroute/venv/bin/python -P -c \
       'import rr.main, lbroute.cli.main, lbroute.gobgp.apipb.gobgp_pb2_grpc, kubernetes.client'

# --- the image ---------------------------------------------------------------------------------
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/lbroute/venv/bin:/opt/lbroute/gobgp/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LBROUTE_LOG_FORMAT=json
COPY setup/install-debian-deps.sh /tmp/install-debian-deps.sh
# FRR (for zebra) and iproute2; a user for gobgpd and lbroute-rr; the sockets' directories:
# /run/gobgpd sticky and open, so that gobgpd as lbroute (an RR) or as frr (a router) makes
# its socket there; /run/frr for zebra, which runs as frr once its sockets are open
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && bash /tmp/install-debian-deps.sh frr \
    && rm -rf /var/lib/apt/lists/* /tmp/install-debian-deps.sh \
    && groupadd --gid 10001 lbroute \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lbroute \
    && install -d -m 1777 /run/gobgpd \
    && install -d -o frr -g frr -m 0755 /run/frr
COPY --from=build /opt/lbroute/gobgp/usr/bin/ /opt/lbroute/gobgp/usr/bin/
COPY --from=venv /opt/lbroute/venv /opt/lbroute/venv
COPY --from=app /out/ /
USER 10001:10001
CMD ["lbroute-rr", "run", "--config", "/etc/lbroute/rr.yaml"]
