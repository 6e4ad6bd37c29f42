# The LB pod's data plane: lbroute-dataplane (a Maglev table per service in the pod's own
# kernel, nft-nat or nft-dsr through Debian's nftables; ipvs where the kernel has IPVS) and
# lbroute-realserver, its backend-side agent for nft-dsr (the same image on the backends).
#   lbroute-dataplane run --config /etc/lbroute/dataplane.yaml   (the default command)
#   lbroute-realserver run --config /etc/lbroute/realserver.yaml
# It runs as uid 10001 with NET_ADMIN alone in its bounding set, in the pod's network
# namespace, and a read-only root: nft loads the table through its file capability
# (allowPrivilegeEscalation: true, as for gobgpd; docs/dataplane.md). The ipvs driver talks
# netlink from the Python process itself, and lbroute-realserver runs ip, which keeps no
# file capability: they need NET_ADMIN as an ambient capability (or root).
# net.ipv4.ip_forward is the node's in a new pod namespace (1 on a Kubernetes node); where it
# is not, set it with the pod's securityContext.sysctls: a container's /proc/sys is read-only.
# lbroute-announcer is here only as the client of the drain protocol, for this container's
# preStop hook (docs/decisions/drain-protocol.md). The status file the announcer's dataplane
# check reads goes to /run/lbroute: mount an emptyDir shared with the sidecar there.

# --- build: the build backend, at the lock's version (never in the final image) -------------
FROM debian:bookworm-slim AS build
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
# Left out: gRPC and protobuf (the data plane never talks to gobgpd: an import-linter
# contract), the build backend, and aiohttp with what only it needs (the kubernetes
# client's asyncio half, kubernetes/aio, which lbroute does not use).
FROM build AS venv
RUN python3 -m venv --without-pip /opt/lbroute/venv \
    && grep -v -E '^(#|grpcio|grpcio-tools|protobuf|setuptools|aiohttp|aiohttp-retry|aiohappyeyeballs|aiosignal|attrs|frozenlist|multidict|propcache|yarl)(=|$| )' \
       deploy/requirements.txt > /tmp/runtime.txt \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       -r /tmp/runtime.txt \
    && rm -rf /opt/lbroute/venv/lib/python3.11/site-packages/kubernetes/aio

# --- app: lbroute itself, staged under /out; only the programs this image runs ---------------
FROM venv AS app
COPY pyproject.toml README.md ./
COPY lbroute lbroute
COPY announcer announcer
COPY dataplane dataplane
ARG SITE=/out/opt/lbroute/venv/lib/python3.11/site-packages
# the wheel names every program's command; those whose code is not here (rr) or whose
# libraries are not (the lbroute CLI needs gRPC) are removed, so none fails on import
RUN /opt/tools/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /tmp/wheel . \
    && /opt/tools/bin/pip --python /opt/lbroute/venv/bin/python install --no-cache-dir --no-deps \
       --no-compile --prefix /out/opt/lbroute/venv /tmp/wheel/lbroute-*.whl \
    && rm /out/opt/lbroute/venv/bin/lbroute /out/opt/lbroute/venv/bin/lbroute-rr \
    && chmod -R a+rX,go-w /out \
    && /opt/lbroute/venv/bin/python -m compileall -q -s /out -p / "$SITE" \
    && PYTHONPATH="$SITE" /opt/lbroute/venv/bin/python -P -c \
       'import dataplane.main, dataplane.realserver_main, dataplane.ipvs_netlink, announcer.main, kubernetes.client'

# --- the image ---------------------------------------------------------------------------------
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/lbroute/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LBROUTE_LOG_FORMAT=json
COPY setup/install-debian-deps.sh /tmp/install-debian-deps.sh
# nftables (nft, for both nft drivers), iproute2 (the realserver's VIPs on lo) and procps
# (sysctl), from Debian; python3; libcap2-bin (setcap; iproute2 depends on it anyway).
# nft carries the file capability cap_net_admin: it alone gets it at exec, from a bounding
# set of NET_ADMIN (Kubernetes' runtimes give a non-root container's added capabilities no
# further), and the Python process holds none. Not ip: it drops a file capability at start
# when not run by root, so the realserver needs NET_ADMIN as an ambient capability or root.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libcap2-bin \
    && bash /tmp/install-debian-deps.sh nftables \
    && setcap cap_net_admin=+ep /usr/sbin/nft \
    && rm -rf /var/lib/apt/lists/* /tmp/install-debian-deps.sh \
    && groupadd --gid 10001 lbroute \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lbroute
COPY --from=venv /opt/lbroute/venv /opt/lbroute/venv
COPY --from=app /out/ /
USER 10001:10001
CMD ["lbroute-dataplane", "run", "--config", "/etc/lbroute/dataplane.yaml"]
