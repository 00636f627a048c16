#!/bin/bash
# Run a command inside "L1": a QEMU TCG VM with nested SVM booting Debian's
# 6.12 kernel, where /dev/kvm can run Linux guests (this host's /dev/kvm
# cannot).  L1 sees the host root read-only with a tmpfs overlay on top.
#
#   tests/rig/rig.sh [OPTIONS] -- COMMAND [ARGS...]
#   tests/rig/rig.sh --print-kernel | --print-modules-dir
#
# COMMAND runs as root through exec of its argv (no shell: pass `sh -c '...'`
# for one), in the current directory when that exists in L1, else in /.
# Its stdout and stderr are printed once it ends (stdout first, then
# stderr); rig.sh exits with its status, 124 on timeout, 125 when L1 failed
# twice.  Writes inside L1 land in tmpfs and vanish, except under --results.
#
# Options:
#   --cache DIR      cache (default ${VMSILO_RIG_CACHE:-$HOME/.cache/vmsilo-rig})
#   --timeout SECS   kill L1 after SECS seconds of running (default 600)
#   --mem SIZE       L1 memory, QEMU -m syntax (default 6G)
#   --cpus N         L1 vCPUs (default 1, or $VMSILO_RIG_CPUS; tests/rig/README.md
#                    says why not 2)
#   --tcg-thread single|multi
#                    TCG's threading (default multi, or $VMSILO_RIG_TCG):
#                    single runs all L1 vCPUs on one host thread
#   --results DIR    host DIR, created if needed, is writable in L1 at the
#                    same path (also exported as VMSILO_RIG_RESULTS)
#   --env NAME[=VAL] pass an environment variable (PATH, TERM, LANG, LC_*
#                    and VMSILO_* are passed anyway)
#   --keep           keep the run directory (console.log, stdout, ...)
#   -v, --verbose    report progress and timings on stderr
#   --direct-if-possible  run COMMAND on the host when its CPU has vmx/svm
#   --print-kernel        print the cached vmlinuz path (downloads it once)
#   --print-modules-dir   print the kernel's lib/modules/<version> directory
#   --print-vmlinux       print the path of its ELF vmlinux (PVH entry), made
#                         once with make-vmlinux.sh
#
# Environment: VMSILO_RIG_CACHE (cache dir), VMSILO_RIG_KERNEL (use this
# kernel version instead of the pinned one), VMSILO_RIG_APPEND (extra L1
# kernel parameters, e.g. loglevel=7 to see L1's boot in console.log).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../deps.sh"
t_start=$(date +%s.%N)
cache=${VMSILO_RIG_CACHE:-${HOME:-/root}/.cache/vmsilo-rig}
timeout=600
mem=6G
cpus=${VMSILO_RIG_CPUS:-1}
tcg_thread=${VMSILO_RIG_TCG:-multi}
results=""
keep=0
verbose=0
direct=0
mode=run
envs=()

say() { echo "rig: $*" >&2; }
info() { [ "$verbose" = 0 ] || say "$@"; }
usage() { sed -n '2,39s/^# \{0,1\}//p' "$0" >&2; exit 2; }
elapsed() { echo "$1 $2" | awk '{ printf "%.1f", $2 - $1 }'; }

while [ $# -gt 0 ]; do
	case $1 in
	--cache) cache=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--tcg-thread) tcg_thread=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	-v|--verbose) verbose=1; shift ;;
	--direct-if-possible) direct=1; shift ;;
	--print-kernel) mode=print-kernel; shift ;;
	--print-modules-dir) mode=print-modules-dir; shift ;;
	--print-vmlinux) mode=print-vmlinux; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) say "unknown option $1"; usage ;;
	*) break ;;
	esac
done
if [ "$mode" = run ] && [ $# -eq 0 ]; then usage; fi
case $tcg_thread in single|multi) ;; *) say "--tcg-thread: single or multi, not $tcg_thread"; usage ;; esac

# --- host tools -----------------------------------------------------------

apt_install() {
	say "installing $*"
	# An empty package list makes installs fail: refresh it first then.
	if [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep _Packages)" ]; then
		apt-get update >&2
	fi
	apt-get install -y --no-install-recommends "$@" >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends "$@" >&2; }
}

ensure_tools() {
	local need=()
	vmsilo_install_qemu >&2 || exit 1
	# The initramfs needs a static busybox; the dynamic one would not run.
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
		need+=(busybox-static)
	command -v cpio >/dev/null || need+=(cpio)
	command -v xz >/dev/null || need+=(xz-utils)
	command -v zstd >/dev/null || need+=(zstd)
	command -v depmod >/dev/null || need+=(kmod)
	command -v cc >/dev/null || need+=(gcc)
	[ -e /usr/include/linux/kvm.h ] || need+=(linux-libc-dev)
	ls /usr/lib/*/libc.a >/dev/null 2>&1 || need+=(libc6-dev)
	[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
}

# --- kernel ---------------------------------------------------------------

# The version the linux-image-6.12-amd64 metapackage currently points at.
resolve_kernel_version() {
	local dep
	meta_depends() {
		apt-cache depends linux-image-6.12-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-6/ { print $2; exit }'
	}
	dep=$(meta_depends)
	if [ -z "$dep" ]; then
		apt-get update >&2
		dep=$(meta_depends)
	fi
	[ -n "$dep" ] || { say "cannot resolve linux-image-6.12-amd64"; exit 125; }
	echo "$dep"
}

# Sets kver, kdir, vmlinuz, moddir.  The version is resolved once and then
# pinned in $cache/kernel/current, so runs stay reproducible and offline.
setup_kernel() {
	mkdir -p "$cache/kernel"
	if [ -n "${VMSILO_RIG_KERNEL:-}" ]; then
		kver=$VMSILO_RIG_KERNEL
	elif [ -s "$cache/kernel/current" ]; then
		kver=$(cat "$cache/kernel/current")
	else
		local pkg
		pkg=$(resolve_kernel_version)
		kver=${pkg#linux-image-}
		kver=${kver%-unsigned}
	fi
	kdir=$cache/kernel/$kver
	if [ ! -e "$kdir/.complete" ]; then
		say "downloading and unpacking kernel $kver into $kdir"
		local tmp
		tmp=$(mktemp -d "$cache/kernel/tmp.XXXXXX")
		# apt-get download writes into the current directory.
		(cd "$tmp" && apt-get download "linux-image-$kver" >/dev/null 2>&1 ||
			apt-get download "linux-image-$kver-unsigned" >&2)
		dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/x"
		# The package ships no modules.dep; depmod makes it for modprobe.
		depmod -b "$tmp/x" "$kver"
		touch "$tmp/x/.complete"
		rm -rf "$kdir"
		mv "$tmp/x" "$kdir"
		rm -rf "$tmp"
	fi
	[ -n "${VMSILO_RIG_KERNEL:-}" ] || echo "$kver" >"$cache/kernel/current"
	vmlinuz=$kdir/boot/vmlinuz-$kver
	moddir=$kdir/lib/modules/$kver
}

# Sets vmlinux: the ELF kernel, which QEMU boots through PVH, skipping the
# decompression that is slow under TCG (about 0.5 s of L1's boot).
setup_vmlinux() {
	vmlinux=$kdir/vmlinux
	[ -e "$vmlinux" ] && return 0
	"$here/make-vmlinux.sh" "$vmlinuz" "$vmlinux.tmp" >&2
	mv "$vmlinux.tmp" "$vmlinux"
}

# --- L1 initramfs ---------------------------------------------------------

# Sets l1dir.  Keyed on the scripts that shape it and the kernel version.
setup_initramfs() {
	local key
	key=$(cat "$here/rig.sh" "$here/l1-init.sh" "$here/kvm-hold.c" \
		"$here/../guest/mkinitramfs.sh" <(echo "$kver") | sha256sum | cut -c1-16)
	l1dir=$cache/l1-$key
	[ -e "$l1dir/initramfs.cpio" ] && return 0
	say "building the L1 initramfs in $l1dir"
	rm -rf "$cache"/l1-*
	mkdir -p "$l1dir"
	cc -O2 -Wall -static -o "$l1dir/kvm-hold" "$here/kvm-hold.c"
	"$here/../guest/mkinitramfs.sh" "$l1dir/initramfs.cpio" \
		--init "$here/l1-init.sh" --modules-dir "$moddir" \
		--modules "kvm-amd 9pnet_virtio 9p overlay tun" \
		--add "$l1dir/kvm-hold:/sbin/kvm-hold"
}

# --- main -----------------------------------------------------------------

if [ "$mode" = run ] && [ "$direct" = 1 ] && [ -c /dev/kvm ] &&
	grep -qwE 'vmx|svm' /proc/cpuinfo; then
	info "host has hardware virtualisation: running directly"
	[ -z "$results" ] || { mkdir -p "$results"; export VMSILO_RIG_RESULTS=$results; }
	set +e
	timeout -k 5 "$timeout" "$@"
	rc=$?
	[ "$rc" != 124 ] || say "timeout: command did not finish within ${timeout}s"
	exit "$rc"
fi

ensure_tools
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# Scripts run from here (mkinitramfs.sh, nested calls) then use this cache.
export VMSILO_RIG_CACHE=$cache
exec 8>"$cache/.setup.lock"
flock 8
setup_kernel
case $mode in
print-kernel) echo "$vmlinuz"; exit 0 ;;
print-modules-dir) echo "$moddir"; exit 0 ;;
print-vmlinux) setup_vmlinux; echo "$vmlinux"; exit 0 ;;
esac
setup_vmlinux
setup_initramfs
exec 8>&-

# Two nested rigs at once would starve each other on this 2-core machine.
exec 9>"$cache/.run.lock"
if ! flock -n 9; then
	say "waiting for another rig run to finish"
	flock 9
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/vmsilo-rig.XXXXXX")
run=$(cd "$run" && pwd)
qpid=""
interrupted=0
cleanup() {
	[ -z "$qpid" ] || kill -TERM "$qpid" 2>/dev/null || true
	if [ "$keep" = 1 ]; then say "run directory kept: $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'interrupted=1; [ -z "$qpid" ] || kill -TERM "$qpid" 2>/dev/null' INT TERM HUP

if [ -n "$results" ]; then
	mkdir -p "$results"
	results=$(cd "$results" && pwd)
fi
printf 'RIG_DIR=%q\nRIG_RESULTS=%q\n' "$run" "$results" >"$run/job.env"
{
	printf 'cd -- %q 2>/dev/null || cd /\n' "$PWD"
	echo 'export HOME=/root USER=root LOGNAME=root VMSILO_RIG_L1=1'
	[ -z "$results" ] || printf 'export VMSILO_RIG_RESULTS=%q\n' "$results"
	while IFS= read -r name; do
		printf 'export %s=%q\n' "$name" "${!name}"
	done < <(compgen -e | grep -E '^(PATH|TERM|LANG|LC_[A-Z_]+|VMSILO_[A-Za-z0-9_]+)$' || true)
	for e in ${envs[@]+"${envs[@]}"}; do
		case $e in
		*=*) printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" ;;
		*) printf 'export %s=%q\n' "$e" "${!e-}" ;;
		esac
	done
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$run/job.sh"

# quiet keeps the console short but still shows Oops/panic lines, which
# tell L1's death apart from a slow command; oops=panic + panic=-1 +
# -no-reboot turn any L1 crash into a prompt QEMU exit.
append="console=ttyS0 quiet panic=-1 oops=panic rdinit=/init ${VMSILO_RIG_APPEND:-}"
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot
	-accel "tcg,thread=$tcg_thread" -cpu qemu64,+svm,+npt,family=23,model=1
	-smp "$cpus" -m "$mem" -M pc
	-kernel "$vmlinux" -initrd "$l1dir/initramfs.cpio" -append "$append"
	-serial "file:$run/console.log"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$run,mount_tag=rigctl,security_model=none"
	-device virtio-serial-pci,id=vser
	-chardev "file,id=rigout,path=$run/stdout,append=on"
	-device virtserialport,bus=vser.0,nr=1,chardev=rigout,name=rig.stdout
	-chardev "file,id=rigerr,path=$run/stderr,append=on"
	-device virtserialport,bus=vser.0,nr=2,chardev=rigerr,name=rig.stderr)
[ -z "$results" ] ||
	qemu+=(-virtfs "local,path=$results,mount_tag=results,security_model=none")

# An L1 whose vCPU stopped for good (TCG under load: RCU stall reports every
# minute, nothing else moving) never dies by itself; after the third report
# (about two and a half minutes of stall) it is treated as dead, so the run
# is retried instead of waiting for --timeout. One report alone can be a
# busy host and is left to recover. An L1 that froze without a report (its
# vCPU halted for good, its clock stopped: QEMU idle) misses the heartbeat
# l1-init.sh writes every 30 s; after L1_FROZEN_SECS without one it is dead
# too. Even a starved L1 vCPU runs a 30 s timer within minutes.
L1_STALL_REPORTS=3
L1_FROZEN_SECS=240
# So that a timeout says where the job waits, L1 is asked for a dump of its
# tasks this long before --timeout (its heartbeat looks every 10 s).
L1_DUMP_BEFORE=60
watch_l1() { # QEMU_PID
	local n beats last_beats=0 t0=$SECONDS last=$SECONDS dumped=0 why=""
	while kill -0 "$1" 2>/dev/null; do
		sleep 5
		n=$(grep -a -c -E 'rcu_(preempt|sched) detected stalls|soft lockup' \
			"$run/console.log" 2>/dev/null || true)
		beats=$(grep -a -c 'rig-l1-beat: alive' "$run/console.log" 2>/dev/null || true)
		[ "${beats:-0}" = "$last_beats" ] || { last_beats=$beats; last=$SECONDS; }
		if [ "${n:-0}" -ge "$L1_STALL_REPORTS" ]; then
			why="$n RCU stall or lockup reports"
		elif [ $((SECONDS - last)) -ge "$L1_FROZEN_SECS" ]; then
			why="no heartbeat for $((SECONDS - last)) s"
		fi
		if [ -n "$why" ]; then
			echo "rig-l1: L1 stalled ($why)" >>"$run/console.log"
			kill -TERM "$1" 2>/dev/null	# timeout(1) passes it to QEMU
			return
		fi
		if [ "$dumped" = 0 ] && [ "$timeout" -gt $((2 * L1_DUMP_BEFORE)) ] &&
			[ $((SECONDS - t0)) -ge $((timeout - L1_DUMP_BEFORE)) ]; then
			: >"$run/dump"
			dumped=1
		fi
	done
}

# After a timeout: L1's last heartbeat and the task dump it wrote.
show_l1_state() {
	tr -d '\r' <"$run/console.log" 2>/dev/null | grep -a 'rig-l1-beat: ' | tail -n 1 >&2
	tr -d '\r' <"$run/console.log" 2>/dev/null | sed -n '/rig-l1-tasks: at/,$p' |
		grep -a 'rig-l1-task' | head -n 300 >&2
}

show_output() {
	cat "$run/stdout"
	cat "$run/stderr" >&2
}

for attempt in 1 2; do
	rm -f "$run"/{status,started,console.log,qemu.log,dump}
	: >"$run/stdout"
	: >"$run/stderr"
	t_qemu=$(date +%s.%N)
	info "starting L1 (attempt $attempt) after $(elapsed "$t_start" "$t_qemu")s of setup"
	timeout -k 5 "$timeout" "${qemu[@]}" </dev/null >"$run/qemu.log" 2>&1 &
	qpid=$!
	watch_l1 "$qpid" 9>&- &    # its sleeps must not hold the run lock
	watcher=$!
	set +e
	wait "$qpid"
	qrc=$?
	[ "$interrupted" = 0 ] || wait "$qpid"
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	set -e
	qpid=""
	if [ "$interrupted" = 1 ]; then
		show_output
		say "interrupted"
		exit 130
	fi
	if [ -s "$run/status" ]; then
		t_end=$(date +%s.%N)
		if [ -e "$run/started" ]; then
			t_cmd=$(date -r "$run/started" +%s.%N)
			t_done=$(date -r "$run/status" +%s.%N)
			info "L1 boot $(elapsed "$t_qemu" "$t_cmd")s (script start to command start $(elapsed "$t_start" "$t_cmd")s), command $(elapsed "$t_cmd" "$t_done")s, total $(elapsed "$t_start" "$t_end")s"
		fi
		show_output
		exit "$(cat "$run/status")"
	fi
	# No status: either the timeout or L1 itself died.
	reason=$(grep -a -m1 -oE 'Oops: .*|Kernel panic.*|rig-l1: .*' \
		"$run/console.log" 2>/dev/null | tr -d '\r' || true)
	if [ "$qrc" = 124 ] && [ -z "$reason" ]; then
		show_output
		say "timeout: command did not finish within ${timeout}s; killed L1 (exit 124); L1's state before:"
		show_l1_state
		exit 124
	fi
	reason=${reason:-no exit status, QEMU exit code $qrc}
	if [ "$attempt" = 1 ]; then
		say "L1 died ($reason), retrying once"
		continue
	fi
	show_output
	say "L1 died again ($reason); last console and QEMU lines:"
	tail -n 20 "$run/console.log" "$run/qemu.log" >&2 2>/dev/null || true
	exit 125
done
