#!/bin/bash
# Installs what is missing, builds vmsilo-vmm, and boots the example VM
# (examples/banking.toml) with Debian's kernel and a small busybox guest.
# On hosts whose KVM cannot run Linux guests it runs inside the nested rig
# (tests/rig/rig.sh); the guest's console is printed when the VM has ended.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$top/tests/deps.sh"
vmsilo_install_deps

build=$top/build-demo
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target vmsilo-vmm > /dev/null

rig=$top/tests/rig/rig.sh
mkdir -p "$build/images"
ln -sf "$("$rig" --print-vmlinux)" "$build/images/vmlinux"
"$top/tests/guest/mkinitramfs.sh" "$build/images/initramfs.img" --init "$top/tests/guest/demo-init.sh"

# The example, with this build's images and the console on stdout.
sed -e "s|^kernel = .*|kernel = \"$build/images/vmlinux\"|" \
	-e "s|^initramfs = .*|initramfs = \"$build/images/initramfs.img\"|" \
	-e 's|^mode = .*|mode = "stdout"|' -e '/^path = /d' \
	"$top/examples/banking.toml" > "$build/banking.toml"

echo "Booting $build/banking.toml ..."
status=0
"$rig" --direct-if-possible -- "$build/vmm/vmsilo-vmm" --config "$build/banking.toml" || status=$?
echo "vmsilo-vmm exited with status $status"
exit $status
