#!/bin/bash
# Shared directories over virtio-fs with the real C virtiofsd (bookworm's
# QEMU 7.2, from tests/rig/virtiofsd.sh), vhost-user devices, and the
# host-userland guest. Inside L1:
# - "fs": a guest whose root is L1's root over virtiofs (read-only, with
#   a tmpfs overlay: vmsilo.root=virtiofs:root) runs fio, python3 and
#   bash from it; with a writable share, a read-only share and the shared
#   home at once, tests/integration/virtiofs_guest.sh writes a 64 MiB
#   random file (its sha256 checked on the host), checks 1,000 files the
#   host wrote, renames, unlinks, links, chmods, truncates, fsyncs, reads
#   a host file through mmap and makes a tree 20 deep, each then looked at
#   from the host; the read-only share refuses writes with EROFS; the home
#   is made from the template with the VM user's owner. A second boot of
#   the same VM finds what the first wrote in its home.
# - "kill": virtiofsd killed under a running guest: the VM and the VMM
#   live, the device shows needs-reset, the VMM says what happened and
#   starts another virtiofsd, which takes the queues over where the dead
#   one stopped (calls on the mounted share fail with EIO, none hangs);
#   after the guest resets the device (driver unbound and bound, share
#   mounted again) the share works and the device runs again.
# - a share whose path does not exist: one config-time line, nothing starts.
# - "qsd": qemu-storage-daemon's vhost-user-blk export serves a disk: a
#   pattern the guest writes is byte-identical in the host's image.
# - "hostile": tests/integration/vhost_user_hostile.c answers the
#   handshake wrongly in each of its modes: the device fails with a log
#   line, the guest boots and powers off, the VMM exits 0.
# Sizes are what the checks need: 64 MiB is what issue 10 names.
#   linux_virtiofs.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	hostile=$build/tests/vhost_user_hostile
	for f in "$agent" "$hostile"; do
		[ -x "$f" ] || { echo "linux_virtiofs: $f is not built" >&2; exit 1; }
	done
	virtiofsd=$("$top/tests/rig/virtiofsd.sh" --print-path)
	command -v qemu-storage-daemon > /dev/null ||
		{ echo "linux_virtiofs: qemu-storage-daemon is missing (tests/deps.sh installs qemu-utils)" >&2; exit 1; }
	rig_begin "$build"
	initrd=$build/guest/virtiofs-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" \
		--modules "fuse virtiofs overlay virtio_blk vmw_vsock_virtio_transport" \
		--add "$agent:/bin/vmsilo-guest-agent"
	rig_reexec "$build" "$here/linux_virtiofs.sh" "$vmm" "$vmlinux" "$initrd" \
		"$build/integration-logs" "$build/host-tools" "$virtiofsd" "$hostile"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tools=$5 virtiofsd=$6 hostile=$7
source "$here/guest_lib.sh"

command -v socat > /dev/null || { echo "FAIL: socat is missing (tests/deps.sh)"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
ctl() { printf '%s\n' "$2" | timeout 30 socat -t 20 - "UNIX-CONNECT:$work/run/$1/control.socket"; }
status() { ctl "$1" '{"version":1,"command":"status"}'; }

# share TAG PATH [keys...]: one [[shared_dir]] table.
share() {
	printf '[[shared_dir]]\ntag = "%s"\npath = "%s"\n' "$1" "$2"
	shift 2
	printf '%s\n' "$@"
}

# A VM whose init runs SCRIPT (sh -c) with the given extra TOML and
# kernel parameters before vmsilo.test=cmd.
cmd_vm() { # NAME MEM SCRIPT TOML [PARAMS...]
	local name=$1 mem=$2 script=$3 toml=$4 params="" p
	shift 4
	for p in "$@"; do params+="\"$p\", "; done
	config "$name" "$vmlinux" 1 "$mem" cmd "virtiofsd = \"$virtiofsd\"
$toml" > /dev/null
	sed -i "s|^kernel_params = .*|kernel_params = [$params\"vmsilo.test=cmd\", \"vmsilo.cmd=$(urlencode "$script")\"]|" \
		"$work/$name.toml"
}

# ---- 1. the host-userland guest with three shares and the home
data=$work/data ro=$work/ro tmpl=$work/tmpl shared=$work/shared
mkdir -p "$data/many" "$ro" "$tmpl/sub"
for i in $(seq 1000); do echo "file $i" > "$data/many/$i"; done
(cd "$data/many" && sha256sum -- * > ../manifest)
printf 'mapped-bytes-and-more\n' > "$data/hostfile"
head -c 65536 /dev/urandom > "$ro/file"
ro_sha=$(sha "$ro/file")
echo template-file > "$tmpl/from-template"
echo nested > "$tmpl/sub/inner"
nobody_id="$(id -u nobody):$(id -g nobody)"
l1root=$(l1_root_share) || { echo "FAIL: cannot bind L1's root for the root share"; exit 1; }
fs_toml="user = \"nobody\"
shared_home = true
shared_root = \"$shared\"
home_template = \"$tmpl\"
$(share root "$l1root" 'readonly = true')
$(share data "$data" 'mount_path = "/mnt/data"')
$(share ro "$ro" 'mount_path = "/mnt/ro"' 'readonly = true')"
cmd_vm fs 512 "bash $here/virtiofs_guest.sh main /mnt/data /mnt/ro /home/user" "$fs_toml" \
	"vmsilo.root=virtiofs:root"
run fs
[ $rc -eq 0 ] && [ "$(line fs guest-done)" = 1 ] && ok "fs: the host-userland guest ran to its end" ||
	bad "fs: rc=$rc" fs
[ "$(line fs fio)" = "$(fio --version | head -n 1)" ] && [ "$(line fs bash_sha)" = "$(sha /usr/bin/bash)" ] &&
	[ "$(line fs python)" = 1 ] &&
	ok "host userland: fio --version, sha256sum /usr/bin/bash and python3 from L1's root" ||
	bad "host userland: fio=$(line fs fio) bash=$(line fs bash_sha) python=$(line fs python)" fs
[ "$(line fs big_sha)" = "$(sha "$data/big" 2> /dev/null)" ] && [ "$(stat -c %s "$data/big")" = 67108864 ] &&
	ok "a 64 MiB random file written by the guest has the same sha256 on the host" ||
	bad "big file: guest $(line fs big_sha)" fs
[ "$(line fs many_count)" = "1000 many_bad=0" ] &&
	ok "1,000 files the host wrote: the guest lists and checksums them all" ||
	bad "1,000 files: $(line fs many_count)" fs
o=$data/ops
[ "$(cat "$o/renamed" 2> /dev/null)" = one ] && [ ! -e "$o/a" ] && [ ! -e "$o/unlinked" ] &&
	[ "$(stat -c %i "$o/orig")" = "$(stat -c %i "$o/hard")" ] && [ "$(stat -c %h "$o/orig")" = 2 ] &&
	[ "$(readlink "$o/sym")" = orig ] && [ "$(stat -c %a "$o/mode")" = 640 ] &&
	[ "$(stat -c %s "$o/trunc")" = 1234 ] && [ "$(cat "$o/fsynced")" = fsynced ] &&
	[ "$(line fs hard_nlink)" = "2 sym=orig mode=640 trunc=1234" ] &&
	ok "rename, unlink, hard link, symlink, chmod, truncate and fsync as the host sees them" ||
	bad "file ops: $(line fs hard_nlink); host: $(ls -l "$o" 2>&1 | tr '\n' ' ')" fs
deep=$data/deep$(printf '/d%d' $(seq 20))/leaf
[ "$(line fs mmap)" = "mapped-bytes" ] && [ "$(cat "$deep" 2> /dev/null)" = bottom ] &&
	[ "$(line fs deep)" = bottom ] &&
	ok "an mmap read of a host file, and a tree 20 deep" ||
	bad "mmap=$(line fs mmap) deep=$(line fs deep)" fs
[ "$(line fs ro_touch_rc)" != "0 ro_erofs=0" ] && [ "$(line fs ro_touch_rc | cut -d= -f2)" = 1 ] &&
	[ ! -e "$ro/new" ] && [ "$(sha "$ro/file")" = "$ro_sha" ] && [ "$(line fs ro_sha)" = "$ro_sha" ] &&
	ok "a readonly share: the guest reads it, its write fails with EROFS, the host files are unchanged" ||
	bad "readonly: $(line fs ro_touch_rc)" fs
home=$shared/fs/home
[ "$(stat -c %u:%g "$home" 2> /dev/null)" = "$nobody_id" ] &&
	[ "$(stat -c %u:%g "$home/sub/inner")" = "$nobody_id" ] && [ "$(cat "$home/sub/inner")" = nested ] &&
	[ "$(line fs home_template)" = template-file ] && [ "$(line fs home_owner)" = "$nobody_id" ] &&
	[ "$(cat "$home/written-by-guest" 2> /dev/null)" = kept ] &&
	ok "shared home: made from the template, owned by the VM's user, mounted at /home/user" ||
	bad "shared home: owner $(stat -c %u:%g "$home" 2>&1) guest $(line fs home_template) $(line fs home_owner)" fs
[ -z "$(ls "$work/run/fs" 2> /dev/null | grep virtiofs)" ] && ! pgrep -f "source=$data" > /dev/null &&
	ok "after the VM: no virtiofsd left and no socket in the runtime directory" ||
	bad "leftovers: $(ls "$work/run/fs" 2>&1) $(pgrep -af virtiofsd)" fs

cmd_vm fs 512 "bash $here/virtiofs_guest.sh again /home/user" "$fs_toml" "vmsilo.root=virtiofs:root"
mv "$work/fs.console" "$work/fs.first.console"
run fs
[ $rc -eq 0 ] && [ "$(line fs home_kept)" = kept ] && [ "$(line fs guest-done)" = 1 ] &&
	ok "shared home: a second start keeps what the first wrote" ||
	bad "second start: rc=$rc home_kept=$(line fs home_kept)" fs

# ---- 2. virtiofsd killed under a running guest
mkdir -p "$work/kdata" && echo before > "$work/kdata/f"
config kill "$vmlinux" 1 256 hang "virtiofsd = \"$virtiofsd\"
$(share kdata "$work/kdata" 'mount_path = "/mnt/k"')
[vsock]
cid = 3" > /dev/null
sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]|' "$work/kill.toml"
guest() { timeout 120 "$tools/vm-run" --runtime-dir "$work/run" "$@"; }
ready=0
if start_until kill "VMSILO agent-started"; then
	for _ in $(seq 240); do
		[[ $(status kill) == *'"agent":"ready"'* ]] && { ready=1; break; }
		sleep 0.5
	done
fi
fsd=$(pgrep -P $pid -x virtiofsd | head -n 1)
if [ $ready = 1 ] && [ -n "$fsd" ] && [ "$(guest kill cat /mnt/k/f)" = before ]; then
	kill -KILL "$fsd"
	state=""
	for _ in $(seq 100); do
		state=$(status kill)
		[[ $state == *'"name":"fs0","pid":'*'"state":"needs-reset"'* ]] && break
		sleep 0.2
	done
	[[ $state == *'"state":"needs-reset"'* ]] && kill -0 $pid 2> /dev/null &&
		[ "$(guest kill echo alive)" = alive ] &&
		grep -q "fs0: virtiofsd .*signal 9" "$work/kill.err" &&
		ok "virtiofsd killed: the VM runs on, fs0 needs a reset, and the VMM says why" ||
		bad "virtiofsd killed: $state" kill
	for _ in $(seq 50); do grep -q "virtiofsd restarted" "$work/kill.err" && break; sleep 0.2; done
	new=$(pgrep -P $pid -x virtiofsd | head -n 1)
	[ -n "$new" ] && [ "$new" != "$fsd" ] && grep -q "fs0: virtiofsd restarted" "$work/kill.err" &&
		ok "the VMM started another virtiofsd for the share" || bad "no new virtiofsd" kill
	# The new virtiofsd takes the running device's queues over, but not
	# the FUSE session the guest opened with the dead one: calls on the
	# mounted share fail (EIO) instead of waiting for ever.
	echo later > "$work/kdata/g"
	said=$(guest kill cat /mnt/k/g 2>&1)
	[[ $said == *"Input/output error"* ]] &&
		ok "the mounted share's calls fail with EIO after the crash, none hangs" ||
		bad "after the crash: guest cat said \"$said\"" kill
	# The guest resets the device (its driver unbound and bound again):
	# the share works after that too, and the device is running again.
	echo after > "$work/kdata/f"
	again=$(guest kill sh -c 'umount -l /mnt/k; d=$(basename /sys/bus/virtio/drivers/virtiofs/virtio*)
echo $d > /sys/bus/virtio/drivers/virtiofs/unbind && echo $d > /sys/bus/virtio/drivers/virtiofs/bind &&
mkdir -p /mnt/k2 && mount -t virtiofs kdata /mnt/k2 && cat /mnt/k2/f' 2>&1)
	[ "$again" = after ] && [[ $(status kill) == *'"name":"fs0","pid":'*'"state":"running"'* ]] &&
		ok "after the guest resets the device, the share works again through the new virtiofsd" ||
		bad "re-attach: guest said \"$again\"; $(status kill)" kill
	"$tools/vm-stop" --runtime-dir "$work/run" kill > /dev/null 2>&1
	(sleep 20; kill -KILL $pid) 2> /dev/null &
else
	bad "kill: the guest did not come up with its share (ready=$ready virtiofsd=$fsd)" kill
	kill -KILL $pid 2> /dev/null
fi
finish

# ---- 3. a share whose path does not exist
config nopath "$vmlinux" 1 256 poweroff "virtiofsd = \"$virtiofsd\"
$(share gone "$work/does-not-exist")" > /dev/null
timeout 60 "$vmm" --config "$work/nopath.toml" > /dev/null 2> "$work/nopath.err"
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l < "$work/nopath.err")" = 1 ] &&
	grep -q "nopath.toml:[0-9]*:[0-9]*: .*path.*does-not-exist" "$work/nopath.err" &&
	[ ! -e "$work/run/nopath" -o -z "$(ls "$work/run/nopath" 2> /dev/null)" ] &&
	ok "a share whose path does not exist: one config-time line, nothing started" ||
	bad "missing path: rc=$rc $(cat "$work/nopath.err")" nopath

# ---- 4. qemu-storage-daemon's vhost-user-blk export
truncate -s 16M "$work/qsd.img"
qemu-storage-daemon --blockdev driver=file,node-name=file0,filename="$work/qsd.img" \
	--export type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path="$work/qsd.sock",writable=on \
	> "$work/qsd.log" 2>&1 &
qsd=$!
for _ in $(seq 100); do [ -S "$work/qsd.sock" ] && break; sleep 0.1; done
cmd_vm qsd 256 'head -c 4194304 /dev/urandom > /p
dd if=/p of=/dev/vda bs=1M conv=fsync 2>/dev/null
echo "VMSILO written=$(sha256sum < /p | cut -d" " -f1)"
echo "VMSILO size=$(cat /sys/block/vda/size)"' "[[vhost_user]]
type = \"blk\"
socket = \"$work/qsd.sock\""
run qsd
kill $qsd 2> /dev/null; wait $qsd 2> /dev/null
written=$(line qsd written)
[ $rc -eq 0 ] && [ -n "$written" ] && [ "$(head -c 4194304 "$work/qsd.img" | sha256sum | cut -d' ' -f1)" = "$written" ] &&
	[ "$(line qsd size)" = 32768 ] &&
	ok "vhost-user-blk from qemu-storage-daemon: a 4 MiB pattern the guest wrote is in the host image" ||
	bad "qsd: rc=$rc written=$written size=$(line qsd size) $(tail -n 3 "$work/qsd.log")" qsd

# ---- 5. hostile backends
for mode in short size fds queues hangup silent; do
	rm -f "$work/h.sock"
	"$hostile" "$work/h.sock" $mode > "$work/hostile-$mode.log" 2>&1 &
	hp=$!
	for _ in $(seq 100); do [ -S "$work/h.sock" ] && break; sleep 0.1; done
	cmd_vm "h$mode" 256 'echo "VMSILO alive=1"' "[[vhost_user]]
type = \"blk\"
socket = \"$work/h.sock\""
	run "h$mode"
	kill $hp 2> /dev/null; wait $hp 2> /dev/null
	[ $rc -eq 0 ] && [ "$(line "h$mode" alive)" = 1 ] && grep -q "vhu0: " "$work/h$mode.err" &&
		ok "hostile backend ($mode): the device fails with a log line, the guest and the VMM live" ||
		bad "hostile $mode: rc=$rc $(head -c 300 "$work/h$mode.err")" "h$mode"
done

echo "linux_virtiofs: $passed passed, $failed failed"
[ $failed -eq 0 ]
