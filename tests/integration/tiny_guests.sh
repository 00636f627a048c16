#!/bin/bash
# Exit paths of the VMM with tiny non-Linux guests (tests/integration/
# make_test_kernel.c). They need a /dev/kvm but no hardware virtualisation,
# so they also run directly on hosts whose KVM only emulates.
# Usage: tiny_guests.sh VMSILO_VMM MAKE_TEST_KERNEL
set -u
vmm=$1 mkkernel=$2
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
export VMSILO_ALLOW_NO_HWVIRT=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); }

config() { # name kernel-action [extra toml lines]
	"$mkkernel" "$work/$2.elf" "$2"
	printf 'name = "%s"\nmemory = 64\nkernel = "%s"\nruntime_dir = "%s/run"\n%s\n' \
		"$1" "$work/$2.elf" "$work" "${3:-}" > "$work/$1.toml"
	echo "$work/$1.toml"
}

# Starts the VMM in the background (no timeout(1): it would forward our
# signals twice) with a watchdog; sets pid.
start() {
	"$vmm" "$@" &
	pid=$!
	(sleep 60; kill -KILL $pid) > /dev/null 2>&1 &
	watchdog=$!
}

finish() { # waits for the VMM started by start; sets rc
	wait $pid
	rc=$?
	kill $watchdog 2> /dev/null
}

run() { # config -> sets rc, out, err
	timeout 60 "$vmm" --config "$1" > "$work/out" 2> "$work/err"
	rc=$?
	out=$(cat "$work/out") err=$(cat "$work/err")
}

run "$(config poweroff poweroff)"
[ $rc -eq 0 ] && [ "$out" = "tiny guest: hello" ] && ok "poweroff exits 0 with the guest's output" ||
	bad "poweroff: rc=$rc out=$out err=$err"

run "$(config reset reset)"
[ $rc -eq 32 ] && ok "reboot with reboot = \"exit\" exits 32" || bad "reset: rc=$rc err=$err"

run "$(config fault fault)"
[ $rc -eq 33 ] && grep -q "triple fault" "$work/err" && grep -q "rip=0000000000100" "$work/err" &&
	[ "$(wc -l < "$work/err")" -le 24 ] &&
	ok "triple fault exits 33 with a one-screen register dump" || bad "fault: rc=$rc err=$err"

run "$(config tofile poweroff "[console]
mode = \"file\"
path = \"$work/console.log\"")"
[ $rc -eq 0 ] && [ -z "$out" ] && [ "$(cat "$work/console.log")" = "tiny guest: hello" ] &&
	ok "console mode file" || bad "console file: rc=$rc out=$out"

# reboot = "restart" boots the guest again and again until stopped.
cfg=$(config restart reset 'reboot = "restart"')
start --config "$cfg" > "$work/out" 2> "$work/err"
for _ in $(seq 100); do
	[ "$(grep -c hello "$work/out")" -ge 3 ] && break
	sleep 0.1
done
kill -INT $pid; finish
[ "$(grep -c hello "$work/out")" -ge 3 ] && [ $rc -eq 130 ] &&
	ok "reboot = \"restart\" restarts the guest; SIGINT stops it with 130" ||
	bad "restart: rc=$rc boots=$(grep -c hello "$work/out")"

# A PTY console is published as <runtime_dir>/<name>/console.
cfg=$(config ptyvm halt "[console]
mode = \"pty\"")
start --config "$cfg" 2> "$work/err"
for _ in $(seq 50); do [ -e "$work/run/ptyvm/console" ] && break; sleep 0.1; done
link=$(readlink "$work/run/ptyvm/console")
got=$(timeout 5 head -c 18 "$work/run/ptyvm/console")
kill -TERM $pid; sleep 0.2; kill -TERM $pid; finish
[[ $link == /dev/pts/* ]] && [ "$got" = "tiny guest: hello" ] && [ $rc -eq 143 ] &&
	[ ! -e "$work/run/ptyvm/console" ] &&
	ok "pty console published, readable, removed at exit" ||
	bad "pty: link=$link got=$got rc=$rc"

# On a terminal, the console is interactive and Ctrl-A x stops the VM.
if command -v tmux > /dev/null; then
	cfg=$(config tty halt)
	sock=$work/tmux.sock
	tmux -S "$sock" new-session -d -x 100 -y 10 \
		"\"$vmm\" --config \"$cfg\"; echo EXIT=\$?; sleep 60"
	for _ in $(seq 50); do tmux -S "$sock" capture-pane -p | grep -q "tiny guest: hello" && break; sleep 0.1; done
	tmux -S "$sock" send-keys C-a x
	for _ in $(seq 50); do tmux -S "$sock" capture-pane -p | grep -q "EXIT=" && break; sleep 0.1; done
	screen=$(tmux -S "$sock" capture-pane -p)
	tmux -S "$sock" kill-server
	[[ $screen == *"tiny guest: hello"* && $screen == *EXIT=0* ]] &&
		ok "terminal console: Ctrl-A x stops the VM, exit 0" || bad "tty console: $screen"
fi

# Errors: one actionable line, non-zero exit, no guest started.
head -c 65536 /dev/urandom > "$work/corrupt"
cfg=$(config corrupt poweroff)
sed -i "s|^kernel = .*|kernel = \"$work/corrupt\"|" "$cfg"
run "$cfg"
[ $rc -eq 1 ] && [ -z "$out" ] && [ "$err" = "vmsilo-vmm: kernel: $work/corrupt: not a bzImage or ELF vmlinux" ] &&
	ok "corrupt kernel: exact error line" || bad "corrupt kernel: rc=$rc err=$err"

cfg=$(config missing poweroff)
sed -i "s|^kernel = .*|kernel = \"$work/no-such-kernel\"|" "$cfg"
run "$cfg"
[ $rc -eq 1 ] && [ "$err" = "vmsilo-vmm: kernel: $work/no-such-kernel: No such file or directory" ] &&
	ok "missing kernel: exact error line" || bad "missing kernel: rc=$rc err=$err"

printf 'name = "bad"\nkernel = "/k"\nmemory = "lots"\n' > "$work/bad.toml"
run "$work/bad.toml"
[ $rc -eq 1 ] && [ -z "$out" ] && [ "$err" = "$work/bad.toml:3:10: memory: expected an integer, got a string" ] &&
	ok "bad config: exact error line" || bad "bad config: rc=$rc err=$err"

run "$(config big poweroff)"
sed -i 's/^memory = .*/memory = 1048576/' "$work/big.toml"
run "$work/big.toml"
[ $rc -eq 1 ] && [[ $err == *"memory: 1048576 MiB is more than this host's"* ]] &&
	ok "memory larger than the host: clear error" || bad "big memory: rc=$rc err=$err"

# /dev/kvm problems, each one actionable line.
cfg=$(config nokvm poweroff)
chmod 755 "$work"
if unshare -m true 2> /dev/null; then
	unshare -m sh -c "mount -t tmpfs none /dev && exec \"$vmm\" --config \"$cfg\"" > "$work/out" 2> "$work/err"
	rc=$?
	[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vmsilo-vmm: /dev/kvm does not exist: load the kvm-intel or kvm-amd module, or enable virtualisation in the firmware" ] &&
		ok "no /dev/kvm: clear error" || bad "no /dev/kvm: rc=$rc err=$(cat "$work/err")"
fi
if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %a /dev/kvm)" = 600 ] && command -v setpriv > /dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$vmm" --config "$cfg" > "$work/out" 2> "$work/err"
	rc=$?
	[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vmsilo-vmm: /dev/kvm: permission denied: add this user to the 'kvm' group or run as root" ] &&
		ok "/dev/kvm not accessible: clear error" || bad "kvm permission: rc=$rc err=$(cat "$work/err")"
fi
if ! grep -qw -e vmx -e svm /proc/cpuinfo; then
	env -u VMSILO_ALLOW_NO_HWVIRT "$vmm" --config "$cfg" > "$work/out" 2> "$work/err"
	rc=$?
	[ $rc -eq 1 ] && grep -q "no hardware virtualisation (no vmx/svm flag): Linux guests will not boot here; run inside the nested rig" "$work/err" &&
		[ "$(wc -l < "$work/err")" -eq 1 ] &&
		ok "KVM without hardware virtualisation: clear error" || bad "no hw virt: rc=$rc err=$(cat "$work/err")"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
