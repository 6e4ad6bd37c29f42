#!/usr/bin/env bash
# Installs the real daemons lbroute drives, idempotently, on Debian 12.
#
#   * FRR (zebra, bgpd, vtysh), exabgp 4.2 and iproute2 from the machine's own suite.
#   * nftables (the data plane's nft drivers) and keepalived (its --config-test checks the
#     ipvs driver's config); wrk and nginx-light for the data-plane benchmark.
#   * gobgpd/gobgp 3.36 from Debian 13 (trixie), unpacked into a private prefix.
#     Debian 12's gobgpd 3.10 panics as soon as it connects to FRR 8.4's zebra
#     (interface names grew to 16 bytes in FRR 8.3; fixed upstream later). The
#     trixie .deb only needs libc6 >= 2.34, so it runs here unchanged.
#   * the gobgp API .proto files from the same trixie source (golang-github-osrg-gobgp-dev),
#     so the stubs we generate match the daemon we run.
#
# No daemon is started: a policy-rc.d that exits 101 is in place during the install,
# so nothing listens in the root namespace on a systemd host either.
#
# Usage: install-debian-deps.sh [all|frr|exabgp|gobgp|dataplane|bench ...]   (default: all; the container
# images in deploy/ install only the parts they run)
set -euo pipefail

parts=("${@:-all}")
want() { [[ " ${parts[*]} " == *" all "* || " ${parts[*]} " == *" $1 "* ]]; }

GOBGP_VERSION="${LBROUTE_GOBGP_VERSION:-3.36.0}"
PREFIX="${LBROUTE_GOBGP_PREFIX:-/opt/lbroute/gobgp-${GOBGP_VERSION}}"

log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (it installs Debian packages and creates network namespaces later)"
    exit 2
fi

packages=(iproute2 procps)
want frr && packages+=(frr)
want exabgp && packages+=(exabgp)
want dataplane && packages+=(nftables keepalived)
want bench && packages+=(wrk nginx-light)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
need_apt=0
for pkg in "${packages[@]}"; do installed "$pkg" || need_apt=1; done

if [ "$need_apt" = 1 ]; then
    log "installing ${packages[*]} from Debian"
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f "$policy"
fi

have_version() {
    [ -x "$PREFIX/usr/bin/gobgpd" ] &&
        "$PREFIX/usr/bin/gobgpd" --version 2>/dev/null | grep -q "version ${GOBGP_VERSION}\$" &&
        [ -f "$PREFIX/usr/share/gocode/src/github.com/osrg/gobgp/api/gobgp.proto" ]
}

if ! want gobgp; then
    log "ok: ${packages[*]}"
    exit 0
fi

if ! have_version; then
    log "fetching gobgpd ${GOBGP_VERSION} and its API protos from Debian trixie into ${PREFIX}"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/debs"
    echo "deb http://deb.debian.org/debian trixie main" > "$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq \
        "gobgpd=${GOBGP_VERSION}*" "golang-github-osrg-gobgp-dev=${GOBGP_VERSION}*")
    rm -rf "$PREFIX.tmp"
    mkdir -p "$PREFIX.tmp"
    for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX.tmp"; done
    rm -rf "$PREFIX"
    mv "$PREFIX.tmp" "$PREFIX"
fi

if ! have_version; then
    log "gobgpd in ${PREFIX} is not version ${GOBGP_VERSION}: $("$PREFIX/usr/bin/gobgpd" --version 2>&1 || true)"
    exit 1
fi
log "ok: $("$PREFIX/usr/bin/gobgpd" --version)${packages:+, ${packages[*]}}"
