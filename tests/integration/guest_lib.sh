# Shared by the integration scripts that boot Linux guests inside L1:
# scenario bookkeeping, VM configs, running and watching VMs.
# Sourced after vmm, initrd and logs are set.
# shellcheck shell=bash

# VM output stays in tmpfs: byte-by-byte console writes to 9p are slow.
work=$(mktemp -d /tmp/linux-guests.XXXXXX)
passed=0 failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() {
	echo "FAIL: $1"
	failed=$((failed + 1))
	cp "$work/$2.console" "$work/$2.err" "$logs/" 2> /dev/null
	echo "---- last console lines of $2:"; tail -n 15 "$work/$2.console" 2> /dev/null
	echo "---- stderr of $2:"; tail -n 15 "$work/$2.err" 2> /dev/null
}

# config NAME KERNEL CPUS MEM ACTION [extra toml] -> path of the config
config() {
	cat > "$work/$1.toml" <<-EOT
	name = "$1"
	kernel = "$2"
	initramfs = "$initrd"
	cpus = $3
	memory = $4
	runtime_dir = "$work/run"
	cmdline = "console=ttyS0 panic=-1 quiet"
	kernel_params = ["vmsilo.test=$5"]
	${6:-}
	[console]
	mode = "file"
	path = "$work/$1.console"
	EOT
	echo "$work/$1.toml"
}

# Runs a VM to its end; sets rc. QEMU's multi-threaded TCG under the rig
# sometimes runs stale code after a guest kernel patches itself: the guest
# dies with "Oops: int3" (the rig's pitfall 1, one level down) or, more
# rarely, one vCPU spins (RCU stalls) until the timeout. Such a run is
# retried once, and said so, so a real fault still fails the second time.
run() {
	for attempt in 1 2; do
		# SIGTERM only presses the power button, which a stuck guest
		# ignores: SIGKILL follows (exit 137).
		timeout -k 10 240 "$vmm" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err"
		rc=$?
		if grep -q "Oops: int3" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: the guest hit the TCG stale-code int3 (attempt $attempt)"
		elif [ $rc -eq 124 -o $rc -eq 137 ] &&
			grep -q "rcu_preempt detected stalls" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: a guest vCPU stalled (RCU stall) until the timeout (attempt $attempt)"
			cp "$work/$1.console" "$logs/$1.stall-$attempt.console" 2> /dev/null
		else
			return 0
		fi
	done
}

# Starts a VM in the background with a watchdog; finish waits; both set pid/rc.
start() {
	"$vmm" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err" &
	pid=$!
	(sleep 300; kill -KILL $pid) > /dev/null 2>&1 &
	watchdog=$!
}
finish() { wait $pid; rc=$?; kill $watchdog 2> /dev/null; }

# Until the console shows PATTERN COUNT times; gives up early when the VM
# ended or its kernel panicked.
wait_for() { # NAME PATTERN [COUNT]
	for _ in $(seq 1200); do
		local seen
		seen=$(grep -c "$2" "$work/$1.console" 2> /dev/null)
		[ "${seen:-0}" -ge "${3:-1}" ] && return 0
		kill -0 $pid 2> /dev/null || return 1
		grep -q "Kernel panic" "$work/$1.console" 2> /dev/null && return 1
		sleep 0.1
	done
	return 1
}

# start + wait_for, for scenarios that drive a running guest. A guest
# that oopses or stalls before PATTERN (the TCG stale-code flakes of the
# rig, see run()) is started again once, and said so; one that exits
# early fails at once.
start_until() { # NAME PATTERN
	for attempt in 1 2; do
		start "$1"
		wait_for "$1" "$2" && return 0
		if grep -q "Oops:" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: the guest kernel oopsed before \"$2\" (attempt $attempt)"
		elif kill -0 $pid 2> /dev/null; then
			echo "NOTE: $1: the guest stalled before \"$2\" (attempt $attempt)"
		else
			return 1
		fi
		cp "$work/$1.console" "$logs/$1.flake-$attempt.console" 2> /dev/null
		kill -KILL $pid 2> /dev/null
		finish
	done
	return 1
}

# What the jail of device process CHILD of the VMM VMM_PID lacks, as words
# (nothing when complete): seccomp filter mode, no_new_privs, no effective
# capabilities, mount/pid/net/ipc/uts namespaces of its own.
jail_problems() { # CHILD VMM_PID
	local ns out=""
	grep -q "^Seccomp:[[:space:]]*2$" "/proc/$1/status" || out+=" seccomp"
	grep -q "^NoNewPrivs:[[:space:]]*1$" "/proc/$1/status" || out+=" nnp"
	grep -q "^CapEff:[[:space:]]*0000000000000000$" "/proc/$1/status" || out+=" caps"
	for ns in mnt pid net ipc uts; do
		[ "$(readlink "/proc/$1/ns/$ns")" != "$(readlink "/proc/$2/ns/$ns")" ] || out+=" $ns"
	done
	printf '%s' "$out"
}

value() { sed -n "s/^VMSILO $2=\([0-9]*\).*/\1/p" "$work/$1.console" | head -n 1; }

# The kernel splits its command line at spaces: init.sh's "cmd" action
# takes its script URL-encoded ('+' for a space, %XX for other bytes).
urlencode() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9/._=-]) out+=$c ;;
		" ") out+=+ ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}
