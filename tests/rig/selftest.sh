#!/bin/bash
# End-to-end check of the rig (about 1.5 minutes): exit status, timeout,
# 5 MB of stdout intact, and L2 boots of the rig kernel with the test
# initramfs inside L1 (bzImage and PVH vmlinux).  Prints "N passed, N failed".
#
#   tests/rig/selftest.sh
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$here/rig.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {
	if [ "$2" = 0 ]; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}

out=$("$rig" -- sh -c 'test -c /dev/kvm && uname -r; exit 3')
rc=$?
[ "$rc" = 3 ] && [ -n "$out" ]
check "exit status 3 passes through (got $rc, output '$out')" $?

"$rig" --timeout 15 -- sleep 100 2>"$tmp/err"
rc=$?
[ "$rc" = 124 ] && grep -q timeout "$tmp/err"
check "timeout exits 124 (got $rc)" $?

head -c 5000000 /dev/urandom >"$tmp/blob"
got=$("$rig" -- cat "$tmp/blob" | sha256sum)
want=$(sha256sum <"$tmp/blob")
[ "$got" = "$want" ]
check "5 MB of stdout intact" $?

kernel=$("$rig" --print-kernel)
"$here/make-vmlinux.sh" "$kernel" "$tmp/vmlinux" >/dev/null
check "make-vmlinux.sh finds the PVH entry" $?
"$here/../guest/mkinitramfs.sh" "$tmp/initrd.cpio"
check "mkinitramfs.sh" $?

q="qemu-system-x86_64 -enable-kvm -cpu host -M pc -m 512 -smp 2 -nographic -no-reboot -net none -initrd $tmp/initrd.cpio"
a="console=ttyS0 panic=-1 quiet vmsilo.test=cmd vmsilo.cmd=exit+7"
"$rig" -- sh -c "$q -kernel $kernel -append '$a' </dev/null; $q -kernel $tmp/vmlinux -append '$a' </dev/null" >"$tmp/l2" 2>&1
n=$(grep -c 'VMSILO exit=7' "$tmp/l2")
[ "$(grep -c VMSILO-INIT-START "$tmp/l2")" = 2 ] && [ "$n" = 2 ]
check "L2 boots (bzImage and PVH) reach init and run vmsilo.cmd" $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
