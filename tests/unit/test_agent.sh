#!/bin/bash
# vmsilo-guest-agent and vm-run on the host, no VM: the agent listens on
# DIR/testvm/command.socket, where vm-run finds a VM's command socket.
#
#   test_agent.sh AGENT VM_RUN TEST_AGENT_WIRE
set -uo pipefail

agent=$1 vm_run=$2 wire=$3
dir=$(mktemp -d)
sock=$dir/testvm/command.socket
failures=0
agent_pid=

cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
run() { "$vm_run" --runtime-dir "$dir" "$@"; }

# check NAME EXPECTED ACTUAL
check() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }

# Waits up to 20 s for a file to appear.
wait_file() {
	for _ in $(seq 400); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

mkdir -p "$dir/testvm"
"$agent" --listen "unix:$sock" 2>"$dir/agent.log" &
agent_pid=$!
wait_file "$sock" || { echo "agent did not start" >&2; cat "$dir/agent.log" >&2; exit 1; }

# The raw-protocol checks first: they expect an idle agent.
"$wire" "$sock" "$dir" || fail "test_agent_wire"

# Output and stderr separation.
out=$(run testvm sh -c 'echo to-out; echo to-err >&2' 2>"$dir/err")
check "stdout" to-out "$out"
check "stderr" to-err "$(cat "$dir/err")"
check "args are kept apart" "a b|c" "$(run testvm printf '%s|%s' 'a b' c)"

# Exit statuses.
for code in 0 1 42; do
	run testvm sh -c "exit $code"
	check "exit $code" "$code" $?
done
run testvm sh -c 'kill -9 $$'
check "killed by SIGKILL" 137 $?
run testvm sh -c 'kill -15 $$'
check "killed by SIGTERM" 143 $?
run testvm no-such-command-anywhere 2>"$dir/err"
check "command not found" 127 $?
grep -q "vm-run: testvm: exec failed: no-such-command-anywhere: command not found" "$dir/err" ||
	fail "exec failure message: $(cat "$dir/err")"
run novm true 2>"$dir/err"
check "missing VM status" 255 $?
grep -q "vm-run: novm: no such VM socket $dir/novm/command.socket (is the VM started? vm-start novm)" "$dir/err" ||
	fail "missing VM message: $(cat "$dir/err")"

# 10 MiB through stdin and through stdout, checksummed.
head -c 10M /dev/urandom >"$dir/in"
want=$(sha256sum <"$dir/in" | cut -d' ' -f1)
got=$(run testvm sha256sum <"$dir/in" | cut -d' ' -f1)
check "10 MiB stdin" "$want" "$got"
got=$(echo piped | run testvm sha256sum | cut -d' ' -f1)
check "pipe" "$(echo piped | sha256sum | cut -d' ' -f1)" "$got"
got=$(run testvm cat "$dir/in" | sha256sum | cut -d' ' -f1)
check "10 MiB stdout" "$want" "$got"
got=$(run testvm sh -c "cat '$dir/in' >&2" 2>&1 >/dev/null | sha256sum | cut -d' ' -f1)
check "10 MiB stderr" "$want" "$got"
# Both ways at once: the command's output pushes back while input arrives.
got=$(run testvm cat <"$dir/in" | sha256sum | cut -d' ' -f1)
check "10 MiB through cat" "$want" "$got"

# 16 at once, each with its own input and output.
for i in $(seq 16); do
	(seq "$i" 20000 | run testvm sh -c "sha256sum; exit $i" >"$dir/par.$i"; echo $? >"$dir/par.$i.rc") &
done
wait $(jobs -p | grep -v "^$agent_pid\$")
for i in $(seq 16); do
	check "parallel $i output" "$(seq "$i" 20000 | sha256sum)" "$(cat "$dir/par.$i")"
	check "parallel $i status" "$i" "$(cat "$dir/par.$i.rc")"
done

# --detach returns while the command waits for a gate we open afterwards.
run --detach testvm sh -c "while [ ! -e '$dir/gate' ]; do sleep 0.05; done; echo ran >'$dir/marker'"
check "detach status" 0 $?
[ -e "$dir/marker" ] && fail "detached command finished before its gate opened"
touch "$dir/gate"
wait_file "$dir/marker" || fail "detached command did not keep running"
run --detach testvm no-such-command-anywhere 2>/dev/null
check "detached command not found" 127 $?

# A terminal: on a PTY, output post-processed (\r\n), ^D at end of input.
check "tty" "yes" "$(run --tty testvm sh -c 'test -t 0 && test -t 1 && echo yes' | tr -d '\r')"
check "no tty" "no" "$(run --no-tty testvm sh -c 'test -t 0 || echo no')"
run --tty testvm echo hi | od -An -c | tr -s ' ' | grep -q 'h i \\r \\n' || fail "tty onlcr"
got=$(printf 'abc\n' | run --tty testvm cat | tr -d '\r' | sort -u)
check "tty stdin then EOF" "abc" "$got"
# vm-run takes the size of its own terminal. script's input is a FIFO we
# hold open: at end of input, script would type a byte into the terminal.
mkfifo "$dir/hold"
exec 9<>"$dir/hold"
got=$(TERM=xterm script -qec "stty rows 33 cols 77; $vm_run --runtime-dir $dir testvm stty size" /dev/null <&9 | tr -d '\r')
exec 9>&-
check "tty size" "33 77" "$got"

# SIGINT to vm-run reaches the command. (A background job of a script
# starts with SIGINT ignored, which vm-run respects, hence env.)
env --default-signal=INT "$vm_run" --runtime-dir "$dir" testvm \
	sh -c "echo \$\$ >'$dir/pid'; exec sleep 1000" &
runner=$!
wait_file "$dir/pid" || fail "sleep did not start"
kill -INT "$runner"
wait "$runner"
check "SIGINT forwarded" 130 $?

# A command that reads no input: vm-run's queue to the agent fills up. Window
# size changes must not overflow it (only the latest size matters), and
# interrupts still count: the third makes vm-run give up with 128+SIGINT.
rm -f "$dir/pid"
env --default-signal=INT "$vm_run" --runtime-dir "$dir" --tty testvm \
	sh -c "stty raw -echo; echo \$\$ >'$dir/pid'; exec sleep 1000" </dev/zero >/dev/null 2>"$dir/err" &
runner=$!
wait_file "$dir/pid" || fail "sleep did not start"
for _ in $(seq 30000); do
	kill -WINCH "$runner" 2>/dev/null || break
done
kill -0 "$runner" 2>/dev/null || fail "vm-run died of window size changes: $(cat "$dir/err")"
for _ in $(seq 200); do
	kill -INT "$runner" 2>/dev/null || break
	sleep 0.05
done
wait "$runner"
check "interrupts with a full queue" 130 $?
grep -q "internal error" "$dir/err" && fail "full queue: $(cat "$dir/err")"
kill "$(cat "$dir/pid")" 2>/dev/null

kill -0 "$agent_pid" 2>/dev/null || fail "the agent died"

# --user: a second agent that runs commands as nobody (needs root).
if [ "$(id -u)" = 0 ] && grep -q '^nobody:' /etc/passwd; then
	mkdir -p "$dir/uservm"
	"$agent" --user nobody --listen "unix:$dir/uservm/command.socket" 2>>"$dir/agent.log" &
	user_agent=$!
	wait_file "$dir/uservm/command.socket" || fail "second agent did not start"
	want="$(id -u nobody) $(id -g nobody) nobody $(getent passwd nobody | cut -d: -f6)"
	got=$(run uservm sh -c 'echo $(id -u) $(id -g) $USER $HOME')
	check "--user nobody" "$want" "$got"
	kill "$user_agent"
fi
if [ "$failures" -ne 0 ]; then
	echo "--- agent log:" >&2
	cat "$dir/agent.log" >&2
	echo "test_agent.sh: $failures check(s) failed" >&2
	exit 1
fi
echo "test_agent.sh: all checks passed"
