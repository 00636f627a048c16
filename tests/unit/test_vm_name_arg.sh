#!/bin/bash
# Every host tool takes a VM name by the config's name rule
# (vmm/vm_name.c), and refuses any other with one line that says so
# before it touches a socket or a file.
#
#   test_vm_name_arg.sh VM_START VM_STOP VM_RUN VM_SHELL
set -uo pipefail

vm_start=$1 vm_stop=$2 vm_run=$3 vm_shell=$4
dir=$(mktemp -d)
failures=0
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

long=$(printf 'a%.0s' {1..65})
for name in "my vm" "a:b" "a/b" ".." "$long"; do
	for tool in "$vm_start" "$vm_stop" "$vm_run" "$vm_shell"; do
		args=(--runtime-dir "$dir/run" "$name")
		[ "$tool" = "$vm_run" ] && args+=(true)
		out=$("$tool" "${args[@]}" 2>&1)
		status=$?
		[ "$status" != 0 ] || fail "$(basename "$tool") \"$name\": exit 0"
		grep -q "is not a VM name" <<<"$out" ||
			fail "$(basename "$tool") \"$name\": no clear refusal: $out"
	done
done

# A name that looks like an option, after "--" (which every tool takes
# to end its options), is refused by the name rule, not run as an option.
for tool in "$vm_start" "$vm_stop" "$vm_run" "$vm_shell"; do
	args=(--runtime-dir "$dir/run" -- -rf)
	[ "$tool" = "$vm_run" ] && args+=(true)
	out=$("$tool" "${args[@]}" 2>&1)
	status=$?
	[ "$status" != 0 ] || fail "$(basename "$tool") -- -rf: exit 0"
	grep -q "is not a VM name" <<<"$out" ||
		fail "$(basename "$tool") -- -rf: no clear refusal: $out"
	args=(--runtime-dir "$dir/run" -- good)
	[ "$tool" = "$vm_run" ] && args+=(true)
	out=$("$tool" "${args[@]}" 2>&1)
	grep -q "usage:" <<<"$out" && fail "$(basename "$tool") -- good: \"--\" not taken: $out"
done
[ -e "$dir/run" ] && fail "a tool created the runtime directory for a bad name"

[ "$failures" = 0 ] && echo "test_vm_name_arg: ok"
exit $((failures != 0))
