#!/bin/bash
# vm-start's log as root: a symlink, hard link, FIFO or another user's file
# planted at the log's name (<runtime_dir>/<name>.log, in a directory
# another user may write) is refused, not followed into a root file, and
# does not block vm-start.
#
#   test_vm_start_log.sh VM_START
set -uo pipefail

vm_start=$1
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

[ "$failures" = 0 ] && echo "test_vm_start_log: ok"
exit $((failures != 0))
