#!/bin/sh
# /init of the L1 rig VM (busybox sh), written into the initramfs by rig.sh.
#
# Mounts the host root (9p, read-only) under a tmpfs overlay so it is
# writable, mounts the run directory (9p "rigctl") at its host path, and runs
# <run dir>/job.sh in a chroot with bash.  The job's stdout and stderr go to
# the virtio-serial ports rig.stdout and rig.stderr (host files), apart from
# the kernel console (ttyS0).  The exit status goes to <run dir>/status.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

die() {
	echo "rig-l1: $*"
	poweroff -f
}

while read -r ko; do
	[ -n "$ko" ] && { insmod "$ko" || die "insmod $ko failed"; }
done </etc/initramfs-modules

p9='trans=virtio,version=9p2000.L,msize=262144'
mkdir -p /lower /upper /newroot /rigctl
mount -t 9p -o "$p9,cache=none" rigctl /rigctl || die "cannot mount rigctl"
# job.env sets RIG_DIR (the run dir's host path) and RIG_RESULTS (or empty).
. /rigctl/job.env
# The host root does not change while the job runs, so let L1 cache it.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /lower || die "cannot mount hostroot"
mount -t tmpfs -o mode=755 upper /upper
mkdir /upper/up /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/up,workdir=/upper/work \
	overlay /newroot || die "cannot mount overlay"

n=/newroot
mount -t proc proc $n/proc
mount -t sysfs sysfs $n/sys
mount -t devtmpfs devtmpfs $n/dev
mkdir -p $n/dev/pts $n/dev/shm
mount -t devpts -o newinstance,ptmxmode=666 devpts $n/dev/pts
mount -t tmpfs -o mode=1777 shm $n/dev/shm
mount -t tmpfs -o mode=755 run $n/run
mkdir -p "$n$RIG_DIR"
mount --bind /rigctl "$n$RIG_DIR"
if [ -n "$RIG_RESULTS" ]; then
	mkdir -p "$n$RIG_RESULTS"
	mount -t 9p -o "$p9,cache=none" results "$n$RIG_RESULTS" ||
		die "cannot mount results"
fi
ip link set lo up

/sbin/kvm-hold || die "kvm-hold failed"

# virtio-serial ports show up asynchronously after the driver probes.
port() {
	for i in $(seq 100); do
		for p in /sys/class/virtio-ports/*; do
			[ "$(cat "$p/name" 2>/dev/null)" = "$1" ] &&
				{ echo "/dev/${p##*/}"; return 0; }
		done
		sleep 0.05
	done
	return 1
}
out=$(port rig.stdout) || die "no rig.stdout port"
err=$(port rig.stderr) || die "no rig.stderr port"

# What each task of L1 waits on, for rig.sh to print when a job is about
# to time out: state and kernel wait channel of every user task, and the
# kernel stack of the ones in uninterruptible sleep or in a VMM. Builtins
# only: forks are slow in a busy L1.
dump_tasks() {
	echo "rig-l1-tasks: at $(cat /proc/uptime)"
	for t in /proc/[0-9]*/task/[0-9]*; do
		read -r stat <"$t/stat" 2>/dev/null || continue
		read -r comm <"$t/comm" 2>/dev/null
		read -r wchan <"$t/wchan" 2>/dev/null
		set -- ${stat##*) }
		[ "$2" = 2 ] && [ "$1" != D ] && continue    # idle kernel threads
		echo "rig-l1-task: ${t#/proc/} $comm state=$1 wchan=$wchan"
		case "$1:$comm" in D:* | *:vmsilo* | *:qemu* | *:vcpu*)
			while read -r frame; do echo "rig-l1-task:   $frame"; done <"$t/stack" 2>/dev/null ;;
		esac
	done
}

# A line on the console every 30 s lets rig.sh tell an L1 that froze (its
# one vCPU or its clock stopped, which no RCU report shows) from a slow job;
# a file "dump" in the run directory asks for dump_tasks.
heartbeat() {
	n=0
	while sleep 10; do
		[ -e /rigctl/dump ] && { rm -f /rigctl/dump; dump_tasks; }
		n=$((n + 1))
		[ $((n % 3)) = 0 ] && echo "rig-l1-beat: alive at $(cat /proc/uptime)"
	done
}
heartbeat &

: >/rigctl/started    # its host mtime tells rig.sh when the job started
chroot $n /bin/bash "$RIG_DIR/job.sh" <$n/dev/null >"$out" 2>"$err"
echo $? >/rigctl/status
sync
poweroff -f
