#!/bin/bash
# OpenGL in a Linux guest through virgl: the guest's root is L1's Debian
# userland over virtiofs (Mesa 22.3's virgl driver, mesa-utils), its
# [gpu] has opengl = true, and the GPU process runs virglrenderer on L1's
# llvmpipe (surfaceless EGL: the rig has no render node). Checks:
# - eglinfo's surfaceless platform in the guest runs on the virtio_gpu
#   driver;
# - vmsilo-gl-check (tests/guest/gl_check.c) gets a GLES2 context whose
#   renderer is virgl over llvmpipe, draws a clear and a shader gradient
#   into an FBO and reads back every pixel within 1 LSB of what it drew;
# - virtio-poke gpu-virgl (tests/guest/virtio_poke_virgl.c) takes the device
#   from the kernel's driver and sends hostile virgl input: garbage
#   streams, unknown resources and contexts, huge and empty 3D resources,
#   transfers outside the resource and past its backing; each refused,
#   then a clear rendered on a clean context reads back right;
# - the kernel's driver bound again, vmsilo-gl-check passes a second time:
#   the same GPU process (never killed, never NEEDS_RESET) serves new
#   contexts after the hostile ones;
# - the GPU process stayed jailed, and logged no refusal before the
#   hostile part and no seccomp kill at all.
# Budget: the guest boots in one to two minutes in the rig; Mesa loads and
# llvmpipe compiles the guest's shaders under nested TCG, so the commands
# get up to 10 minutes before the VM is called stuck.
#   linux_virgl.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	glcheck=$build/tests/vmsilo-gl-check
	for f in "$glcheck" "$build/tests/virtio-poke"; do
		[ -x "$f" ] || { echo "linux_virgl: $f is not built" >&2; exit 1; }
	done
	rig_begin "$build"
	initrd=$build/guest/virgl-initramfs.cpio
	# guest_lib.sh's VIRTIOFS_MODULES and the GPU (sourcing it here would
	# make its work directory on the host).
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "virtio_gpu fuse virtiofs overlay" \
		--add "$glcheck:/bin/vmsilo-gl-check" --add "$build/tests/virtio-poke:/bin/vmsilo-virtio-poke"
	rig_reexec "$build" "$here/linux_virgl.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4
source "$here/guest_lib.sh"
virtiofsd=$(virtiofsd_path) || { echo "FAIL: no virtiofsd (tests/rig/virtiofsd.sh)"; exit 1; }
l1root=$(l1_root_share) || { echo "FAIL: cannot bind L1's root for the root share"; exit 1; }

script='eglinfo 2>&1 | sed -n "/^Surfaceless platform/,/^EGL driver name/s/^EGL driver name: /VMSILO egl-driver=/p"
/usr/local/bin/vmsilo-gl-check; echo "VMSILO gl-check-rc=$?"
/usr/local/bin/vmsilo-virtio-poke --device 1050 gpu-virgl > /tmp/poke.out 2>&1; echo "VMSILO poke-rc=$?"
echo "VMSILO poke-answers=$(grep -c "=ok$" /tmp/poke.out) ok, bad: $(grep -v "=ok$" /tmp/poke.out | tr "\n" " ")"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/device)" = 0x1050 ] && echo "${d##*/}" > /sys/bus/pci/drivers/virtio-pci/bind
done
/usr/local/bin/vmsilo-gl-check > /tmp/again.out 2>&1; echo "VMSILO again-rc=$?"
sed "s/^VMSILO /VMSILO again-/" /tmp/again.out'
config g "$vmlinux" 1 512 cmd "$(root_share_toml "$virtiofsd" "$l1root")
[gpu]
wayland = false
opengl = true" > /dev/null
sed -i "s|^kernel_params = .*|kernel_params = [\"vmsilo.root=virtiofs:root\", \"vmsilo.test=cmd\", \"vmsilo.cmd=$(urlencode "$script")\"]|" \
	"$work/g.toml"
gpu_pid() {
	printf '%s\n' '{"version":1,"command":"status"}' |
		timeout 60 socat -t 50 - "UNIX-CONNECT:$work/run/g/control.socket" 2> /dev/null |
		grep -o '"name":"gpu0","pid":[0-9]*' | cut -d: -f3
}
start_until g "VMSILO root=virtiofs:root" || bad "g: the host-userland guest did not start" g
kill $watchdog 2> /dev/null
(exec sleep 900) > /dev/null 2>&1 && kill -KILL $pid 2> /dev/null &
watchdog=$!
gpid=$(gpu_pid)
# While the guest runs: once it powers off the process is on its way out.
problems=$(jail_problems "${gpid:-0}" $pid 2> /dev/null)
for _ in $(seq 6000); do
	grep -q "^VMSILO exit=" "$work/g.console" 2> /dev/null && break
	kill -0 $pid 2> /dev/null || break
	sleep 0.1
done
kill -INT $pid 2> /dev/null
finish

[ "$(line g egl-driver)" = virtio_gpu ] &&
	ok "eglinfo: the guest's surfaceless EGL runs on the virtio_gpu driver" ||
	bad "eglinfo: driver '$(line g egl-driver)'" g
renderer=$(line g gl-renderer)
[[ $renderer == virgl* ]] && [[ ${renderer,,} == *llvmpipe* ]] &&
	ok "GLES2 renderer '$renderer', version '$(line g gl-version)'" ||
	bad "GL renderer '$renderer' (error: $(line g gl-error))" g
[ "$(line g gl-check-rc)" = 0 ] && [[ $(line g gl-pixels) == "4096 gl-mismatch=0" ]] &&
	ok "a clear and a shader gradient drawn into an FBO read back: $(line g gl-pixels)" ||
	bad "FBO readback: $(line g gl-pixels) rc=$(line g gl-check-rc)" g
[ -n "$gpid" ] && [ -z "$problems" ] && ok "the GPU process (virgl, the host's /usr bound in) is jailed" ||
	bad "GPU jail: pid ${gpid:-none}, lacks:$problems" g
[ "$(line g poke-rc)" = 0 ] &&
	ok "hostile virgl input refused, then a render read back: $(line g poke-answers)" ||
	bad "hostile virgl input: virtio-poke exit '$(line g poke-rc)': $(line g poke-answers)" g
[ "$(line g again-rc)" = 0 ] && [[ $(line g again-gl-pixels) == "4096 gl-mismatch=0" ]] &&
	ok "after it, with the driver bound again, a new GL context renders right" ||
	bad "after hostile input: gl-check rc '$(line g again-rc)', $(line g again-gl-pixels)" g
# The one GPU process served it all: none died, was killed or reset.
# The VMM's log up to virtio-poke's first hostile step (a 64-byte garbage
# stream on its context 2) must be calm: refusals after it are wanted.
# Cutting by content, not by when the console showed gl-check's end, holds
# on a busy machine too.
calm_lines=$(grep -n -m1 "virgl context 2 refused a 64-byte stream" "$work/g.err" | cut -d: -f1)
calm_lines=$((${calm_lines:-1000000} - 1))
! head -n "$calm_lines" "$work/g.err" | grep -qi "refus\|virgl.*fail" &&
	! grep -qi "seccomp\|device process died\|killing its device process\|needs a reset" "$work/g.err" &&
	ok "the GPU process logged no refusal before the hostile part, and was never killed or reset" ||
	bad "the VMM logged: $({ head -n "$calm_lines" "$work/g.err" | grep -i "refus\|virgl.*fail"
		grep -i "seccomp\|died\|killing its\|needs a reset" "$work/g.err"; } | head -3 | tr '\n' ' ')" g
echo "linux_virgl: $passed passed, $failed failed"
[ $failed -eq 0 ]
