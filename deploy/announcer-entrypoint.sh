#!/bin/sh
# The LB pod's BGP sidecar: renders exabgp.conf from the announcer's own config (one config,
# not two: the RR sessions, MD5 keys and the announcer's command all come from it), then
# runs exabgp through lbroute-exabgp. $LBROUTE_ANNOUNCER_CONFIG names the mounted config;
# $POD_IP and $NODE_IP (and NODE_IP6, or NODE_IPS on a dual-stack node) come from the
# downward API when the config does not name the addresses.
set -eu
config=${LBROUTE_ANNOUNCER_CONFIG:-/etc/lbroute/announcer.yaml}
conf=${LBROUTE_EXABGP_CONF:-/run/lbroute/exabgp.conf}
run=$(dirname "$conf")
if ! [ -d "$run" ] || ! [ -w "$run" ]; then
    echo "lbroute-sidecar: $run is not a directory this user ($(id -u)) can write; mount an emptyDir or a tmpfs there" >&2
    exit 2
fi
# dual stack: NODE_IPS (the downward API's status.hostIPs, comma-separated) gives NODE_IP6
if [ -z "${NODE_IP6:-}" ] && [ -n "${NODE_IPS:-}" ]; then
    for ip in $(echo "$NODE_IPS" | tr ',' ' '); do
        case $ip in *:*) NODE_IP6=$ip; export NODE_IP6; break ;; esac
    done
fi
# exit 2 and one line per problem when the config is bad: nothing is started then
lbroute-announcer render-exabgp-config "$config" --output "$conf"
exec lbroute-exabgp "$conf"
