#!/bin/bash
# Boots Debian's 6.12 kernel under vmsilo-vmm and checks what the guest
# reports and how the VMM ends. On hosts without VT-x/AMD-V it runs itself
# again inside the nested rig (tests/rig/rig.sh), where the whole batch
# shares one L1 boot.
#   linux_guests.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	rig_begin "$build"
	kernel=$("$rig" --print-kernel)
	initrd=$build/guest/test-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "button evdev virtio-rng"
	rig_reexec "$build" "$here/linux_guests.sh" "$vmm" "$kernel" "$vmlinux" "$initrd" \
		"$build/integration-logs"
fi

shift
vmm=$1 bzimage=$2 vmlinux=$3 initrd=$4 logs=$5
source "$here/guest_lib.sh"

# The guest sees the configured CPUs and memory. The firmware memory map
# holds every byte of RAM but the 385 KiB from the EBDA to 1 MiB.
boot_check() { # NAME KERNEL CPUS MEM
	config "$1" "$2" "$3" "$4" poweroff > /dev/null
	run "$1"
	local nproc memtotal e820 want_e820=$(($4 * 1048576 - 0x60400))
	nproc=$(value "$1" nproc) memtotal=$(value "$1" memtotal_kb) e820=$(value "$1" e820_ram_bytes)
	if [ $rc -eq 0 ] && [ "$nproc" = "$3" ] && [ "$e820" = "$want_e820" ] &&
		[ "${memtotal:-0}" -le $(($4 * 1024)) ] && [ "${memtotal:-0}" -ge $(($4 * 1024 * 80 / 100)) ]; then
		ok "$1: cpus=$3 memory=$4 MiB: nproc=$nproc MemTotal=${memtotal} kB, e820 RAM exact, poweroff exit 0"
	else
		bad "$1: rc=$rc nproc=$nproc memtotal=$memtotal e820=$e820 (want $want_e820)" "$1"
	fi
}

boot_check pvh-1cpu-256m "$vmlinux" 1 256
boot_check pvh-2cpu-3584m "$vmlinux" 2 3584
boot_check pvh-4cpu-256m "$vmlinux" 4 256
boot_check bzimage-2cpu-512m "$bzimage" 2 512
boot_check bzimage-4cpu-3584m "$bzimage" 4 3584

config reboot-exit "$vmlinux" 1 256 reboot > /dev/null
run reboot-exit
[ $rc -eq 32 ] && grep -q "VMSILO action=reboot" "$work/reboot-exit.console" &&
	ok "guest reboot with reboot = \"exit\": exit 32" || bad "reboot-exit: rc=$rc" reboot-exit

config reboot-restart "$vmlinux" 1 256 reboot 'reboot = "restart"' > /dev/null
start reboot-restart
wait_for reboot-restart VMSILO-INIT-START 2; booted=$?
kill -INT $pid; finish
[ $booted -eq 0 ] && [ $rc -eq 130 ] &&
	ok "guest reboot with reboot = \"restart\": the guest boots again" ||
	bad "reboot-restart: boots=$(grep -c VMSILO-INIT-START "$work/reboot-restart.console") rc=$rc" reboot-restart

config panic "$vmlinux" 2 256 panic > /dev/null
run panic
[ $rc -ne 0 ] && grep -q "Kernel panic" "$work/panic.console" &&
	ok "guest kernel panic (panic=-1): exit $rc, non-zero" || bad "panic: rc=$rc" panic

config powerbutton "$vmlinux" 1 256 powerbutton > /dev/null
start_until powerbutton "VMSILO acpid-ready"; ready=$?
kill -TERM $pid; finish
[ $ready -eq 0 ] && [ $rc -eq 0 ] && grep -q "VMSILO shutdown-marker" "$work/powerbutton.console" &&
	ok "SIGTERM presses the ACPI power button: the guest shuts down, exit 0" ||
	bad "powerbutton: ready=$ready rc=$rc" powerbutton

# The PTY console carries input to the guest's shell and its output back.
config shell "$vmlinux" 1 256 shell > /dev/null
sed -i 's/^mode = "file"/mode = "pty"/; /^path = /d' "$work/shell.toml"
start shell
for _ in $(seq 100); do [ -e "$work/run/shell/console" ] && break; sleep 0.1; done
exec 3<> "$work/run/shell/console"
cat <&3 > "$work/shell.console" 2> /dev/null &
reader=$!
wait_for shell "VMSILO action=shell"
sleep 1
printf 'echo answer-$((6 * 7))\n' >&3
wait_for shell "answer-42"; answered=$?
printf 'exit\n' >&3
finish
kill $reader 2> /dev/null; exec 3>&-
[ $answered -eq 0 ] && [ $rc -eq 0 ] && [ ! -e "$work/run/shell/console" ] &&
	ok "PTY console: typed command runs in the guest, exit powers off" ||
	bad "shell: answered=$answered rc=$rc" shell

# virtio-rng in its own jailed process.
sandbox_check() { # VMM_PID -> "ok" or what is wrong with its device child
	local child status ns
	child=$(pgrep -P "$1" | head -n 1)
	[ -n "$child" ] || { echo "no device process"; return; }
	status=$(cat "/proc/$child/status")
	grep -q "^Seccomp:[[:space:]]*2$" <<< "$status" || { echo "Seccomp not 2"; return; }
	grep -q "^NoNewPrivs:[[:space:]]*1$" <<< "$status" || { echo "NoNewPrivs not 1"; return; }
	grep -q "^CapEff:[[:space:]]*0000000000000000$" <<< "$status" || { echo "CapEff not 0"; return; }
	for ns in mnt pid net ipc uts; do
		[ "$(readlink "/proc/$child/ns/$ns")" != "$(readlink "/proc/$1/ns/$ns")" ] ||
			{ echo "same $ns namespace as the VMM"; return; }
	done
	echo ok
}

# One VM: the guest reads from the device, the jail is inspected from
# outside, then the device process is killed: the VM must run on with the
# device in NEEDS_RESET, which the guest sees and reports.
config rng "$vmlinux" 2 256 rng "[rng]" > /dev/null
sed -i 's/^kernel_params = \["vmsilo.test=rng"\]/kernel_params = ["vmsilo.test=rng", "vmsilo.wait_reset=1"]/' "$work/rng.toml"
start_until rng "VMSILO rng-ready"; ready=$?
jail=$(sandbox_check $pid)
kill -KILL "$(pgrep -P $pid | head -n 1)" 2> /dev/null
wait_for rng "VMSILO needs-reset"; reset=$?
finish
nonzero=$(sed -n 's/^VMSILO rng_bytes=\([0-9]*\) rng_zero_bytes=\([0-9]*\).*/\1 \2/p' "$work/rng.console")
[ $ready -eq 0 ] && grep -q "VMSILO rng_current=virtio_rng.0" "$work/rng.console" &&
	[ "${nonzero% *}" = 4096 ] && [ "${nonzero#* }" -lt 100 ] &&
	ok "virtio-rng: the guest reads 4 KiB of host entropy through its jailed device" ||
	bad "rng: ready=$ready bytes=$nonzero" rng
[ "$jail" = ok ] && ok "device process: Seccomp 2, NoNewPrivs 1, CapEff 0, own namespaces" ||
	bad "device sandbox: $jail" rng
[ $reset -eq 0 ] && [ $rc -eq 0 ] && grep -q "rng0: killed by SIGKILL" "$work/rng.err" &&
	ok "killed device process: logged, device NEEDS_RESET, the VM runs on and powers off" ||
	bad "rng kill: reset=$reset rc=$rc" rng

rm -rf "$work"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
