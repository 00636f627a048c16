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
say vm-run banking uname -a
vm-run banking uname -a
say "echo 'hello from the host' | vm-run banking sha256sum"
echo 'hello from the host' | vm-run banking sha256sum
echo "(the host computes $(echo 'hello from the host' | sha256sum | cut -d' ' -f1))"
say vm-run banking sh -c "'echo to stderr >&2; exit 42'"
vm-run banking sh -c 'echo to stderr >&2; exit 42'
echo "(exit status $?)"
say vm-run banking ip -4 addr show upstream
vm-run banking ip -4 addr show upstream
say vm-run banking ping -c 2 10.77.0.1
vm-run banking ping -c 2 10.77.0.1
say busybox ping -c 2 10.77.0.2
busybox ping -c 2 10.77.0.2
say "echo '{\"version\":1,\"command\":\"status\"}' | socat - UNIX-CONNECT:$run_dir/banking/control.socket"
echo '{"version":1,"command":"status"}' | socat -t 2 - UNIX-CONNECT:$run_dir/banking/control.socket
say vm-stop banking
vm-stop banking
status=$?
say cat banking-console.log
tr -d '\r' < "$(dirname "$config")/banking-console.log"
exit $status
