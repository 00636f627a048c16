/*
 * Host side of a virtio-net interface: opening the TAP device that the
 * device process gets, and the interface's MAC address.
 */
#ifndef VMSILO_DEVICES_TAP_H
#define VMSILO_DEVICES_TAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Opens the TAP ifname, creating it if it does not exist (which needs
 * CAP_NET_ADMIN; a created TAP goes away with the VMM and starts down), as
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a 12-byte vnet header, checks
 * that the kernel takes checksum and segmentation offloads (left off until
 * a driver accepts them), O_NONBLOCK | O_CLOEXEC. Returns the fd, or -1
 * with one line in err naming the TAP.
 */
int tap_open(const char *ifname, char *err, size_t errlen);

/*
 * The MAC address of interface ifname of VM vm_name when the config gives
 * none: the first six bytes, lowest first, of the 64-bit FNV-1a hash of
 * "<vm_name>/<ifname>", with the first byte made locally administered
 * (bit 1 set) and unicast (bit 0 clear).
 */
void net_derive_mac(const char *vm_name, const char *ifname, uint8_t mac[6]);

#endif
