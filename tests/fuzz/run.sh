#!/bin/bash
# Runs one libFuzzer harness for SECONDS (default 180) from its committed
# seeds, keeping what it finds under build-fuzz/fuzz-out/TARGET/ (new
# inputs in corpus/, crashes as crash-*); exits non-zero on a crash.
#   tests/fuzz/run.sh TARGET [SECONDS [BINARY]]
# Without BINARY the harness is built first in build-fuzz (clang,
# -DVMSILO_FUZZ=ON). Further libFuzzer flags go in VMSILO_FUZZ_FLAGS.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=${1:?usage: tests/fuzz/run.sh TARGET [SECONDS [BINARY]]}
seconds=${2:-180}
binary=${3:-}
build=${VMSILO_FUZZ_BUILD:-$top/build-fuzz}
seeds=$top/tests/fuzz/corpus/$target

if [ -z "$binary" ]; then
	cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DVMSILO_FUZZ=ON > /dev/null
	cmake --build "$build" -j 2 --target "$target" > /dev/null
	binary=$build/tests/fuzz/$target
fi
[ -d "$seeds" ] || { echo "error: no seed corpus $seeds" >&2; exit 2; }
# Absolute: a harness may change its working directory (fuzz_vsock does).
# One input taking over 30 s counts as a hang; the margin is for a busy machine.
binary=$(realpath "$binary")
out=$(dirname "$binary")/fuzz-out/$target
mkdir -p "$out/corpus"
# New inputs go to the first directory, never into the committed seeds.
# shellcheck disable=SC2086
exec "$binary" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
	-artifact_prefix="$out/" ${VMSILO_FUZZ_FLAGS:-} "$out/corpus" "$seeds"
