#!/bin/bash
# vm-run round trip: the median wall time of `vm-run <vm> true` over N runs
# (default 100) against a busybox guest running vmsilo-guest-agent, in one
# L1 of the nested rig. Each run connects to command.socket, crosses the
# vsock process into the guest, forks and execs true there and brings its
# exit status back.
#   tests/bench/run.sh [--runs N]
# Other benchmarks can take the measurement into their own L1:
#   tests/bench/run.sh --prepare          builds, prints "INITRD VM_RUN"
#   tests/bench/run.sh --inside VMM VMLINUX INITRD VM_RUN RUNS   (in L1)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
runs=100
source "$here/bench_lib.sh"

# Release vmsilo-vmm, vm-run and the agent; the agent in an initramfs.
prepare() {
	bench_build "$top"
	local build=$top/build-bench
	cmake --build "$build" -j "$(nproc)" --target vm-run vmsilo-guest-agent > /dev/null
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/run-initramfs.cpio" \
		--modules vmw_vsock_virtio_transport \
		--add "$build/guest-agent/vmsilo-guest-agent:/bin/vmsilo-guest-agent"
}

case ${1:-} in
--prepare)
	prepare > /dev/null
	echo "$top/build-bench/guest/run-initramfs.cpio $top/build-bench/host-tools/vm-run"
	exit 0
	;;
--inside)
	shift
	vmm=$1 vmlinux=$2 initrd=$3 vm_run=$4 runs=$5
	;;
*)
	while [ $# -gt 0 ]; do
		case $1 in
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
		esac
	done
	prepare
	build=$top/build-bench
	vmlinux=$("$top/tests/rig/rig.sh" --print-vmlinux)
	exec "$top/tests/rig/rig.sh" --direct-if-possible --timeout 1800 -- "$here/run.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$vmlinux" "$build/guest/run-initramfs.cpio" \
		"$build/host-tools/vm-run" "$runs"
	;;
esac

work=$(mktemp -d /tmp/runbench.XXXXXX)
cat > "$work/vm.toml" <<EOT
name = "runbench"
kernel = "$vmlinux"
initramfs = "$initrd"
memory = 256
cpus = 1
cmdline = "console=ttyS0 panic=-1 quiet"
kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]
runtime_dir = "$work/run"
[vsock]
cid = 3
[console]
mode = "file"
path = "$work/console.log"
EOT

timeout 900 "$vmm" --config "$work/vm.toml" 2> "$work/vmm.err" &
vmm_pid=$!
vmr() { "$vm_run" --runtime-dir "$work/run" runbench "$@"; }

# The first run waits for the boot (command.socket holds it).
for _ in $(seq 240); do
	[ -S "$work/run/runbench/command.socket" ] && break
	sleep 0.5
done
t0=$(date +%s%N)
if ! timeout 300 "$vm_run" --runtime-dir "$work/run" runbench true; then
	echo "vm-run: the guest did not answer; console:" >&2
	tail -n 20 "$work/console.log" >&2
	kill -KILL $vmm_pid 2> /dev/null || true
	exit 1
fi
first_ms=$((($(date +%s%N) - t0) / 1000000))

failures=0
for _ in $(seq "$runs"); do
	t0=$(date +%s%N)
	vmr true || failures=$((failures + 1))
	echo $((($(date +%s%N) - t0) / 1000)) >> "$work/us"
done
kill -INT $vmm_pid 2> /dev/null || true
wait $vmm_pid 2> /dev/null || true

sort -n "$work/us" | awk -v runs="$runs" -v first="$first_ms" -v failed=$failures '
	{ v[NR] = $1 }
	END {
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "vm-run <vm> true: median %.2f ms over %d runs (min %.2f, p90 %.2f, failed %d), inside L1\n",
			med / 1000, runs, v[1] / 1000, v[int(NR * 0.9 + 0.5)] / 1000, failed
		printf "first run, waiting for the boot: %d ms\n", first
	}'
rm -rf "$work"
