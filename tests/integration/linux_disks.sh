#!/bin/bash
# virtio-blk under a real Linux guest: data written by the guest checked
# byte for byte from the host, fsync'ed data surviving a SIGKILL of the
# VMM, read-only disks, discard, an ext4 filesystem that passes e2fsck,
# four disks at once, vmsilo's erofs + overlay root, and the jails and
# supervision of the disk processes. Runs inside the nested rig when the
# host has no VT-x/AMD-V.
#   linux_disks.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	rig_begin "$build"
	initrd=$build/guest/disk-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "virtio_blk ext4 erofs overlay"
	rig_reexec "$build" "$here/linux_disks.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4
source "$here/guest_lib.sh"

# disk_vm NAME SCRIPT DISK_TOML: a VM whose init runs SCRIPT with sh -c.
# One vCPU: these guests load many modules, and module loading patches
# kernel text, which QEMU's TCG under the rig mishandles across vCPUs.
disk_vm() {
	config "$1" "$vmlinux" 1 256 cmd "$3" > /dev/null
	sed -i "s|^kernel_params = .*|kernel_params = [\"vmsilo.test=cmd\", \"vmsilo.cmd=$(urlencode "$2")\"]|" \
		"$work/$1.toml"
}

disk() { # PATH [extra keys...]
	printf '[[disk]]\npath = "%s"\n' "$1"
	shift
	printf '%s\n' "$@"
}

sha() { sha256sum | cut -d' ' -f1; }
blocks() { stat -c %b "$1"; }

# 1. Four disks: sizes and serials, a pattern written and read back from
#    the host, a read-only disk that refuses writes, discard.
truncate -s 16M "$work/d0.img"
truncate -s 8M "$work/d1.img"
head -c 8388608 /dev/urandom > "$work/ro.img"
head -c 33554432 /dev/urandom > "$work/sparse.img"
ro_sha=$(sha < "$work/ro.img")
sparse_blocks=$(blocks "$work/sparse.img")
disk_vm four 'for d in vda vdb vdc vdd; do echo "VMSILO $d size=$(cat /sys/block/$d/size) serial=$(cat /sys/block/$d/serial)"; done
head -c 4194304 /dev/urandom > /p
dd if=/p of=/dev/vda bs=1M conv=fsync 2>/dev/null
echo "VMSILO written=$(sha256sum < /p | cut -d" " -f1)"
echo 3 > /proc/sys/vm/drop_caches
echo "VMSILO readback=$(dd if=/dev/vda bs=1M count=4 2>/dev/null | sha256sum | cut -d" " -f1)"
dd if=/dev/zero of=/dev/vdc bs=4096 count=1 conv=fsync 2>/dev/null; echo "VMSILO ro_write_rc=$?"
echo "VMSILO ro_sha=$(sha256sum < /dev/vdc | cut -d" " -f1)"
blkdiscard /dev/vdd; echo "VMSILO discard_rc=$?"' \
	"$(disk "$work/d0.img" 'id = "data0"'; disk "$work/d1.img" 'id = "d1"'
	  disk "$work/ro.img" 'ro = true' 'id = "ro"'; disk "$work/sparse.img" 'id = "sparse"')"
run four
line() { tr -d '\r' < "$work/four.console" | sed -n "s/^VMSILO $1.*/&/p" | head -n 1; }
written=$(line written | cut -d= -f2)
[ $rc -eq 0 ] && [ "$(line 'vda ')" = "VMSILO vda size=32768 serial=data0" ] &&
	[ "$(line 'vdb ')" = "VMSILO vdb size=16384 serial=d1" ] &&
	[ "$(line 'vdc ')" = "VMSILO vdc size=16384 serial=ro" ] &&
	[ "$(line 'vdd ')" = "VMSILO vdd size=65536 serial=sparse" ] &&
	ok "four disks in config order with their sizes and serials" || bad "four disks: rc=$rc" four
[ -n "$written" ] && [ "$(head -c 4194304 "$work/d0.img" | sha)" = "$written" ] &&
	[ "$(line readback)" = "VMSILO readback=$written" ] &&
	ok "a 4 MiB pattern written by the guest matches the host file byte for byte" ||
	bad "pattern: guest $written" four
[ "$(line ro_write_rc)" != "VMSILO ro_write_rc=0" ] && [ "$(sha < "$work/ro.img")" = "$ro_sha" ] &&
	[ "$(line ro_sha)" = "VMSILO ro_sha=$ro_sha" ] &&
	ok "read-only disk: the guest reads it, its write fails, the file is unchanged" ||
	bad "read-only: $(line ro_write_rc)" four
[ "$(line discard_rc)" = "VMSILO discard_rc=0" ] && [ "$(blocks "$work/sparse.img")" -lt $((sparse_blocks / 2)) ] &&
	ok "discard in the guest frees the host file's blocks ($sparse_blocks -> $(blocks "$work/sparse.img"))" ||
	bad "discard: $(line discard_rc) blocks $sparse_blocks -> $(blocks "$work/sparse.img")" four

# 2. Data the guest fsync'ed survives a SIGKILL of the VMM; no device
#    process outlives it.
truncate -s 16M "$work/k.img"
disk_vm kill 'head -c 2097152 /dev/urandom > /p
dd if=/p of=/dev/vda bs=1M conv=fsync 2>/dev/null
echo "VMSILO synced=$(sha256sum < /p | cut -d" " -f1)"
sleep 600' "$(disk "$work/k.img")"
start_until kill "VMSILO synced="; synced=$?
children=$(pgrep -P $pid)
kill -KILL $pid; finish
sleep 0.5
alive=0
for c in $children; do kill -0 "$c" 2> /dev/null && alive=1; done
want=$(tr -d '\r' < "$work/kill.console" | sed -n 's/^VMSILO synced=//p')
[ $synced -eq 0 ] && [ "$(head -c 2097152 "$work/k.img" | sha)" = "$want" ] && [ $alive -eq 0 ] &&
	ok "fsync'ed data survives SIGKILL of the VMM, and its device process dies with it" ||
	bad "sigkill: synced=$synced alive=$alive" kill

# 3. ext4 written by the guest passes e2fsck on the host.
truncate -s 64M "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
disk_vm ext4 'mkdir /mnt && mount -t ext4 /dev/vda /mnt || exit 1
for i in $(seq 200); do echo "file $i" > /mnt/f$i; done
head -c 8388608 /dev/urandom > /mnt/big
echo "VMSILO big=$(sha256sum < /mnt/big | cut -d" " -f1)"
rm /mnt/f1*; umount /mnt' "$(disk "$work/ext4.img")"
run ext4
want=$(tr -d '\r' < "$work/ext4.console" | sed -n 's/^VMSILO big=//p')
e2fsck -fn "$work/ext4.img" > "$work/ext4.fsck" 2>&1; fsck=$?
[ $rc -eq 0 ] && grep -q "VMSILO exit=0" "$work/ext4.console" && [ $fsck -eq 0 ] &&
	[ "$(debugfs -R "cat /big" "$work/ext4.img" 2> /dev/null | sha)" = "$want" ] &&
	[ "$(debugfs -R "cat /f200" "$work/ext4.img" 2> /dev/null)" = "file 200" ] &&
	ok "ext4 written by the guest passes e2fsck -fn; its files read back on the host" ||
	bad "ext4: rc=$rc fsck=$fsck $(tail -n 3 "$work/ext4.fsck")" ext4

# 4. vmsilo's root: read-only erofs with an ext4 overlay upper layer.
mkdir -p "$work/rootfs/bin" "$work/rootfs/sbin" "$work/rootfs/dev" "$work/rootfs/proc"
cp /bin/busybox "$work/rootfs/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo "VMSILO erofs-root $(/bin/busybox cat /proc/mounts 2>/dev/null | /bin/busybox wc -l)"\n/bin/busybox mount -t proc proc /proc\n/bin/busybox grep -q "^overlay / overlay" /proc/mounts && /bin/busybox echo "VMSILO root-is-overlay"\n/bin/busybox echo written-in-guest > /hello\n/bin/busybox sync\n/bin/busybox poweroff -f\n' \
	> "$work/rootfs/sbin/init"
chmod +x "$work/rootfs/sbin/init"
mkfs.erofs --quiet "$work/root.erofs" "$work/rootfs" > /dev/null
truncate -s 64M "$work/upper.img"
mkfs.ext4 -q -F "$work/upper.img"
config erofs "$vmlinux" 1 256 erofsroot "$(disk "$work/root.erofs" 'ro = true' 'id = "root"'; disk "$work/upper.img")" > /dev/null
run erofs
[ $rc -eq 0 ] && grep -q "VMSILO root-is-overlay" "$work/erofs.console" &&
	[ "$(debugfs -R "cat /u/hello" "$work/upper.img" 2> /dev/null)" = "written-in-guest" ] &&
	ok "erofs + overlay root boots; the guest's writes land in the upper disk" ||
	bad "erofs root: rc=$rc" erofs

# 5. The disk processes' jails; a dead data disk leaves the VM running with
#    that device in NEEDS_RESET; a dead root disk stops the VM.
truncate -s 8M "$work/r.img" "$work/s.img"
disk_vm sup 'echo "VMSILO ready"
for i in $(seq 600); do s=$(cat /sys/block/vdb/device/status); [ $((s & 0x40)) -ne 0 ] && break; sleep 0.1; done
echo "VMSILO vdb-status=$s"
sleep 600' "$(disk "$work/r.img"; disk "$work/s.img")"
start_until sup "VMSILO ready"
jail0=$(pgrep -P $pid -x blk0) jail1=$(pgrep -P $pid -x blk1)
problems=""
for c in $jail0 $jail1; do
	grep -q "^Seccomp:[[:space:]]*2$" "/proc/$c/status" || problems+=" seccomp"
	grep -q "^NoNewPrivs:[[:space:]]*1$" "/proc/$c/status" || problems+=" nnp"
	grep -q "^CapEff:[[:space:]]*0000000000000000$" "/proc/$c/status" || problems+=" caps"
	for ns in mnt pid net ipc uts; do
		[ "$(readlink "/proc/$c/ns/$ns")" != "$(readlink "/proc/$pid/ns/$ns")" ] || problems+=" $ns"
	done
done
kill -KILL "$jail1"
wait_for sup "VMSILO vdb-status"; seen=$?
status=$(tr -d '\r' < "$work/sup.console" | sed -n 's/^VMSILO vdb-status=//p')
running=0; kill -0 $pid 2> /dev/null && running=1
kill -KILL "$jail0"
finish
[ -n "$jail0" ] && [ -n "$jail1" ] && [ -z "$problems" ] &&
	ok "disk processes: Seccomp 2, NoNewPrivs 1, CapEff 0, own namespaces" ||
	bad "disk jails: '$jail0' '$jail1':$problems" sup
[ $seen -eq 0 ] && [ $((status & 0x40)) -ne 0 ] && [ $running -eq 1 ] &&
	ok "a killed data-disk process: the VM runs on, the guest sees NEEDS_RESET ($status)" ||
	bad "data disk kill: seen=$seen status=$status running=$running" sup
[ $rc -ne 0 ] && grep -q "blk0: the root disk's device is dead; stopping the VM" "$work/sup.err" &&
	ok "a killed root-disk process stops the VM with status $rc and says why" ||
	bad "root disk kill: rc=$rc" sup

rm -rf "$work"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
