#!/bin/sh
# tests/guest/init.sh's systemd.mount-extra handling, run under busybox sh
# with cat, mkdir and mount stubbed: which shares it mounts, where, with
# which options, and what it prints.
set -eu
init=$(dirname "$0")/../guest/init.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n '/^mount_extras() {/,/^}/p' "$init" > "$tmp/fn.sh"
[ -s "$tmp/fn.sh" ] || { echo "FAIL: init.sh has no mount_extras()"; exit 1; }
cat > "$tmp/run.sh" <<EOT
. "$tmp/fn.sh"
cat() { echo "console=ttyS0 systemd.mount-extra=data:/mnt/d:virtiofs:ro,noatime systemd.mount-extra=/dev/vdb:/x:ext4 systemd.mount-extra=home:/home/user:virtiofs systemd.mount-extra=t:/no-type systemd.mount-extra=bad:/mnt/bad:virtiofs"; }
mkdir() { echo "mkdir \$*" >> "$tmp/calls"; }
mount() { echo "mount \$*" >> "$tmp/calls"; case "\$*" in *bad*) return 1 ;; esac; }
mount_extras
EOT
busybox sh "$tmp/run.sh" > "$tmp/out"
want_out='VMSILO mounted=data:/mnt/d
VMSILO mounted=home:/home/user
VMSILO mount-failed=bad:/mnt/bad'
want_calls='mkdir -p /mnt/d
mount -t virtiofs -o ro,noatime data /mnt/d
mkdir -p /home/user
mount -t virtiofs home /home/user
mkdir -p /mnt/bad
mount -t virtiofs bad /mnt/bad'
rc=0
[ "$(cat "$tmp/out")" = "$want_out" ] || { echo "FAIL: output:"; cat "$tmp/out"; rc=1; }
[ "$(cat "$tmp/calls")" = "$want_calls" ] || { echo "FAIL: calls:"; cat "$tmp/calls"; rc=1; }
[ $rc = 0 ] && echo "PASS: init.sh mounts the virtiofs systemd.mount-extra shares"
exit $rc
