#!/usr/bin/env bash
# Installs what building and checking lbroute's images needs, idempotently, on Debian 12:
#
#   * podman   podman with runc (Debian 12's crun 1.8 fails on cgroup v1 hybrid hosts),
#              netavark and aardvark-dns (named, or apt would pick the older CNI plugins),
#              iptables (netavark's firewall), and debootstrap for the base image that
#              deploy/base-image.sh makes where no image registry is reachable.
#   * promtool Prometheus's rule and config checker, unpacked from Debian's prometheus
#              .deb into /opt/lbroute/promtool; the Prometheus daemon is not installed.
#
# Nothing is configured system-wide: lbroute's podman settings are its own file
# (deploy/podman/containers.conf, given to podman as CONTAINERS_CONF), and no daemon runs.
#
# Usage: install-podman.sh [all|podman|promtool ...]   (default: all)
set -euo pipefail

parts=("${@:-all}")
want() { [[ " ${parts[*]} " == *" all "* || " ${parts[*]} " == *" $1 "* ]]; }

PROMTOOL_PREFIX=/opt/lbroute/promtool

log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (it installs Debian packages)"
    exit 2
fi

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

if want podman; then
    packages=(podman runc netavark aardvark-dns iptables debootstrap)
    missing=()
    for pkg in "${packages[@]}"; do installed "$pkg" || missing+=("$pkg"); done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]} from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    log "ok: $(podman --version), $(runc --version | head -1), debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"
fi

if want promtool; then
    promtool=$PROMTOOL_PREFIX/usr/bin/promtool
    if ! "$promtool" --version >/dev/null 2>&1; then
        log "unpacking promtool from Debian's prometheus package into ${PROMTOOL_PREFIX}"
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        (cd "$work" && apt-get download -qq prometheus 2>/dev/null) || {
            apt-get update -qq
            (cd "$work" && apt-get download -qq prometheus)
        }
        dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
        rm -rf "$PROMTOOL_PREFIX.tmp"
        install -D -m 0755 "$work/x/usr/bin/promtool" "$PROMTOOL_PREFIX.tmp/usr/bin/promtool"
        rm -rf "$PROMTOOL_PREFIX"
        mv "$PROMTOOL_PREFIX.tmp" "$PROMTOOL_PREFIX"
    fi
    log "ok: $("$promtool" --version 2>&1 | head -1)"
fi
