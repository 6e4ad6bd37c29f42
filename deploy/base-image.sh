#!/usr/bin/env bash
# Makes the base image the Dockerfiles start FROM (debian:<codename>-slim) on a machine that
# reaches no image registry: debootstrap --variant=minbase of this machine's own Debian
# release, from the archive this machine's apt already uses, slimmed the way Debian's
# official -slim images are, imported into podman and tagged with both names a FROM line
# may resolve to (localhost/debian:... and docker.io/library/debian:...).
#
# No host name is written here: the archive and its -updates/-security siblings are the
# entries of apt's own sources (read by apt itself, deb822 and one-line lists alike), and an
# apt proxy (Acquire::http::Proxy) is handed to debootstrap. The image's own apt sources are
# those same entries, so `apt-get install` in a build uses the same mirror as the host.
#
# Usage: deploy/base-image.sh     (root; podman with CONTAINERS_CONF set, debootstrap)
# lbroute/lab/images.py runs it when the base image is missing; run it again to refresh.
set -euo pipefail

log() { printf 'base-image: %s\n' "$*" >&2; }

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
names=("localhost/debian:${codename}-slim" "docker.io/library/debian:${codename}-slim")

# "URI suite" for each Debian archive entry of this release in apt's sources, main only
debian_entries() {
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT) $(ORIGIN)' 'Identifier: Packages' \
        2>/dev/null | awk -v c="$codename" \
        '$3 == "main" && $4 == "Debian" && ($2 == c || index($2, c "-") == 1) { print $1, $2 }' | sort -u
}
entries=$(debian_entries)
if [ -z "$entries" ]; then
    log "apt has no package lists yet; apt-get update"
    apt-get update -qq
    entries=$(debian_entries)
fi
mirror=$(awk -v c="$codename" '$2 == c { print $1; exit }' <<<"$entries")
if [ -z "$mirror" ]; then
    log "no Debian archive for ${codename} (main) among apt's sources (/etc/apt/sources.list*)"
    exit 1
fi
eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
[ -n "${http_proxy:-}" ] && export http_proxy

work=$(mktemp -d /var/tmp/lbroute-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
started=$SECONDS
log "debootstrap --variant=minbase ${codename} from ${mirror}"
if ! debootstrap --variant=minbase "$codename" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    exit 1
fi

# apt sources: apt's own Debian entries for this release, as one deb822 file
{
    while read -r uri suite; do
        printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$suite"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
    done <<<"$entries"
} >"$rootfs/etc/apt/sources.list.d/debian.sources"
rm -f "$rootfs/etc/apt/sources.list"

# What the official -slim images leave out, for every later install too
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
cat >"$rootfs/etc/apt/apt.conf.d/slim" <<'CFG'
// no downloaded .debs or package caches kept in a layer; no translations; compressed lists
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
APT::AutoRemove::SuggestsImportant "false";
CFG
(
    cd "$rootfs"
    find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    find usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf usr/share/man/* usr/share/groff/* usr/share/info/* usr/share/lintian/* usr/share/linda/* \
        usr/share/locale/* var/cache/man/* var/lib/apt/lists/* var/cache/apt/* \
        var/cache/debconf/*-old var/lib/dpkg/*-old
    find var/log -type f -delete
    # the host's, copied in by debootstrap; the container engine provides its own
    rm -f etc/hostname etc/resolv.conf
    : >etc/machine-id
)

for name in "${names[@]}"; do podman rmi -i "$name" >/dev/null; done
tar --numeric-owner -C "$rootfs" -c . | podman import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase ${codename}, slimmed (deploy/base-image.sh)" \
    - "${names[0]}" >/dev/null
podman tag "${names[0]}" "${names[1]}"
log "${names[*]}: $(podman image inspect --format '{{.Size}}' "${names[0]}") bytes, $((SECONDS - started)) s"
