#!/bin/bash
# The demo's session on a KVM host (inside the nested rig when needed):
# the daily vmsilo loop on the example VM. Called by tests/run-demo.sh.
#   demo-session.sh BUILD_DIR CONFIG
set -u
build=$1 config=$2
PATH=$build/host-tools:$build/vmm:$PATH
run_dir=/run/vmsilo

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# The example's interface: a TAP on the host side, 10.77.0.1/24.
ip tuntap add dev banking-0 mode tap 2> /dev/null
ip addr add 10.77.0.1/24 dev banking-0 2> /dev/null
ip link set dev banking-0 up

say vm-start --config "$config" banking
vm-start --config "$config" --log /tmp/banking-vmm.log banking || {
	cat /tmp/banking-vmm.log; exit 1; }
say ls -l $run_dir/banking
ls -l $run_dir/banking
failed=""
# check WHAT COMMAND...: runs it, and notes WHAT when it fails.
check() { local what=$1; shift; "$@" || failed+=" [$what]"; }

say vm-run banking uname -a
check "vm-run uname" vm-run banking uname -a
say "echo 'hello from the host' | vm-run banking sha256sum"
want=$(echo 'hello from the host' | sha256sum | cut -d' ' -f1)
got=$(echo 'hello from the host' | vm-run banking sha256sum)
echo "$got"
echo "(the host computes $want)"
check "stdin through vm-run" test "${got%% *}" = "$want"
say vm-run banking sh -c "'echo to stderr >&2; exit 42'"
vm-run banking sh -c 'echo to stderr >&2; exit 42'
rc=$?
echo "(exit status $rc)"
check "exit status 42" test $rc = 42
say vm-run banking ip -4 addr show upstream
check "vm-run ip" vm-run banking ip -4 addr show upstream
say vm-run banking ping -c 2 10.77.0.1
check "guest pings the host" vm-run banking ping -c 2 10.77.0.1
say busybox ping -c 2 10.77.0.2
check "host pings the guest" busybox ping -c 2 10.77.0.2
say "echo '{\"version\":1,\"command\":\"status\"}' | socat - UNIX-CONNECT:$run_dir/banking/control.socket"
status=$(echo '{"version":1,"command":"status"}' | socat -t 2 - UNIX-CONNECT:$run_dir/banking/control.socket)
echo "$status"
check "control status" grep -q '"state":"running"' <<< "$status"
say vm-balloon banking 128M --wait 60
check "vm-balloon 128M" vm-balloon banking 128M --wait 60
say vm-balloon banking
stats=$(vm-balloon banking)
echo "$stats"
check "vm-balloon stats" grep -q '^balloon .*(134217728)$' <<< "$stats"
say vm-balloon banking 0 --wait 60
check "vm-balloon 0" vm-balloon banking 0 --wait 60
say vm-stop banking
check "vm-stop" vm-stop banking
say cat banking-console.log
tr -d '\r' < "$(dirname "$config")/banking-console.log"
if [ -n "$failed" ]; then
	echo "demo: failed:$failed; the VMM's log follows"
	cat /tmp/banking-vmm.log
	exit 1
fi
echo "demo: every step did what it shows"
