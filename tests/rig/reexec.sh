# Sourced by the tests/integration/linux_*.sh scripts, which start on the
# host and run again, with --inside, in L1 of the nested rig (or directly
# when the host has VT-x/AMD-V: rig.sh --direct-if-possible). Needs $top,
# the source tree. Under the caller's set -e, a failing step ends it.
# shellcheck shell=bash

# rig_begin BUILD: sets $rig and $vmlinux (the guest kernel the rig
# provides) and makes BUILD/guest/ and BUILD/integration-logs/.
rig_begin() {
	rig=$top/tests/rig/rig.sh
	vmlinux=$("$rig" --print-vmlinux)
	mkdir -p "$1/guest" "$1/integration-logs"
}

# rig_reexec BUILD SCRIPT ARGS...: replaces this process with
# "SCRIPT --inside ARGS..." in the rig, logs in BUILD/integration-logs/;
# its exit status (77: skipped) is the test's.
rig_reexec() {
	local build=$1 script=$2

	shift 2
	exec "$rig" --direct-if-possible --timeout 1500 --results "$build/integration-logs" -- \
		"$script" --inside "$@"
}
