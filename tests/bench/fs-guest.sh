#!/bin/sh
# The guest half of tests/bench/fs.sh, run by the host-userland L2 guest
# (Debian's fio and python3 from L1's root over virtiofs) on a share:
#   fs-guest.sh DIR MIB FILES
# prints "seqwrite MB/s", "seqread MB/s", "randread IOPS" (4 KiB, every
# block once) and "meta FILES/s" (create+stat+unlink of FILES files).
# The guest's page cache is dropped before each read so it hits virtiofs.
set -eu
dir=$1 mib=$2 files=$3
f=$dir/fsbench.dat

# fio's JSON on stdin -> the figure KEY of the first job's read or write.
figure() { # read|write bw|iops
	python3 -c 'import json, sys
j = json.load(sys.stdin)["jobs"][0][sys.argv[1]]
print(round(j["bw_bytes"] / 1e6, 1) if sys.argv[2] == "bw" else round(j["iops"]))' "$1" "$2"
}
fio_run() { # NAME RW BS
	fio --name="$1" --filename="$f" --rw="$2" --bs="$3" --size="${mib}M" \
		--ioengine=psync --end_fsync=1 --output-format=json
}
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

echo "seqwrite $(fio_run seqwrite write 1M | figure write bw)"
drop_caches
echo "seqread $(fio_run seqread read 1M | figure read bw)"
drop_caches
echo "randread $(fio_run randread randread 4k | figure read iops)"
rm -f "$f"
python3 - "$dir/meta" "$files" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
t = time.monotonic()
for i in range(n):
    p = f"{d}/f{i}"
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
    os.stat(p)
    os.unlink(p)
print(f"meta {n / (time.monotonic() - t):.0f}")
os.rmdir(d)
PY
