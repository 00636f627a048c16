#!/bin/bash
# vm-start's log as root: a symlink, hard link, FIFO or another user's file
# planted at the log's name (<runtime_dir>/<name>.log, in a directory
# another user may write) is refused, not followed into a root file, and
# does not block vm-start.
#
#   test_vm_start_log.sh VM_START SWAP_ON_OPEN_SO
set -uo pipefail

vm_start=$1 swap_shim=$2
dir=$(mktemp -d)
failures=0
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

touch "$dir/bzImage"
printf 'name = "t"\nmemory = 64\nkernel = "%s/bzImage"\n' "$dir" > "$dir/t.toml"
# A stand-in VMM: whatever it prints lands in the log.
printf '#!/bin/sh\necho written-by-the-vmm\n' > "$dir/vmm"
chmod +x "$dir/vmm"
start() { "$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/run" --vmm "$dir/vmm" "$@" t 2>&1; }

mkdir "$dir/run"
echo secret > "$dir/victim"
chmod 600 "$dir/victim"

ln -s "$dir/victim" "$dir/run/t.log"
out=$(start)
grep -q "cannot write the log" <<<"$out" || fail "symlinked log accepted: $out"
[ "$(cat "$dir/victim")" = secret ] || fail "the VMM's output went through the symlink"
rm "$dir/run/t.log"

ln -s "$dir/planted" "$dir/run/t.log"
start > /dev/null
[ -e "$dir/planted" ] && fail "a dangling symlinked log created $dir/planted"
rm "$dir/run/t.log"

ln "$dir/victim" "$dir/run/t.log"
out=$(start)
grep -q "cannot write the log" <<<"$out" || fail "hard-linked log accepted: $out"
[ "$(cat "$dir/victim")" = secret ] || fail "the VMM's output went through the hard link"
rm "$dir/run/t.log"

mkfifo "$dir/run/t.log"
out=$(timeout 60 "$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/run" --vmm "$dir/vmm" t 2>&1)
[ $? = 124 ] && fail "vm-start blocked opening a FIFO planted as the log"
grep -q "cannot write the log" <<<"$out" || fail "a FIFO as the log accepted: $out"
rm "$dir/run/t.log"

if id nobody > /dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	echo "nobody's" > "$dir/run/t.log"
	chown nobody "$dir/run/t.log"
	out=$(start)
	grep -q "cannot write the log" <<<"$out" || fail "another user's log file accepted: $out"
	[ "$(cat "$dir/run/t.log")" = "nobody's" ] || fail "the VMM wrote into another user's file"
	rm "$dir/run/t.log"
fi

start > /dev/null
grep -q written-by-the-vmm "$dir/run/t.log" || fail "a fresh log did not get the VMM's output"
start > /dev/null
[ "$(grep -c written-by-the-vmm "$dir/run/t.log")" = 2 ] || fail "our own log was not appended to"

# The log's directory is made as the VMM makes runtime_dir: every missing
# component, and never through a symlink.
"$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/new/run" --vmm "$dir/vmm" t > /dev/null 2>&1
grep -q written-by-the-vmm "$dir/new/run/t.log" 2>/dev/null ||
	fail "a runtime_dir with missing parents was not made for the log"
mkdir "$dir/elsewhere"
ln -s "$dir/elsewhere" "$dir/linked"
out=$("$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/linked" --vmm "$dir/vmm" t 2>&1)
grep -q "is a symlink" <<<"$out" || fail "a symlinked runtime_dir accepted for the log: $out"
[ -e "$dir/elsewhere/t.log" ] && fail "the log went through a symlinked runtime_dir"


# A component swapped for a symlink after the walk, just before the log is
# opened (the shim does it at that open): the log still lands in the
# directory the walk checked, not where the link points.
mkdir -p "$dir/swap/run" "$dir/swap-target"
out=$(SWAP_ON_OPEN_NAME=t.log SWAP_ON_OPEN_DIR="$dir/swap/run" \
	SWAP_ON_OPEN_TARGET="$dir/swap-target" LD_PRELOAD="$swap_shim" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/swap/run" --vmm "$dir/vmm" t 2>&1)
[ -L "$dir/swap/run" ] || fail "the shim did not swap the runtime_dir: $out"
[ -e "$dir/swap-target/t.log" ] && fail "the log followed a component swapped after the walk"
grep -q written-by-the-vmm "$dir/swap/run.aside/t.log" 2>/dev/null ||
	fail "the log did not land in the directory the walk checked: $out"

# Each component is trusted as the VMM trusts runtime_dir: one writable by
# others (not sticky), or another user's, is refused before the log is made.
mkdir -p "$dir/open/run"
chmod 0777 "$dir/open"
out=$("$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/open/run" --vmm "$dir/vmm" t 2>&1)
grep -q "writable by group or others" <<<"$out" ||
	fail "a runtime_dir under a world-writable directory accepted for the log: $out"
[ -e "$dir/open/run/t.log" ] && fail "the log was made under a world-writable directory"
if id nobody > /dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	mkdir -p "$dir/theirs/run"
	chown nobody "$dir/theirs"
	out=$("$vm_start" --config "$dir/t.toml" --runtime-dir "$dir/theirs/run" --vmm "$dir/vmm" t 2>&1)
	grep -q "is owned by uid" <<<"$out" ||
		fail "a runtime_dir under another user's directory accepted for the log: $out"
	[ -e "$dir/theirs/run/t.log" ] && fail "the log was made under another user's directory"
fi

[ "$failures" = 0 ] && echo "test_vm_start_log: ok"
exit $((failures != 0))
