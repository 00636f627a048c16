/*
 * Opening a VM's console PTY through the link its VMM publishes as
 * <runtime_dir>/<name>/console. The VM's user owns <name>/ and, when we
 * run as root, may have pointed that link at any terminal on the host
 * (root's own, /dev/tty1) for us to relay.
 *
 * So <name> must be a real directory, console a link whose target is
 * exactly /dev/pts/<N>, and what that is a Unix98 PTY slave owned by the
 * directory's owner (the VMM hands the PTY to the VM's user; a root VM's
 * stays root's). It is pinned by inode (O_PATH), checked, and opened
 * through /proc/self/fd, so what was checked is what is opened.
 */
#ifndef VMSILO_VM_CONSOLE_H
#define VMSILO_VM_CONSOLE_H

/*
 * The PTY read-write, non-blocking, close-on-exec and never our
 * controlling terminal; or -1 with errno: ENOENT (no console link),
 * EPERM (refused: not the VM's console PTY), ENAMETOOLONG, or open's.
 */
int vm_console_open(const char *runtime_dir, const char *name);

#endif
