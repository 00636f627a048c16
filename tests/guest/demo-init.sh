#!/bin/sh
# /init of the demo guest: shows what the VM looks like from inside, then
# powers off, which ends vmsilo-vmm with status 0.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
echo
echo "=== Hello from the vmsilo demo guest ==="
echo "kernel:  $(uname -srm)"
echo "cpus:    $(grep -c ^processor /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal:/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
echo "clock:   $(date -u) (from the VMM's CMOS clock)"
echo "uptime:  $(cut -d' ' -f1 /proc/uptime) s since the kernel started"
echo "cmdline: $(cat /proc/cmdline)"
echo "=== powering off ==="
poweroff -f
