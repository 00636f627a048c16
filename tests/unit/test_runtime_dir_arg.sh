#!/bin/bash
# A relative --runtime-dir is refused, with one line that says so, by the
# VMM (which walks the directory from /) and by every host tool that takes
# one (which would otherwise look for it from the working directory).
#
#   test_runtime_dir_arg.sh VMSILO_VMM VM_START VM_STOP VM_RUN VM_SHELL
set -uo pipefail

vmm=$1 vm_start=$2 vm_stop=$3 vm_run=$4 vm_shell=$5
dir=$(mktemp -d)
failures=0
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

touch "$dir/bzImage"
printf 'name = "t"\nmemory = 64\nkernel = "%s/bzImage"\n' "$dir" > "$dir/t.toml"
printf '#!/bin/sh\necho started\n' > "$dir/stand-in-vmm"
chmod +x "$dir/stand-in-vmm"
cd "$dir" || exit 1

expect_refused() {
	local what=$1 out status
	shift
	out=$("$@" 2>&1)
	status=$?
	[ "$status" != 0 ] || fail "$what: exit 0 with a relative --runtime-dir: $out"
	grep -q -- "--runtime-dir must be an absolute path" <<<"$out" ||
		fail "$what: no clear refusal: $out"
}

expect_refused vmsilo-vmm "$vmm" --check-config --config t.toml --runtime-dir run
expect_refused "vmsilo-vmm (=)" "$vmm" --check-config --config t.toml --runtime-dir=run
expect_refused vm-start "$vm_start" --config t.toml --runtime-dir run --vmm "$dir/stand-in-vmm" t
expect_refused vm-stop "$vm_stop" --runtime-dir run t
expect_refused vm-run "$vm_run" --runtime-dir=run t true
expect_refused vm-shell "$vm_shell" --runtime-dir run t
[ -e run ] && fail "a tool created ./run from a relative --runtime-dir"

out=$("$vmm" --check-config --config t.toml --runtime-dir "$dir/run" 2>&1) ||
	fail "an absolute --runtime-dir was refused: $out"

[ "$failures" = 0 ] && echo "test_runtime_dir_arg: ok"
exit $((failures != 0))
