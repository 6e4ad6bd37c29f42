# The LB pod's BGP sidecar: exabgp 4.2 running lbroute-announcer as its API process.
# The command renders exabgp.conf from the announcer's config ($LBROUTE_ANNOUNCER_CONFIG,
# default /etc/lbroute/announcer.yaml) into /run/lbroute, then starts exabgp
# (deploy/announcer-entrypoint.sh). NODE_IP (the next-hop, status.hostIP) and POD_IP
# (exabgp's local address, status.podIP) come from the downward API when the config does
# not name them. Runs as uid 10001 with no capability and a read-only root: exabgp only
# connects out, and sets TCP MD5 keys on its own sockets. Mount a writable /run/lbroute: an
# emptyDir shared with the data-plane container (the drain socket lives there too) or a
# tmpfs. The image has no such directory, so a tmpfs there starts sticky and open to every
# user, as /tmp does (podman gives a tmpfs over an image's directory that directory's mode).
# The same image runs the LB pod's bfdd container: `lbroute-bfdd` renders bfdd.conf from the
# same config into /run/bfdd (a writable mount) and runs FRR's bfdd, which alone holds the
# capabilities it needs, as a file capability (deploy/bfdd-entrypoint.sh).

# --- build: the build backend, at the lock's version (never in the final image) -------------
# Docker users build FROM the official image; `make images` passes its own base where podman
# has none (deploy/base-image.sh), never retagging an image it did not make
ARG BASE=debian:bookworm-slim
FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY deploy/requirements.txt deploy/requirements.txt
RUN python3 -m venv /opt/tools \
    && grep -E '^setuptools==' deploy/requirements.txt > /tmp/tools.txt \
    && /opt/tools/bin/pip install --no-cache-dir --no-deps -r /tmp/tools.txt

# --- venv: the third-party packages, every one at the lock's version ---------------------------
# Left out: gRPC and protobuf (the announcer never talks to gobgpd: an import-linter
# contract), pyroute2 (only the data plane's ipvs driver uses it), the build backend, and
# aiohttp with what only it needs (the kubernetes client's asyncio half, kubernetes/aio,
# which lbroute does not use).
FROM build AS venv
RUN python3 -m venv --without-pip /opt/lbroute/venv \
    && grep -v -E '^(#|grpcio|grpcio-tools|protobuf|pyroute2|setuptools|aiohttp|aiohttp-retry|aiohappyeyeballs|aiosignal|attrs|frozenlist|multidict|propcache|yarl)(=|$| )' \
       deploy/requirements.txt > /tmp/runtime.txt \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       -r /tmp/runtime.txt \
    && rm -rf /opt/lbroute/venv/lib/python3.11/site-packages/kubernetes/aio

# --- app: lbroute itself, staged under /out; only the program this image runs -----------------
FROM venv AS app
COPY pyproject.toml README.md ./
COPY lbroute lbroute
COPY announcer announcer
ARG SITE=/out/opt/lbroute/venv/lib/python3.11/site-packages
# the wheel names every program's command; those whose code is not here (rr, dataplane) or
# whose libraries are not (the lbroute CLI needs gRPC) are removed, so none fails on import
RUN /opt/tools/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /tmp/wheel . \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       --no-compile --prefix /out/opt/lbroute/venv /tmp/wheel/lbroute-*.whl \
    && rm /out/opt/lbroute/venv/bin/lbroute /out/opt/lbroute/venv/bin/lbroute-rr \
       /out/opt/lbroute/venv/bin/lbroute-dataplane /out/opt/lbroute/venv/bin/lbroute-realserver \
    && chmod -R a+rX,go-w /out \
    && /opt/lbroute/venv/bin/python -m compileall -q -s /out -p / "$SITE" \
    && PYTHONPATH="$SITE" /opt/lbroute/venv/bin/python -P -c \
       'import announcer.main, announcer.kube_source, kubernetes.client'

# --- bfdd: FRR's BFD daemon and libfrr from Debian's frr; nothing else of FRR is kept -------
# It runs as the image's user through file capabilities (NET_RAW, NET_BIND_SERVICE: BFD's raw
# and port-3784/4784 sockets; SYS_ADMIN: FRR's privs wants it): a pod's bfdd container grants
# exactly these and allows the raise at exec (docs/decisions/bfd.md)
FROM build AS bfdd
RUN apt-get update \
    && apt-get install -y --no-install-recommends frr libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /out/usr/lib/frr /out/usr/lib/x86_64-linux-gnu/frr \
    && cp -a /usr/lib/frr/bfdd /out/usr/lib/frr/ \
    && cp -a /usr/lib/x86_64-linux-gnu/frr/libfrr.so.0* /out/usr/lib/x86_64-linux-gnu/frr/ \
    && setcap cap_net_bind_service,cap_net_raw,cap_sys_admin=p /out/usr/lib/frr/bfdd

# --- the image ---------------------------------------------------------------------------------
FROM ${BASE}
# exabgp in the foreground as this user, no CLI pipes, its log on stdout (the container's)
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/lbroute/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    exabgp_api_cli=false \
    exabgp_daemon_drop=false \
    exabgp_daemon_daemonize=false \
    exabgp_log_destination=stdout \
    LBROUTE_LOG_FORMAT=json
COPY setup/install-debian-deps.sh /tmp/install-debian-deps.sh
RUN bash /tmp/install-debian-deps.sh exabgp bfdd \
    && rm -rf /var/lib/apt/lists/* /tmp/install-debian-deps.sh \
    && groupadd --gid 10001 lbroute \
    && groupadd --gid 10002 frrvty \
    && useradd --uid 10001 --gid 10001 --groups frrvty --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lbroute
COPY --from=venv /opt/lbroute/venv /opt/lbroute/venv
COPY --from=bfdd /out/ /
COPY --from=app /out/ /
COPY --chmod=0755 announcer/exabgp_launcher.py /usr/local/bin/lbroute-exabgp
COPY --chmod=0755 deploy/announcer-entrypoint.sh /usr/local/bin/lbroute-sidecar
COPY --chmod=0755 deploy/bfdd-entrypoint.sh /usr/local/bin/lbroute-bfdd
USER 10001:10001
CMD ["/usr/local/bin/lbroute-sidecar"]
