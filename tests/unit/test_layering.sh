#!/bin/bash
# The library layering, from `cmake --graphviz` of a fresh configure of
# the source tree: each of our libraries links only the ones below it in
# LAYERS (so the graph is acyclic), and a library the table does not know
# fails until it is given its place. vmsilo_virtio in particular links
# neither the config schema nor KVM code (vmsilo_core).
#
#   test_layering.sh CMAKE SOURCE_DIR C_COMPILER
set -uo pipefail

cmake=$1 src=$2 cc=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# library: what it may link directly (vmsilo_ left off). Lower layers first.
LAYERS='
util:
boot: util
virtio: util boot
sandbox: util
agent_protocol: util
devices: util boot virtio sandbox
config: util boot virtio sandbox devices
crosvm_wire: util
core: util boot virtio sandbox agent_protocol devices config crosvm_wire
vm_dir: util
vm_socket: util vm_dir
vm_console: util vm_dir
control_client: util vm_dir vm_socket
vm_balloon_args: util vm_dir vm_socket control_client
'

# "from to" for every edge between two of our libraries (vmsilo_ left off);
# executables (tests, tools) may link anything and are not listed.
edges() {
	sed -n 's|.*// \(vmsilo_[A-Za-z0-9_]*\) -> \(vmsilo_[A-Za-z0-9_]*\)$|\1 \2|p' "$1" |
		sed 's/vmsilo_//g' | sort -u
}

libraries() {
	sed -n 's|.*label = "vmsilo_\([A-Za-z0-9_]*\)", shape = octagon.*|\1|p' "$1" | sort -u
}

# Prints one line per broken rule; status 1 if any.
check() {
	local graph=$1 bad=0 from to allowed
	while read -r from; do
		grep -q "^$from:" <<<"$LAYERS" ||
			{ echo "vmsilo_$from: not in the layering table (tests/unit/test_layering.sh)"; bad=1; }
	done < <(libraries "$graph")
	while read -r from to; do
		allowed=$(sed -n "s/^$from://p" <<<"$LAYERS")
		grep -qw -- "$to" <<<"$allowed" ||
			{ echo "vmsilo_$from links vmsilo_$to, which is not below it"; bad=1; }
	done < <(edges "$graph")
	return $bad
}

if ! "$cmake" -S "$src" -B "$dir/build" -DCMAKE_C_COMPILER="$cc" \
	--graphviz="$dir/graph.dot" > "$dir/configure.log" 2>&1; then
	cat "$dir/configure.log" >&2
	echo "FAIL: cannot configure $src" >&2
	exit 1
fi
[ -n "$(edges "$dir/graph.dot")" ] || { echo "FAIL: no library edges in the graph" >&2; exit 1; }

failures=0
if ! out=$(check "$dir/graph.dot"); then
	echo "FAIL: the layering is broken:" >&2
	echo "$out" >&2
	failures=1
fi

# The check itself: the edge this layering exists to keep out is caught.
sed 's|^}$|    "x" -> "y"  // vmsilo_virtio -> vmsilo_config\n}|' "$dir/graph.dot" > "$dir/bad.dot"
out=$(check "$dir/bad.dot")
grep -q "vmsilo_virtio links vmsilo_config" <<<"$out" ||
	{ echo "FAIL: virtio linking config went unnoticed" >&2; failures=1; }
sed 's|^}$|    "x" [ label = "vmsilo_new", shape = octagon ];\n}|' "$dir/graph.dot" > "$dir/new.dot"
check "$dir/new.dot" > /dev/null && { echo "FAIL: an unplaced library went unnoticed" >&2; failures=1; }

[ "$failures" = 0 ] && echo "test_layering: ok"
exit $failures
