#!/bin/sh
# The LB pod's BFD container: renders bfdd.conf from the announcer's own config (the same
# file that renders exabgp.conf: exabgp.bfd and its neighbors), then runs FRR's bfdd in the
# foreground as this user, everything in $run: config, PID file, vty and control sockets.
# bfdd takes NET_RAW, NET_BIND_SERVICE and SYS_ADMIN from its file capability at exec (FRR's
# privs refuse to start without all three); the container must allow that raise.
set -eu
config=${LBROUTE_ANNOUNCER_CONFIG:-/etc/lbroute/announcer.yaml}
run=${LBROUTE_BFDD_DIR:-/run/bfdd}
if ! [ -d "$run" ] || ! [ -w "$run" ]; then
    echo "lbroute-bfdd: $run is not a directory this user ($(id -u)) can write; mount an emptyDir or a tmpfs there" >&2
    exit 2
fi
# exit 2 and one line per problem when the config is bad: nothing is started then
lbroute-announcer render-bfdd-config "$config" --output "$run/bfdd.conf"
# no zebra: -z names a socket nobody serves, enough for sessions bound to an address
exec /usr/lib/frr/bfdd -f "$run/bfdd.conf" -i "$run/bfdd.pid" -z "$run/zserv.api" \
    --vty_socket "$run" --bfdctl "$run/bfdd.sock" -P 0 -u lbroute -g lbroute --log stdout
