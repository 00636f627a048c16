#!/bin/sh
# /init of the L2 test guest (busybox sh).  Prints VMSILO-INIT-START, facts
# about the guest, then runs the action named by the kernel parameter
# vmsilo.test= (default poweroff):
#   poweroff  busybox poweroff -f
#   reboot    busybox reboot -f
#   panic     crash the kernel through sysrq-c
#   hang      sleep forever
#   shell     interactive sh on the console, poweroff when it exits
#   erofsroot the vmsilo root: /dev/vda (erofs, read-only) under an
#             overlay whose upper layer is the ext4 on /dev/vdb, then
#             switch_root into it and run its /sbin/init
#   rng       read 4 KiB from /dev/hwrng (needs the virtio-rng module) and
#             print how many bytes were non-zero; with vmsilo.wait_reset=1
#             then wait up to 60 s for the device to report NEEDS_RESET
#   powerbutton  wait for the ACPI power button (needs the button and
#             evdev modules): busybox acpid prints
#             "VMSILO shutdown-marker" and powers off
#   cmd       run vmsilo.cmd= with sh -c, print "VMSILO exit=<status>",
#             then poweroff.  The kernel splits its command line at spaces,
#             so vmsilo.cmd is URL-style encoded: '+' stands for a space and
#             %XX for the byte with hex code XX (%2B is '+', %25 is '%').
#             Example: vmsilo.test=cmd vmsilo.cmd=echo+hi%3B+exit+4
# Every action first prints "VMSILO action=<name>".
# Before the action: each vmsilo.ifname=<name>,<mac> (added by the VMM per
# [[net]]) renames the interface with that MAC to <name>, as vmsilo's
# guests do, and prints "VMSILO ifname=<name> mac=<mac>"; with
# vmsilo.agent=1 /bin/vmsilo-guest-agent is started (the image must list
# vmw_vsock_virtio_transport in its modules) in the background, which prints
# "VMSILO agent-started". The image has a root and a "vmsilo" user (1000).
# Each systemd.mount-extra=TAG:PATH:virtiofs[:OPTIONS] (what the VMM passes
# per share with a mount_path, as vmsilo does for systemd guests) is mounted
# before the action: "VMSILO mounted=TAG:PATH" or "VMSILO mount-failed=TAG:PATH"
# (the image needs the fuse and virtiofs modules, built in on Debian's 6.12).
#
# Host-userland mode, vmsilo.root=virtiofs:TAG: the virtiofs share TAG
# (L1's "/" in the rig) is mounted read-only at /lower under an overlay
# whose upper layer is a tmpfs (the overlay module must be in the image),
# /proc /sys /dev move into it, and this script runs again there through
# switch_root, under /bin/busybox sh (the new root must have busybox-static,
# as the rig's host has), with the argument "host-root". That second run
# prints "VMSILO root=virtiofs:TAG" and does all of the above, so vmsilo.cmd
# runs with the share's whole userland (/bin/sh there is Debian's dash);
# the image's /bin/vmsilo-* programs are copied to /usr/local/bin there.
# On failure it prints "VMSILO root-failed=TAG" and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# Set when switch_root re-ran us inside the host-userland root.
in_host_root=false
[ "${1:-}" = host-root ] && in_host_root=true

# The image normally has /dev/console, so the kernel already gave us
# stdin/stdout; say we are alive before anything else.
echo VMSILO-INIT-START 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
if [ ! -e /proc/self ]; then
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
fi
# Built without root (no /dev/console node in the image): print it now.
if ! [ -t 1 ] && [ -c /dev/console ]; then
	exec </dev/console >/dev/console 2>&1
	echo VMSILO-INIT-START
fi
exec 2>&1

load_modules() {
	while read -r ko; do
		[ -n "$ko" ] && { insmod "$ko" || echo "VMSILO insmod-failed=$ko"; }
	done </etc/initramfs-modules
}
$in_host_root || load_modules

echo "VMSILO nproc=$(grep -c '^processor' /proc/cpuinfo)"
echo "VMSILO memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
ram=0
for d in /sys/firmware/memmap/*; do
	[ -r "$d/type" ] || continue
	[ "$(cat "$d/type")" = "System RAM" ] || continue
	ram=$((ram + $(cat "$d/end") - $(cat "$d/start") + 1))
done
echo "VMSILO e820_ram_bytes=$ram"

param() {
	for w in $(cat /proc/cmdline); do
		case $w in "$1="*) echo "${w#*=}"; return ;; esac
	done
}

# '+' -> space, %XX -> byte (see the header).
urldecode() {
	s=$(echo "$1" | sed 's/+/ /g; s/\\/\\\\/g; s/%\([0-9a-fA-F][0-9a-fA-F]\)/\\x\1/g')
	printf '%b' "$s"
}

rename_interfaces() {
	for w in $(cat /proc/cmdline); do
		case $w in vmsilo.ifname=*,*) ;; *) continue ;; esac
		spec=${w#vmsilo.ifname=}
		name=${spec%%,*} mac=${spec#*,}
		for dev in /sys/class/net/*; do
			[ "$(cat "$dev/address")" = "$mac" ] || continue
			[ "${dev##*/}" = "$name" ] || ip link set dev "${dev##*/}" name "$name"
			echo "VMSILO ifname=$name mac=$mac"
		done
	done
	ip link set dev lo up 2>/dev/null
}

# systemd.mount-extra=TAG:PATH:virtiofs[:OPTIONS]; other types are left
# to whoever else reads the parameter.
mount_extras() {
	for w in $(cat /proc/cmdline); do
		case $w in systemd.mount-extra=*) ;; *) continue ;; esac
		IFS=: read -r tag path type opts <<-EOF
		${w#systemd.mount-extra=}
		EOF
		if [ "$type" != virtiofs ] || [ -z "$tag" ] || [ -z "$path" ]; then
			continue
		fi
		if mkdir -p "$path" && mount -t virtiofs ${opts:+-o "$opts"} "$tag" "$path"; then
			echo "VMSILO mounted=$tag:$path"
		else
			echo "VMSILO mount-failed=$tag:$path"
		fi
	done
}

# The image's own programs (the guest agent, test tools: /bin/vmsilo-*)
# into the new root's writable layer, where the host's userland lacks them.
copy_image_tools() {
	mkdir -p "$1" || return 1
	for f in /bin/vmsilo-*; do
		[ -e "$f" ] || continue
		cp "$f" "$1/" || return 1
	done
}

# vmsilo.root=virtiofs:TAG (see the header). Returns only on failure.
switch_to_host_root() {
	tag=${1#virtiofs:}
	mkdir -p /lower /upper /newroot &&
		mount -t virtiofs -o ro "$tag" /lower &&
		mount -t tmpfs -o mode=755 upper /upper &&
		mkdir -p /upper/up /upper/work &&
		mount -t overlay overlay \
			-o lowerdir=/lower,upperdir=/upper/up,workdir=/upper/work /newroot &&
		[ -x /newroot/bin/busybox ] &&
		cp /init /newroot/.vmsilo-init &&
		copy_image_tools /newroot/usr/local/bin &&
		mount --move /proc /newroot/proc &&
		mount --move /sys /newroot/sys &&
		mount --move /dev /newroot/dev &&
		exec switch_root /newroot /bin/busybox sh /.vmsilo-init host-root
	echo "VMSILO root-failed=$tag"
	return 1
}

host_root=$(param vmsilo.root)
if [ -n "$host_root" ] && ! $in_host_root; then
	case $host_root in
	virtiofs:?*) switch_to_host_root "$host_root" ;;
	*) echo "VMSILO root-failed=$host_root (only virtiofs:TAG)" ;;
	esac
	poweroff -f
fi
$in_host_root && echo "VMSILO root=$host_root"

add_users() {
	[ -e /etc/passwd ] && return
	printf 'root:x:0:0:root:/root:/bin/sh\nvmsilo:x:1000:1000:vmsilo:/home/vmsilo:/bin/sh\n' >/etc/passwd
	printf 'root:x:0:\nvmsilo:x:1000:\n' >/etc/group
	mkdir -p /home/vmsilo && chown 1000:1000 /home/vmsilo
}

start_agent() {
	[ -n "$(param vmsilo.agent)" ] || return
	agent=/bin/vmsilo-guest-agent
	$in_host_root && agent=/usr/local/bin/vmsilo-guest-agent
	$agent &
	echo "VMSILO agent-started"
}

add_users
rename_interfaces
mount_extras
start_agent

action=$(param vmsilo.test)
action=${action:-poweroff}
echo "VMSILO action=$action"
case $action in
poweroff) ;;
reboot) reboot -f ;;
panic)
	echo 1 >/proc/sys/kernel/sysrq
	echo c >/proc/sysrq-trigger
	;;
hang) while :; do sleep 3600; done ;;
erofsroot)
	mkdir -p /lower /upper /newroot
	mount -t erofs -o ro /dev/vda /lower && mount -t ext4 /dev/vdb /upper &&
		mkdir -p /upper/u /upper/w &&
		mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot &&
		exec switch_root /newroot /sbin/init
	echo "VMSILO erofsroot-failed"
	;;
rng)
	echo "VMSILO rng_current=$(cat /sys/class/misc/hw_random/rng_current)"
	n=$(dd if=/dev/hwrng bs=512 count=8 2>/dev/null | od -An -v -tx1 | tr ' ' '\n' | grep -c '^[0-9a-f][0-9a-f]$')
	z=$(dd if=/dev/hwrng bs=512 count=8 2>/dev/null | od -An -v -tx1 | tr ' ' '\n' | grep -c '^00$')
	echo "VMSILO rng_bytes=$n rng_zero_bytes=$z"
	echo "VMSILO rng-ready"
	if [ "$(param vmsilo.wait_reset)" = 1 ]; then
		for _ in $(seq 600); do
			s=$(cat /sys/bus/virtio/devices/virtio0/status)
			if [ $((s & 0x40)) -ne 0 ]; then
				echo "VMSILO needs-reset status=$s"
				break
			fi
			sleep 0.1
		done
	fi
	;;
powerbutton)
	# busybox acpid maps KEY_POWER to the action file PWRF/00000080.
	mkdir -p /etc/acpi/PWRF
	printf '#!/bin/sh\necho VMSILO shutdown-marker >/dev/console\npoweroff -f\n' >/etc/acpi/PWRF/00000080
	chmod +x /etc/acpi/PWRF/00000080
	acpid -c /etc/acpi -l /dev/null
	echo "VMSILO acpid-ready"
	while :; do sleep 3600; done
	;;
shell) setsid cttyhack sh -l ;;
cmd)
	cmd=$(urldecode "$(param vmsilo.cmd)")
	# /bin/sh, not busybox's applet: Debian's shell in the host root.
	/bin/sh -c "$cmd"
	echo "VMSILO exit=$?"
	;;
*) echo "VMSILO unknown-action=$action" ;;
esac
poweroff -f
# Not reached; if it were, the kernel would panic when init exits.
while :; do sleep 3600; done
