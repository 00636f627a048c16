#!/bin/bash
# The VM's life from the host with real Linux guests: the control socket
# (status with the device processes and the guest agent, malformed
# requests, a refused uid, pause/resume), vm-stop (a clean power-off, and
# a guest that ignores the power button stopped hard), vm-shell driven
# through tmux, and socket activation with systemd-socket-activate: the
# first vm-run boots the VM, sd_notify READY=1 comes once the agent
# answers, and [auto_shutdown] powers the idle VM off.
# Runs inside the nested rig when the host has no VT-x/AMD-V.
#   linux_control.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	[ -x "$agent" ] || { echo "linux_control: $agent is not built" >&2; exit 1; }
	rig_begin "$build"
	initrd=$build/guest/control-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "button evdev vmw_vsock_virtio_transport" \
		--add "$agent:/bin/vmsilo-guest-agent"
	rig_reexec "$build" "$here/linux_control.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs" \
		"$build/host-tools"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tools=$5
source "$here/guest_lib.sh"

for tool in socat setpriv tmux systemd-socket-activate; do
	command -v $tool > /dev/null || { echo "FAIL: $tool is missing: tests/run-tests.sh installs it (tests/deps.sh)"; exit 1; }
done

# ctl NAME LINE...: the lines to NAME's control socket, the replies out.
ctl() {
	local name=$1
	shift
	printf '%s\n' "$@" | timeout 30 socat -t 10 - "UNIX-CONNECT:$work/run/$name/control.socket"
}
status() { ctl "$1" '{"version":1,"command":"status"}'; }

# agent_vm NAME ACTION [toml]: a guest with the agent and [vsock].
agent_vm() {
	config "$1" "$vmlinux" 1 256 "$2" $'[vsock]\ncid = 3\n'"${3:-}" > /dev/null
	sed -i "s|^kernel_params = .*|kernel_params = [\"vmsilo.test=$2\", \"vmsilo.agent=1\"]|" "$work/$1.toml"
}

# 1. The control socket of a running VM, then vm-stop's clean power-off.
agent_vm ctl powerbutton $'[rng]\n'
if start_until ctl "VMSILO acpid-ready"; then
	for _ in $(seq 240); do
		reply=$(status ctl)
		[[ $reply == *'"agent":"ready"'* ]] && break
		sleep 0.5
	done
	devices=${reply#*\"devices\":}
	pids=$(grep -o '"pid":[0-9]*' <<< "$devices" | cut -d: -f2)
	children=0
	for p in $pids; do
		[ "$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2> /dev/null)" = "$pid" ] &&
			children=$((children + 1))
	done
	[[ $reply == '{"version":1,"ok":true,"name":"ctl","state":"running",'* ]] &&
		[[ $reply == *"\"pid\":$pid,"* && $reply == *'"vcpus":1,"memory":256,"agent":"ready"'* ]] &&
		[[ $devices == *'"name":"rng0"'* ]] && [ "$(wc -w <<< "$pids")" -eq 2 ] &&
		[ $children -eq 2 ] && [ "$(grep -o '"state":"running"' <<< "$devices" | wc -l)" -eq 2 ] &&
		ok "status: state, the VMM's pid, the guest agent ready, each device with its live process" ||
		bad "status: $reply (device processes of the VMM: $children)" ctl

	long=$(head -c 10000 /dev/zero | tr '\0' x)
	replies=$(ctl ctl 'garbage' '{"version":1,"command":"reboot"}' '{"version":2,"command":"status"}' \
		'{"command":"status"}' "$long" '{"version":1,"command":{"nested":true}}' \
		'{"version":1,"command":"status"}')
	[ "$(grep -c '^{"version":1,"ok":false,"error":"' <<< "$replies")" -eq 6 ] &&
		grep -q '"error":"malformed request: at byte 0: expected' <<< "$replies" &&
		grep -q '"error":"unknown command \\"reboot\\"' <<< "$replies" &&
		grep -q '"error":"unsupported version 2' <<< "$replies" &&
		grep -q '"error":"request longer than 4096 bytes"' <<< "$replies" &&
		[[ $(tail -n 1 <<< "$replies") == '{"version":1,"ok":true,"name":"ctl","state":"running"'* ]] &&
		kill -0 $pid && ok "malformed requests: one error line each, the VM keeps running" ||
		bad "malformed requests: $replies" ctl

	# Only SO_PEERCRED stands in the way here: the files are opened up.
	# The refusal comes at once, before any request: socat only reads.
	chmod 711 "$work" "$work/run" "$work/run/ctl"
	chmod 666 "$work/run/ctl/control.socket"
	nobody=(timeout 30 setpriv --reuid 65534 --regid 65534 --clear-groups)
	refused=$("${nobody[@]}" socat -u "UNIX-CONNECT:$work/run/ctl/control.socket" - < /dev/null)
	tool_out=$("${nobody[@]}" "$tools/vm-stop" --runtime-dir "$work/run" ctl 2>&1)
	tool_rc=$?
	chmod 700 "$work" "$work/run/ctl"
	[ "$refused" = '{"version":1,"ok":false,"error":"permission denied: uid 65534 is not allowed to control VM ctl"}' ] &&
		[ $tool_rc -eq 1 ] &&
		[ "$tool_out" = "vm-stop: ctl: permission denied: uid 65534 is not allowed to control VM ctl" ] &&
		kill -0 $pid && [[ $(status ctl) == *'"state":"running"'* ]] &&
		ok "another uid is refused with one line, vm-stop says so; the VM keeps running" ||
		bad "other uid: $refused / vm-stop rc=$tool_rc: $tool_out" ctl

	paused=$(ctl ctl '{"version":1,"command":"pause"}' '{"version":1,"command":"status"}')
	resumed=$(ctl ctl '{"version":1,"command":"resume"}')
	out=$(timeout 120 "$tools/vm-run" --runtime-dir "$work/run" ctl echo alive 2>&1)
	[[ $(head -n 1 <<< "$paused") == '{"version":1,"ok":true,"state":"paused"}' ]] &&
		[[ $(tail -n 1 <<< "$paused") == *'"state":"paused"'* ]] &&
		[ "$resumed" = '{"version":1,"ok":true,"state":"running"}' ] && [ "$out" = alive ] &&
		ok "pause and resume: the state follows, the guest runs commands again" ||
		bad "pause/resume: paused=$paused resumed=$resumed vm-run=$out" ctl

	out=$("$tools/vm-stop" --runtime-dir "$work/run" ctl 2>&1)
	stop_rc=$?
	finish
	[ $stop_rc -eq 0 ] && [ "$out" = "vm-stop: ctl powered off" ] && [ $rc -eq 0 ] &&
		grep -q "VMSILO shutdown-marker" "$work/ctl.console" && [ ! -e "$work/run/ctl" ] &&
		ok "vm-stop: the guest shuts down through its power button, the VMM exits 0" ||
		bad "vm-stop: rc=$stop_rc out=$out vmm rc=$rc" ctl
else
	bad "the control test VM did not come up" ctl
	kill -KILL $pid 2> /dev/null
	finish
fi

# 2. vm-shell through tmux on a PTY console; then vm-stop on a guest that
#    ignores the power button (a plain shell has no acpid).
config sh "$vmlinux" 1 256 shell > /dev/null
sed -i 's/^mode = "file"/mode = "pty"/; /^path = /d' "$work/sh.toml"
start sh
for _ in $(seq 100); do [ -e "$work/run/sh/console" ] && break; sleep 0.1; done
# vm-shell's output is teed into sh.console, which wait_for reads.
cat > "$work/vm-shell.sh" <<EOT
"$tools/vm-shell" --runtime-dir "$work/run" sh 2> "$work/vm-shell.err" | tee "$work/sh.console"
echo "\${PIPESTATUS[0]}" > "$work/vm-shell.rc"
EOT
tmux -S "$work/tmux.sock" new-session -d -x 120 -y 20 "bash $work/vm-shell.sh; sleep 600"
wait_for sh "VMSILO action=shell"; booted=$?
sleep 1
tmux -S "$work/tmux.sock" send-keys 'echo answer-$((6 * 7))' Enter
wait_for sh "answer-42"; answered=$?
tmux -S "$work/tmux.sock" send-keys C-]
for _ in $(seq 100); do [ -s "$work/vm-shell.rc" ] && break; sleep 0.1; done
tmux -S "$work/tmux.sock" kill-server
[ $booted -eq 0 ] && [ $answered -eq 0 ] && [ "$(cat "$work/vm-shell.rc" 2> /dev/null)" = 0 ] &&
	grep -q "vm-shell: detached from sh; it keeps running" "$work/vm-shell.err" &&
	kill -0 $pid && [[ $(status sh) == *'"state":"running"'* ]] &&
	ok "vm-shell: a typed command prints its output; Ctrl-] detaches and the VM runs on" ||
	bad "vm-shell: booted=$booted answered=$answered rc=$(cat "$work/vm-shell.rc" 2> /dev/null) $(cat "$work/vm-shell.err")" sh

out=$("$tools/vm-stop" --runtime-dir "$work/run" --timeout 3 sh 2>&1)
stop_rc=$?
finish
[ $stop_rc -eq 2 ] && [ "$out" = "vm-stop: sh did not power off within 3 s; stopped it hard" ] &&
	[ $rc -eq 0 ] && [ ! -e "$work/run/sh" ] &&
	ok "vm-stop: a guest that ignores the power button is stopped after --timeout, and it says so" ||
	bad "vm-stop --timeout: rc=$stop_rc out=$out vmm rc=$rc" sh

# 3. Socket activation: systemd-socket-activate holds command.socket; the
#    first vm-run starts the VMM, which notifies READY=1 once the agent
#    answers; [auto_shutdown] then powers the idle guest off.
agent_vm act powerbutton $'[auto_shutdown]\nenable = true\nafter = 8\n'
socat -u "UNIX-RECV:$work/notify.sock" - > "$work/notify.log" &
notify_pid=$!
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
activate() { # sets booted_early, run_rc, out; pid is the VMM once it runs
	rm -rf "$work/run/act" "$work/act.console"
	mkdir -p "$work/run/act"
	systemd-socket-activate -l "$work/run/act/command.socket" -E "NOTIFY_SOCKET=$work/notify.sock" \
		"$vmm" --config "$work/act.toml" --log-level info > /dev/null 2> "$work/act.err" &
	pid=$!
	(sleep 400; kill -KILL $pid) > /dev/null 2>&1 &
	watchdog=$!
	for _ in $(seq 50); do [ -S "$work/run/act/command.socket" ] && break; sleep 0.1; done
	sleep 1
	[ -e "$work/act.console" ] && booted_early=yes || booted_early=no
	out=$(timeout 300 "$tools/vm-run" --runtime-dir "$work/run" act echo activated 2>&1)
	run_rc=$?
}
# A guest that oopses while booting (the rig's TCG flake, see guest_lib.sh)
# gets a second try.
for attempt in 1 2; do
	activate
	[ $run_rc -ne 0 ] && grep -q "Oops:" "$work/act.console" 2> /dev/null || break
	echo "NOTE: act: the guest kernel oopsed while booting (attempt $attempt)"
	cp "$work/act.console" "$logs/act.flake-$attempt.console" 2> /dev/null
	kill -KILL $pid 2> /dev/null
	finish
done
finish
kill $notify_pid 2> /dev/null
[ $booted_early = no ] && [ $run_rc -eq 0 ] && [ "$out" = activated ] &&
	grep -q "READY=1" "$work/notify.log" &&
	ok "socket activation: the first vm-run boots the VM and succeeds; READY=1 once the agent answers" ||
	bad "activation: early=$booted_early vm-run rc=$run_rc out=$out notify=$(tr '\n' ' ' < "$work/notify.log")" act
[ $rc -eq 0 ] && grep -q "auto_shutdown: no command has run in the guest for [0-9]* s: pressing the ACPI power button" "$work/act.err" &&
	grep -q "VMSILO shutdown-marker" "$work/act.console" && grep -q "STOPPING=1" "$work/notify.log" &&
	ok "auto_shutdown: the idle guest gets the power button and powers off, exit 0" ||
	bad "auto_shutdown: rc=$rc" act

# 4. vm-start: detached, back once the agent answers; a second one says
#    the VM runs; a VMM that dies while starting is reported with its log.
agent_vm st hang
out=$(VMSILO_VMM=$vmm timeout 300 "$tools/vm-start" --config "$work/st.toml" --timeout 240 st 2>&1)
start_rc=$?
st_pid=$(status st | sed -n 's/^{"version":1,"ok":true,.*"uptime":[0-9]*,"pid":\([0-9]*\),.*/\1/p')
again=$(VMSILO_VMM=$vmm "$tools/vm-start" --config "$work/st.toml" st 2>&1)
again_rc=$?
[ $start_rc -eq 0 ] && [ -n "$st_pid" ] &&
	[ "$out" = "vm-start: st is ready (pid $st_pid, log $work/run/st.log)" ] &&
	[[ $(status st) == *'"agent":"ready"'* ]] && [ $again_rc -eq 1 ] &&
	[ "$again" = "vm-start: st is already running (pid $st_pid); vm-stop st stops it" ] &&
	ok "vm-start: returns once the guest agent answers; a second vm-start says it runs" ||
	bad "vm-start: rc=$start_rc out=$out again=$again_rc $again" st
"$tools/vm-stop" --runtime-dir "$work/run" --timeout 0 st > /dev/null
for _ in $(seq 100); do kill -0 "$st_pid" 2> /dev/null || break; sleep 0.1; done

sed "s|^kernel = .*|kernel = \"$work/no-such-kernel\"|; s|^name = .*|name = \"broken\"|" \
	"$work/st.toml" > "$work/broken.toml"
out=$(VMSILO_VMM=$vmm "$tools/vm-start" --config "$work/broken.toml" broken 2>&1)
[ $? -eq 1 ] && [ "$(head -n 1 <<< "$out")" = "vm-start: broken: vmsilo-vmm exited with status 1 while starting; the end of $work/run/broken.log:" ] &&
	[ "$(tail -n 1 <<< "$out")" = "  vmsilo-vmm: kernel: $work/no-such-kernel: No such file or directory" ] &&
	ok "vm-start: a VMM that fails to start is reported with the end of its log" ||
	bad "vm-start failure: $out" broken

echo "linux_control: $passed passed, $failed failed"
[ $failed -eq 0 ]
