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
# - the GPU process stayed jailed and running, and logged no refusal.
# Budget: the guest boots in one to two minutes in the rig; Mesa loads and
# llvmpipe compiles the guest's shaders under nested TCG, so the command
# gets up to 10 minutes before the VM is called stuck.
# Not in CTest until HOST3D blobs exist (tests/CMakeLists.txt says why).
#   linux_virgl.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	glcheck=$build/tests/vmsilo-gl-check
	[ -x "$glcheck" ] || { echo "linux_virgl: $glcheck is not built" >&2; exit 1; }
	rig_begin "$build"
	initrd=$build/guest/virgl-initramfs.cpio
	# guest_lib.sh's VIRTIOFS_MODULES and the GPU (sourcing it here would
	# make its work directory on the host).
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "virtio_gpu fuse virtiofs overlay" \
		--add "$glcheck:/bin/vmsilo-gl-check"
	rig_reexec "$build" "$here/linux_virgl.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4
source "$here/guest_lib.sh"
virtiofsd=$(virtiofsd_path) || { echo "FAIL: no virtiofsd (tests/rig/virtiofsd.sh)"; exit 1; }
l1root=$(l1_root_share) || { echo "FAIL: cannot bind L1's root for the root share"; exit 1; }

script='eglinfo 2>&1 | sed -n "/^Surfaceless platform/,/^EGL driver name/s/^EGL driver name: /VMSILO egl-driver=/p"
/usr/local/bin/vmsilo-gl-check; echo "VMSILO gl-check-rc=$?"'
config g "$vmlinux" 1 512 cmd "virtiofsd = \"$virtiofsd\"
[[shared_dir]]
tag = \"root\"
path = \"$l1root\"
readonly = true
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
! grep -qi "seccomp\|refus\|virgl.*fail" "$work/g.err" &&
	ok "the GPU process logged no refusal or seccomp kill" ||
	bad "the VMM logged: $(grep -i -m3 "seccomp\|refus\|virgl.*fail" "$work/g.err" | tr '\n' ' ')" g
echo "linux_virgl: $passed passed, $failed failed"
[ $failed -eq 0 ]
