#!/usr/bin/env bash
# Installs the real daemons lbroute drives, idempotently, on Debian 12.
#
#   * FRR (zebra, bgpd, vtysh), exabgp 4.2 and iproute2 from the machine's own suite.
#   * nftables (the data plane's nft drivers) and keepalived (its --config-test checks the
#     ipvs driver's config); nftables alone for the data-plane image; wrk and nginx-light
#     for the data-plane benchmark.
#   * gobgpd/gobgp 4.8 from Debian sid, unpacked into /opt/lbroute/gobgp-<version>, and
#     the stable link /opt/lbroute/gobgp pointing at it: the lab, protos/generate.py and
#     the images name only the link, so a version bump is LBROUTE_GOBGP_VERSION's default
#     below. The sid .deb only needs libc6 >= 2.34, so it runs here unchanged, and no
#     system gobgpd is replaced (docs/decisions/gobgpd-4.8-from-sid.md).
#   * the gobgp API .proto files from the same sid source (golang-github-osrg-gobgp-dev),
#     so the stubs we generate match the daemon we run.
#
# sid is fetched from the mirror this machine's apt already uses (its first Debian main
# archive entry, read by apt itself), so a machine behind a mirror or a proxy keeps
# working; LBROUTE_DEBIAN_MIRROR=URL names one when apt's sources have none.
#
# No daemon is started: a policy-rc.d that exits 101 is in place during the install,
# so nothing listens in the root namespace on a systemd host either.
#
# Usage: install-debian-deps.sh [all|frr|exabgp|bfdd|gobgp|dataplane|nftables|bench ...]   (default: all; the container
# images in deploy/ install only the parts they run)
set -euo pipefail

parts=("${@:-all}")
want() { [[ " ${parts[*]} " == *" all "* || " ${parts[*]} " == *" $1 "* ]]; }

GOBGP_VERSION="${LBROUTE_GOBGP_VERSION:-4.8.0}"
GOBGP_SUITE=sid
GOBGP_LINK=/opt/lbroute/gobgp
PREFIX="/opt/lbroute/gobgp-${GOBGP_VERSION}"
PROTO="usr/share/gocode/src/github.com/osrg/gobgp/proto/api/gobgp.proto"

log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (it installs Debian packages and creates network namespaces later)"
    exit 2
fi

packages=(iproute2 procps)
want frr && packages+=(frr)
want exabgp && packages+=(exabgp)
# bfdd's own libraries, for an image that copies bfdd and libfrr out of frr (the sidecar)
want bfdd && packages+=(libyang2 libjson-c5 libcap2)
want dataplane && packages+=(nftables keepalived)
want nftables && packages+=(nftables)
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

if ! want gobgp; then
    log "ok: ${packages[*]}"
    exit 0
fi

have_version() {
    [ -x "$PREFIX/usr/bin/gobgpd" ] &&
        "$PREFIX/usr/bin/gobgpd" --version 2>/dev/null | grep -q "version ${GOBGP_VERSION}\$" &&
        [ -f "$PREFIX/$PROTO" ]
}

# The site of the first Debian main archive among apt's sources (deb822 *.sources and
# one-line sources.list alike, parsed by apt: comments, options and "Enabled: no" are its
# business). The downloaded Release files say which entries are Debian's own archive
# (Origin and Label "Debian": not -security, not a third party's "bookworm main"); only
# when apt has none of them does the entry for this release's codename stand in.
# (fields split on "|": a Label such as "Debian Backports" holds a space)
debian_archive() {
    apt-get indextargets --format '$(TARGET_OF)|$(COMPONENT)|$(ORIGIN)|$(LABEL)|$(SITE)' \
        'Created-By: Packages' 2>/dev/null |
        awk -F'|' '$1 == "deb" && $2 == "main" && $3 == "Debian" && $4 == "Debian" && !found { print $5; found = 1 }'
}
codename_entry() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    apt-get indextargets --no-release-info --format '$(TARGET_OF)|$(COMPONENT)|$(RELEASE)|$(SITE)' \
        'Created-By: Packages' 2>/dev/null |
        awk -F'|' -v suite="$codename" '$1 == "deb" && $2 == "main" && $3 == suite && !found { print $4; found = 1 }'
}
debian_mirror() {
    local site
    site=$(debian_archive)
    if [ -z "$site" ]; then
        apt-get update -qq >&2 || true  # lists removed (an image build): read the Release files again
        site=$(debian_archive)
    fi
    [ -n "$site" ] || site=$(codename_entry)
    echo "$site"
}

if ! have_version; then
    mirror="${LBROUTE_DEBIAN_MIRROR:-$(debian_mirror)}"
    if [ -z "$mirror" ]; then
        log "no Debian main archive among apt's sources (/etc/apt/sources.list, /etc/apt/sources.list.d/);" \
            "add one, or name a mirror: LBROUTE_DEBIAN_MIRROR=URL $0 ${parts[*]}"
        exit 1
    fi
    log "fetching gobgpd ${GOBGP_VERSION} and its API protos from Debian ${GOBGP_SUITE} at ${mirror} into ${PREFIX}"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/debs"
    # a private sources list and state: the machine's own apt configuration is not touched
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    signed_by=""
    [ -f "$keyring" ] && signed_by="[signed-by=${keyring}] "
    echo "deb ${signed_by}${mirror} ${GOBGP_SUITE} main" > "$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" update -qq
    if ! (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq \
            "gobgpd=${GOBGP_VERSION}*" "golang-github-osrg-gobgp-dev=${GOBGP_VERSION}*"); then
        log "Debian ${GOBGP_SUITE} at ${mirror} does not have gobgpd ${GOBGP_VERSION} (any more);" \
            "it has $(apt-cache "${apt_opts[@]}" policy gobgpd 2>/dev/null | awk '/Candidate/ { v = $2; sub(/^[0-9]+:/, "", v); sub(/-[^-]*$/, "", v); print v }'):" \
            "set LBROUTE_GOBGP_VERSION to that, or LBROUTE_DEBIAN_MIRROR to an archive snapshot that has ${GOBGP_VERSION}"
        exit 1
    fi
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

# the stable name everything else uses; replaced in one rename, never a moment without it
if [ "$(readlink "$GOBGP_LINK" 2>/dev/null || true)" != "$(basename "$PREFIX")" ]; then
    if [ -e "$GOBGP_LINK" ] && [ ! -L "$GOBGP_LINK" ]; then
        log "${GOBGP_LINK} exists and is not a link this script made; move it away and run again"
        exit 1
    fi
    rm -f "$GOBGP_LINK.tmp"
    ln -sfn "$(basename "$PREFIX")" "$GOBGP_LINK.tmp"
    mv -T "$GOBGP_LINK.tmp" "$GOBGP_LINK"
    log "${GOBGP_LINK} -> $(basename "$PREFIX")"
fi
log "ok: $("$GOBGP_LINK/usr/bin/gobgpd" --version)${packages:+, ${packages[*]}}"
