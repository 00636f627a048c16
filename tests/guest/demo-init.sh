#!/bin/sh
# /init of the demo guest: a tiny vmsilo guest. It shows what the VM looks
# like from inside, names its interfaces as the host's [[net]] entries say
# (vmsilo.ifname=<name>,<mac>), gives "upstream" 10.77.0.2/24, starts the
# guest agent (for vm-run) and powers off when the ACPI power button is
# pressed (vm-stop), which ends vmsilo-vmm with status 0.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
while read -r ko; do
	[ -n "$ko" ] && insmod "$ko"
done </etc/initramfs-modules

for w in $(cat /proc/cmdline); do
	case $w in vmsilo.ifname=*,*) ;; *) continue ;; esac
	spec=${w#vmsilo.ifname=}
	for dev in /sys/class/net/*; do
		[ "$(cat "$dev/address")" = "${spec#*,}" ] && ip link set dev "${dev##*/}" name "${spec%%,*}"
	done
done
ip link set dev lo up
hostname banking
if [ -e /sys/class/net/upstream ]; then
	ip addr add 10.77.0.2/24 dev upstream
	ip link set dev upstream up
fi

echo
echo "=== Hello from the vmsilo demo guest ==="
echo "kernel:  $(uname -srm)"
echo "cpus:    $(grep -c ^processor /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal:/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
echo "clock:   $(date -u) (from the VMM's CMOS clock)"
echo "uptime:  $(cut -d' ' -f1 /proc/uptime) s since the kernel started"
echo "network: $(ls /sys/class/net | tr '\n' ' ')"
echo "cmdline: $(cat /proc/cmdline)"

printf 'root:x:0:0:root:/root:/bin/sh\n' >/etc/passwd
printf 'root:x:0:\n' >/etc/group
/bin/vmsilo-guest-agent &

# busybox acpid maps KEY_POWER to the action file PWRF/00000080.
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\necho "=== power button: powering off ===" >/dev/console\npoweroff -f\n' >/etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /dev/null
echo "=== ready: waiting for vm-run commands and the power button ==="
while :; do sleep 3600; done
