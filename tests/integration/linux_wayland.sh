#!/bin/bash
# Unmodified Wayland programs in a guest, on the host's compositor, through
# vmsilo-wayland-proxy (guest-agent/wayland/). The guest's root is L1's
# Debian userland over virtiofs (Weston's demo clients, wayland-info); its
# [gpu] has wayland_socket = Weston 10 headless in L1 (pixman, 640x480) and
# OpenGL on. The guest runs the proxy on $XDG_RUNTIME_DIR/wayland-0 and, in
# turn, clients the host side checks in screenshots (host and guest step
# each other on: the guest prints a VMSILO line and waits for a file on a
# read-only share the host writes):
# - wayland-info through the proxy: the proxy's allow-list only, Weston's
#   wp_presentation hidden;
# - wl-floor-client (a libwayland client drawing the 200x120 test pattern
#   into wl_shm) shows its pattern; unmodified weston-simple-shm shows its
#   white-framed 250x250 window, and is then killed mid-frame;
# - Mesa's EGL on the proxy's socket picks virtio_gpu (the proxy's own
#   zwp_linux_dmabuf_v1 names the guest's render node), so weston-simple-egl
#   renders on virgl; its window is coloured and changes between two
#   screenshots, and the proxy's stats count its commits as dma-bufs read
#   back from the host;
# - the proxy killed under weston-simple-shm: the client ends, the VM and
#   the VMM live, a new proxy serves a new client whose pattern shows;
# - Weston restarted under a mapped client: that client is closed, the
#   next one reaches the new Weston and its pattern shows there; the new
#   Weston runs in Xvfb (guest_lib's weston_start ... seat) for its seat;
# - the clipboard through the proxy's pipes, with that seat: 48 KiB of text
#   copied by wl-copy in the guest and pasted by wl-paste on the host, then
#   the other way, each compared by SHA-256;
# - no seccomp kill, no GPU process death, the VM powers off cleanly.
# Budget: the guest boots in one to two minutes in the rig; each step gets
# up to 4 minutes (Mesa and the clients start slowly under nested TCG),
# the whole VM 20 minutes before it is called stuck.
#   linux_wayland.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	proxy=$build/guest-agent/vmsilo-wayland-proxy floor=$build/tests/wl-floor-client
	for f in "$proxy" "$floor"; do
		[ -x "$f" ] || { echo "linux_wayland: $f is not built" >&2; exit 1; }
	done
	rig_begin "$build"
	initrd=$build/guest/wayland-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "virtio_gpu fuse virtiofs overlay" \
		--add "$proxy:/bin/vmsilo-wayland-proxy" --add "$floor:/bin/vmsilo-wl-floor-client"
	rig_reexec "$build" "$here/linux_wayland.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4
source "$here/guest_lib.sh"
img_check=$here/img_check.py
virtiofsd=$(virtiofsd_path) || { echo "FAIL: no virtiofsd (tests/rig/virtiofsd.sh)"; exit 1; }
l1root=$(l1_root_share) || { echo "FAIL: cannot bind L1's root for the root share"; exit 1; }
missing=$(gpu_host_tools_missing)
[ -z "$missing" ] || { echo "FAIL: L1 lacks:$missing (tests/deps.sh)"; exit 1; }
ctl=$work/ctl
mkdir -p "$ctl"

# The guest's part, on the share: too long for the kernel command line.
cat > "$ctl/guest.sh" <<'EOS'
export XDG_RUNTIME_DIR=/run/wl; mkdir -p -m 700 $XDG_RUNTIME_DIR; sock=$XDG_RUNTIME_DIR/wayland-0
# Loops sleep a second a turn: in the nested guest every fork is slow.
gate() { i=0; while [ ! -e /ctl/$1 ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done; }
proxy() { /usr/local/bin/vmsilo-wayland-proxy --stats --verbose >> /tmp/proxy.log 2>&1 & ppid=$!; i=0
	while [ ! -S $sock ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; }
mapped() { i=0; while ! grep -q "^VMSILO wl-frame-done=1" $1 && [ $i -lt 240 ]; do sleep 1; i=$((i+1)); done
	grep -q "^VMSILO wl-frame-done=1" $1 && echo mapped || { echo failed; sed "s/^/VMSILO client-out: /" $1; }; }
# A child that exited is a zombie until waited for: that counts as ended.
alive() { st=Z; [ -e /proc/$1/stat ] && read -r _ _ st _ < /proc/$1/stat; [ "$st" != Z ]; }
ended() { i=0; while alive $1 && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
	alive $1 && echo lives || echo ended; }
proxy; echo "VMSILO proxy=$([ -S $sock ] && echo up || echo down)"
d=$(WAYLAND_DISPLAY=wayland-0 eglinfo 2>/dev/null | sed -n '/^Wayland platform:/,/^X11 platform:/s/^EGL driver name: //p')
echo "VMSILO wl-egl-driver=${d:-none}"
wayland-info 2>/dev/null | sed -n "s/^interface: .\([a-z_0-9]*\)., *version: *\([0-9]*\).*/VMSILO global=\1 v\2/p"
echo "VMSILO globals-done=1"
/usr/local/bin/vmsilo-wl-floor-client --socket $sock --seconds 1200 > /tmp/floor.out 2>&1 & fpid=$!
echo "VMSILO floor=$(mapped /tmp/floor.out)"; gate floor; kill $fpid
WAYLAND_DISPLAY=wayland-0 weston-simple-shm > /tmp/shm.out 2>&1 & spid=$!
sleep 2; echo "VMSILO shm=started"; gate shm; kill -9 $spid; echo "VMSILO shm-killed=$(ended $spid)"
WAYLAND_DISPLAY=wayland-0 weston-simple-egl > /tmp/egl.out 2>&1 & epid=$!
sleep 2; echo "VMSILO egl=started"; gate egl; kill $epid; echo "VMSILO egl-ended=$(ended $epid)"
sleep 2; echo "VMSILO egl-stats=$(grep "stats:" /tmp/proxy.log | tail -1 | sed "s/.*stats: //")"
sed "s/^/VMSILO egl-out: /" /tmp/egl.out | head -5
WAYLAND_DISPLAY=wayland-0 es2gears_wayland > /tmp/gears.out 2>&1 & gpid=$!
sleep 2; echo "VMSILO gears=started"; gate gears; kill $gpid; echo "VMSILO gears-ended=$(ended $gpid)"
sed "s/^/VMSILO gears-out: /" /tmp/gears.out | head -5
WAYLAND_DISPLAY=wayland-0 weston-simple-shm > /dev/null 2>&1 & spid=$!
sleep 5; kill -9 $ppid; echo "VMSILO proxy-killed=$(ended $spid)"; rm -f $sock
proxy; /usr/local/bin/vmsilo-wl-floor-client --socket $sock --seconds 1200 > /tmp/floor2.out 2>&1 & fpid=$!
echo "VMSILO floor2=$(mapped /tmp/floor2.out)"; gate floor2
echo "VMSILO floor2-after-restart=$(ended $fpid)"; gate weston-back
/usr/local/bin/vmsilo-wl-floor-client --socket $sock --seconds 1200 > /tmp/floor3.out 2>&1 & fpid=$!
echo "VMSILO floor3=$(mapped /tmp/floor3.out)"; gate floor3; kill $fpid
head -c 36864 /dev/urandom | base64 -w0 > /tmp/clip-out
WAYLAND_DISPLAY=wayland-0 timeout 240 wl-copy < /tmp/clip-out
echo "VMSILO guest-copied=$? $(sha256sum < /tmp/clip-out | cut -c1-64)"; gate clip-host
WAYLAND_DISPLAY=wayland-0 timeout 240 wl-paste -n > /tmp/clip-in
echo "VMSILO guest-pasted=$? $(sha256sum < /tmp/clip-in | cut -c1-64) $(wc -c < /tmp/clip-in)"
kill $ppid; sleep 1; sed -n "s/^vmsilo-wayland-proxy: \(client .*stats.*\)/VMSILO proxy-\1/p" /tmp/proxy.log
grep -v "stats\|connected\|went away\|listening" /tmp/proxy.log | sed "s/^/VMSILO proxy-log: /" | head -20
EOS

weston_start w 640 480 || { echo "FAIL: Weston headless did not start in L1"; exit 1; }
config g "$vmlinux" 1 768 cmd "$(root_share_toml "$virtiofsd" "$l1root")
[[shared_dir]]
tag = \"ctl\"
path = \"$ctl\"
readonly = true
[gpu]
wayland_socket = \"$weston_socket\"
width = 640
height = 480" > /dev/null
sed -i "s|^kernel_params = .*|kernel_params = [\"vmsilo.root=virtiofs:root\", \"vmsilo.test=cmd\", \"systemd.mount-extra=ctl:/ctl:virtiofs\", \"vmsilo.cmd=$(urlencode "sh /ctl/guest.sh")\"]|" \
	"$work/g.toml"

# step MARK: wait (4 minutes at most) until the guest printed "VMSILO MARK=";
# the console so far goes to the results, which outlive a rig timeout.
t0=$(date +%s)
step() {
	local rc=1
	for _ in $(seq 2400); do
		grep -q "^VMSILO $1=" "$work/g.console" 2> /dev/null && { rc=0; break; }
		kill -0 $pid 2> /dev/null || break
		sleep 0.1
	done
	echo "NOTE: step $1 $([ $rc -eq 0 ] && echo reached || echo "not reached") at +$(($(date +%s) - t0)) s"
	cp "$work/g.console" "$logs/linux_wayland.console" 2> /dev/null
	cp "$work/g.err" "$logs/linux_wayland.err" 2> /dev/null
	return $rc
}
go() { touch "$ctl/$1"; }
shot() { # NAME: a screenshot after a few seconds, for the guest's frames to land
	sleep "${2:-5}"
	weston_screenshot "$work/$1.png" || echo "no screenshot $1"
}
pattern_shows() { # NAME WHAT
	shot "$1"
	"$img_check" png-pattern "$work/$1.png" 200 120 > "$work/$1.chk" &&
		ok "$2: $(cat "$work/$1.chk")" || bad "$2: $(cat "$work/$1.chk")" g
}

weston_screenshot "$work/before.png" || echo "no screenshot before the guest"
start_until g "VMSILO root=virtiofs:root" || bad "g: the host-userland guest did not start" g
kill $watchdog 2> /dev/null
(exec sleep 1200) > /dev/null 2>&1 && kill -KILL $pid 2> /dev/null &
watchdog=$!

step globals-done
globals=$(tr -d '\r' < "$work/g.console" | sed -n 's/^VMSILO global=//p' | sort)
grep -qx "wl_compositor v4" <<< "$globals" && grep -qx "wl_shm v1" <<< "$globals" &&
	grep -qx "xdg_wm_base v3" <<< "$globals" && ! grep -q "^wp_presentation" <<< "$globals" &&
	grep -qx "zwp_linux_dmabuf_v1 v4" <<< "$globals" &&
	ok "the proxy's globals in the guest: $(tr '\n' ' ' <<< "$globals")" ||
	bad "the guest's globals: '$(tr '\n' ' ' <<< "$globals")' (proxy $(line g proxy))" g

[ "$(line g wl-egl-driver)" = virtio_gpu ] &&
	ok "Mesa's EGL on the proxy's Wayland picks virgl: driver $(line g wl-egl-driver)" ||
	bad "Mesa's EGL on the proxy's Wayland: driver '$(line g wl-egl-driver)', not virtio_gpu" g

step floor && [ "$(line g floor)" = mapped ] || bad "wl-floor-client through the proxy: $(line g floor)" g
pattern_shows floor "the guest's wl-floor-client, through the proxy, on the host"
go floor

step shm
shot shm 10
"$img_check" png-framed "$work/shm.png" 250 250 20 > "$work/shm.chk" &&
	ok "unmodified weston-simple-shm in the guest: $(cat "$work/shm.chk")" ||
	bad "weston-simple-shm: $(cat "$work/shm.chk")" g
go shm
step shm-killed

step egl
shot egl1 20
shot egl2 3
"$img_check" png-coloured "$work/egl1.png" 50 > "$work/egl.chk" &&
	"$img_check" png-differs "$work/egl1.png" "$work/egl2.png" > "$work/egl2.chk" &&
	ok "weston-simple-egl in the guest: $(cat "$work/egl.chk"); $(cat "$work/egl2.chk")" ||
	bad "weston-simple-egl: $(cat "$work/egl.chk" "$work/egl2.chk" 2> /dev/null) $(line g egl-out)" g
go egl
step egl-stats
grep -q "dmabuf-commits=[1-9]" <<< "$(line g egl-stats)" &&
	ok "weston-simple-egl's frames came as virgl dma-bufs, read back by the proxy: $(line g egl-stats)" ||
	bad "weston-simple-egl's frames did not come as dma-bufs: $(line g egl-stats)" g

step gears
shot gears1 20
shot gears2 3
"$img_check" png-coloured "$work/gears1.png" 50 > "$work/gears.chk" &&
	"$img_check" png-differs "$work/gears1.png" "$work/gears2.png" > "$work/gears2.chk" &&
	ok "es2gears_wayland in the guest: $(cat "$work/gears.chk"); $(cat "$work/gears2.chk")" ||
	bad "es2gears_wayland: $(cat "$work/gears.chk" "$work/gears2.chk" 2> /dev/null) $(line g gears-out)" g
go gears

step proxy-killed && step floor2
[ "$(line g proxy-killed)" = ended ] && [ "$(line g floor2)" = mapped ] &&
	ok "the proxy killed under weston-simple-shm: the client ended, a new proxy serves" ||
	bad "after killing the proxy: $(line g proxy-killed), new client $(line g floor2)" g
pattern_shows floor2 "the new proxy's client on the host"

weston_stop
weston_start w 640 480 seat || bad "Weston (with a seat, in Xvfb) did not start again" g
go floor2
step floor2-after-restart
[ "$(line g floor2-after-restart)" = ended ] &&
	ok "Weston restarted: the guest client on the old one was closed" ||
	bad "Weston restarted: the guest client $(line g floor2-after-restart)" g
go weston-back
step floor3 && [ "$(line g floor3)" = mapped ] || bad "a client after Weston's restart: $(line g floor3)" g
pattern_shows floor3 "after Weston's restart, a new guest client on the new Weston"
go floor3

# sha_of FILE: its SHA-256, as the guest prints it.
sha_of() { sha256sum < "$1" | cut -c1-64; }
step guest-copied
read -r rc want <<< "$(line g guest-copied)"
WAYLAND_DISPLAY=$weston_socket timeout 240 wl-paste -n > "$work/clip-out" 2> "$work/clip.err"
[ "$rc" = 0 ] && [ "$(sha_of "$work/clip-out")" = "$want" ] &&
	ok "the clipboard, guest to host: wl-copy in the guest, wl-paste on the host, $(wc -c < "$work/clip-out") bytes" ||
	bad "the clipboard, guest to host: guest wl-copy $rc, host got $(wc -c < "$work/clip-out") bytes $(head -c 200 "$work/clip.err")" g
head -c 36864 /dev/urandom | base64 -w0 > "$work/clip-in"
WAYLAND_DISPLAY=$weston_socket timeout 240 wl-copy < "$work/clip-in" 2>> "$work/clip.err" || echo "NOTE: wl-copy on the host failed"
go clip-host
step guest-pasted
read -r rc got bytes <<< "$(line g guest-pasted)"
[ "$rc" = 0 ] && [ "$got" = "$(sha_of "$work/clip-in")" ] &&
	ok "the clipboard, host to guest: wl-copy on the host, wl-paste in the guest, $bytes bytes" ||
	bad "the clipboard, host to guest: guest wl-paste $rc, $bytes bytes" g

for _ in $(seq 1800); do
	grep -q "^VMSILO exit=" "$work/g.console" 2> /dev/null && break
	kill -0 $pid 2> /dev/null || break
	sleep 0.1
done
kill -INT $pid 2> /dev/null
finish
weston_stop
tr -d '\r' < "$work/g.console" | grep "^VMSILO proxy-" | sed 's/^VMSILO /  /'
! grep -qi "seccomp\|device process died\|killing its device process\|needs a reset" "$work/g.err" &&
	grep -q "^VMSILO exit=" "$work/g.console" &&
	ok "the VM lived through it all and powered off; no device process died" ||
	bad "the VMM logged: $(grep -i -m3 "seccomp\|died\|killing its\|needs a reset" "$work/g.err" | tr '\n' ' ')" g
echo "linux_wayland: $passed passed, $failed failed"
[ $failed -eq 0 ]
