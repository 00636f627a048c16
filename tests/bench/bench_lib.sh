# Shared by the benchmarks: the release build they measure, and memory
# accounting that leaves guest RAM out.
# shellcheck shell=bash

# Installs what is missing and builds a release vmsilo-vmm in build-bench/.
bench_build() { # TOP
	source "$1/tests/deps.sh"
	vmsilo_install_deps
	cmake -S "$1" -B "$1/build-bench" -DCMAKE_BUILD_TYPE=Release > /dev/null
	cmake --build "$1/build-bench" -j "$(nproc)" --target vmsilo-vmm > /dev/null
	mkdir -p "$1/build-bench/guest"
}

# RSS in KiB of PID outside guest RAM: every mapping but the one at least
# as large as the guest (vmsilo's memfd or tmpfs file, QEMU's anonymous RAM).
rss_outside_ram() { # PID GUEST_MIB
	awk -v ram=$(($2 * 1024)) '
		function hex(s,  i, v) { v = 0; for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
		/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-"); skip = (hex(r[2]) - hex(r[1])) / 1024 >= ram }
		/^Rss:/ && !skip { sum += $2 }
		END { print sum + 0 }' "/proc/$1/smaps" 2> /dev/null || echo 0
}
