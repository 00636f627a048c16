#!/bin/bash
# OpenGL through virgl: frames per second of vmsilo-gl-check --frames N
# (tests/guest/gl_check.c: per frame a GLES2 draw into an FBO, a fence
# waited for and a 16 KiB readback, every frame checked) in a guest whose
# root is L1's Debian over virtiofs, under vmsilo-vmm ([gpu] opengl) and
# under QEMU's virtio-gpu-gl, one after the other in one L1 of the nested
# rig. Both run the same virglrenderer on the same llvmpipe; QEMU's
# egl-headless display needs a render node, which L1 gets from vgem (no
# GPU: Mesa falls back to software on it). Each guest boots once and runs
# gl-check R times; also the wall time of each whole gl-check (Mesa's
# start-up and shader compiles, the first frame, then the N frames).
# Prints the medians and the ratios vmsilo/QEMU.
#   tests/bench/gl.sh [--frames N] [--runs R]
# Under TCG a frame takes milliseconds to tens of milliseconds: read the
# ratio, not the figures.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
frames=300 runs=3
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 moddir=$4 frames=$5 runs=$6
else
	while [ $# -gt 0 ]; do
		case $1 in
		--frames) frames=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: $0 [--frames N] [--runs R]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	vmsilo_install_qemu_opengl
	build=$top/build-bench
	cmake --build "$build" -j "$(nproc)" --target vmsilo-gl-check > /dev/null
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/gl-initramfs.cpio" \
		--modules "virtio_gpu fuse virtiofs overlay" \
		--add "$build/tests/vmsilo-gl-check:/bin/vmsilo-gl-check"
	rig=$top/tests/rig/rig.sh
	exec "$rig" --direct-if-possible --timeout 3600 -- "$here/gl.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$("$rig" --print-vmlinux)" "$build/guest/gl-initramfs.cpio" \
		"$("$rig" --print-modules-dir)" "$frames" "$runs"
fi

logs=/tmp
source "$top/tests/integration/guest_lib.sh"
virtiofsd=$(virtiofsd_path) || { echo "gl bench: no virtiofsd (tests/rig/virtiofsd.sh)"; exit 1; }
l1root=$(l1_root_share) || { echo "gl bench: cannot bind L1's root for the root share"; exit 1; }
l1_modprobe vgem "$moddir" && [ -e /dev/dri/renderD128 ] ||
	{ echo "gl bench: no render node from vgem for QEMU's egl-headless"; exit 1; }
export MESA_SHADER_CACHE_DISABLE=true

# The guest's part: R runs, a line each with the exit status, the wall
# time and gl-check's bench line.
script="for i in \$(seq $runs); do
	t0=\$(cut -d' ' -f1 /proc/uptime)
	/usr/local/bin/vmsilo-gl-check --frames $frames > /tmp/gl.out 2>&1; rc=\$?
	t1=\$(cut -d' ' -f1 /proc/uptime)
	echo \"VMSILO run=\$i rc=\$rc wall=\$(awk -v a=\$t0 -v b=\$t1 'BEGIN { print b - a }') \$(grep -o 'fps=[0-9.]*' /tmp/gl.out)\"
	[ \$i = 1 ] && grep 'gl-renderer=\\|gl-error=\\|gl-mismatch=[1-9]' /tmp/gl.out
done"
params=$(host_root_params root "$script")
cmd=$(urlencode "$script")

# Each VMM gets 40 minutes: under QEMU one gl-check has taken two minutes
# on a quiet machine, most of it before the first frame.
run_vmsilo() {
	config v "$vmlinux" 1 512 cmd "$(root_share_toml "$virtiofsd" "$l1root")
[gpu]
wayland = false
opengl = true" > /dev/null
	sed -i "s|^kernel_params = .*|kernel_params = [\"vmsilo.root=virtiofs:root\", \"vmsilo.test=cmd\", \"vmsilo.cmd=$cmd\"]|" \
		"$work/v.toml"
	timeout -k 10 2400 "$vmm" --config "$work/v.toml" > /dev/null 2> "$work/v.err" || true
}

run_qemu() {
	virtiofsd_start q "$work/q.sock" "$l1root" || return 1
	qemu_shared_memory 512
	qemu_virtiofs_device "$work/q.sock" root
	timeout -k 10 2400 qemu-system-x86_64 -enable-kvm -cpu host -M pc -smp 1 \
		-nodefaults -no-user-config -no-reboot -net none \
		"${qemu_mem_argv[@]}" "${qemu_vfs_argv[@]}" -serial "file:$work/q.console" \
		-device virtio-gpu-gl-pci -display egl-headless,rendernode=/dev/dri/renderD128 \
		-kernel "$vmlinux" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet $params" > "$work/q.qemu.log" 2>&1 || true
}

# Field F (fps or wall) of the console's run lines with rc=0, one per line.
figures() { # NAME FIELD
	tr -d '\r' < "$work/$1.console" 2> /dev/null | grep "^VMSILO run=[0-9]* rc=0 " |
		sed -n "s/.* $2=\([0-9.]*\).*/\1/p"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "NaN" && b != "NaN" && b > 0) printf "%.2f", a / b; else print "NaN" }'; }

run_vmsilo
run_qemu

echo "virgl: vmsilo-gl-check --frames $frames (64x64 GLES2 draw + readback, checked), $runs runs in one boot each, inside L1 (virglrenderer 0.10, llvmpipe)"
printf '%-26s %10s %10s %8s\n' figure vmsilo qemu ratio
vf=$(figures v fps | median) qf=$(figures q fps | median)
vw=$(figures v wall | median) qw=$(figures q wall | median)
printf '%-26s %10s %10s %8s\n' "fps" "$vf" "$qf" "$(ratio "$vf" "$qf")"
printf '%-26s %10s %10s %8s\n' "gl-check wall s" "$vw" "$qw" "$(ratio "$vw" "$qw")"
echo "runs with figures: vmsilo $(figures v fps | wc -l) of $runs, qemu $(figures q fps | wc -l) of $runs"
for n in v q; do
	tr -d '\r' < "$work/$n.console" 2> /dev/null | grep "^VMSILO gl-renderer=\|^VMSILO gl-error\|mismatch=[1-9]" |
		sed "s/^/$n: /" | head -n 3
	tr -d '\r' < "$work/$n.console" 2> /dev/null | grep "^VMSILO run=" | grep -v " rc=0 " | sed "s/^/$n: /"
done
rm -rf "$work"
