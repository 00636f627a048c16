#!/bin/bash
# Installs what is missing, builds vmsilo-vmm and the host tools, and runs
# the daily vmsilo loop on the example VM (examples/banking.toml, with
# Debian's kernel and a small busybox guest with the guest agent):
# vm-start, vm-run (output, stdin, exit status, the network), the control
# socket's status, vm-balloon (set, stats, back to 0), vm-stop. On hosts
# whose KVM cannot run Linux guests it runs inside the nested rig
# (tests/rig/rig.sh).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$top/tests/deps.sh"
vmsilo_install_deps

build=$top/build-demo
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target vmsilo-vmm vmsilo-guest-agent \
	vm-run vm-start vm-stop vm-shell vm-balloon > /dev/null

rig=$top/tests/rig/rig.sh
mkdir -p "$build/images"
ln -sf "$("$rig" --print-vmlinux)" "$build/images/vmlinux"
"$top/tests/guest/mkinitramfs.sh" "$build/images/initramfs.img" --init "$top/tests/guest/demo-init.sh" \
	--modules "virtio_net vmw_vsock_virtio_transport virtio_balloon button evdev" \
	--add "$build/guest-agent/vmsilo-guest-agent:/bin/vmsilo-guest-agent"

# The example, with this build's images.
sed -e "s|^kernel = .*|kernel = \"$build/images/vmlinux\"|" \
	-e "s|^initramfs = .*|initramfs = \"$build/images/initramfs.img\"|" \
	"$top/examples/banking.toml" > "$build/banking.toml"

echo "Running the demo session with $build/banking.toml ..."
status=0
"$rig" --direct-if-possible --timeout 600 -- "$top/tests/demo-session.sh" "$build" "$build/banking.toml" ||
	status=$?
echo "demo session ended with status $status"
exit $status
