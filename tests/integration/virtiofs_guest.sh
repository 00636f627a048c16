#!/bin/bash
# The guest half of linux_virtiofs.sh: runs inside an L2 guest whose root
# is L1's root over virtiofs (init.sh's vmsilo.root=virtiofs:root), so it
# has bash, python3 and fio. Prints "VMSILO key=value" lines the host half
# checks against what it sees in the shares.
#   virtiofs_guest.sh main DATA RO HOME   the first boot: every file check
#   virtiofs_guest.sh again HOME          the second boot of the same VM
set -u
say() { echo "VMSILO $1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

userland() {
	say "fio=$(fio --version 2>&1 | head -n 1)"
	say "bash_sha=$(sha /usr/bin/bash)"
	say "python=$(python3 -c 'print(1)' 2>&1)"
}

# 1,000 files the host wrote: each one's name is its index, the manifest
# lists their checksums.
many_files() { # DIR
	local n bad=0
	n=$(find "$1/many" -type f | wc -l)
	(cd "$1/many" && sha256sum -c --quiet ../manifest > /dev/null 2>&1) || bad=1
	say "many_count=$n many_bad=$bad"
}

file_ops() { # DIR
	local d=$1/ops
	mkdir -p "$d"
	head -c 67108864 /dev/urandom > "$1/big"
	sync
	say "big_sha=$(sha "$1/big")"
	echo one > "$d/a" && mv "$d/a" "$d/renamed"
	echo gone > "$d/unlinked" && rm "$d/unlinked"
	echo linked > "$d/orig" && ln "$d/orig" "$d/hard"
	ln -s orig "$d/sym"
	echo mode > "$d/mode" && chmod 640 "$d/mode"
	head -c 10000 /dev/zero > "$d/trunc" && truncate -s 1234 "$d/trunc"
	python3 - "$d/fsynced" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"fsynced\n")
os.fsync(fd)
os.close(fd)
PY
	say "hard_nlink=$(stat -c %h "$d/orig") sym=$(readlink "$d/sym") mode=$(stat -c %a "$d/mode") trunc=$(stat -c %s "$d/trunc")"
	say "mmap=$(python3 -c 'import mmap,sys; f=open(sys.argv[1],"rb"); m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); print(m[:12].decode())' "$1/hostfile" 2>&1)"
	local p=$1/deep i
	for i in $(seq 20); do p=$p/d$i; done
	mkdir -p "$p" && echo bottom > "$p/leaf"
	say "deep=$(cat "$p/leaf")"
}

readonly_share() { # DIR
	local rc out
	out=$(touch "$1/new" 2>&1); rc=$?
	say "ro_touch_rc=$rc ro_erofs=$(case $out in *"Read-only file system"*) echo 1 ;; *) echo 0 ;; esac)"
	say "ro_sha=$(sha "$1/file")"
}

home_first() { # HOME
	say "home_template=$(cat "$1/from-template" 2>&1)"
	say "home_owner=$(stat -c %u:%g "$1")"
	echo kept > "$1/written-by-guest" && sync
}

case $1 in
main)
	userland
	many_files "$2"
	file_ops "$2"
	readonly_share "$3"
	home_first "$4"
	;;
again) say "home_kept=$(cat "$2/written-by-guest" 2>&1)" ;;
esac
say "guest-done=1"
