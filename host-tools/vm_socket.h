/*
 * Connecting to a socket in a VM's runtime directory, <runtime_dir>/<name>/,
 * which the VM's user owns and, when we run as root, may have rigged: the
 * name swapped for a link to another socket (/run/systemd/private, a root
 * daemon's), a hard link to one, or a socket of their own.
 *
 * So <name> must be a real directory, and <file> in it a socket of one
 * name (not a link, not hard-linked), owned by root or the directory's
 * owner. It is pinned by its inode (O_PATH) and connected to through
 * /proc/self/fd, so what was checked is what is reached. The server must
 * then be root or the directory's owner (SO_PEERCRED): a root or
 * same-user VMM.
 */
#ifndef VMSILO_VM_SOCKET_H
#define VMSILO_VM_SOCKET_H

#include <stdbool.h>

/*
 * Whether a --runtime-dir may be used: absolute, as the VMM requires (it
 * walks the directory from /), so no tool resolves it anywhere else.
 */
bool vm_runtime_dir_valid(const char *runtime_dir);

/*
 * A connected stream socket (close-on-exec), or -1 with errno: ENOENT or
 * ECONNREFUSED (not running), EPERM (refused: not the VM's socket),
 * ETIMEDOUT (its backlog stayed full for 5 s), ENAMETOOLONG, or connect's.
 */
int vm_socket_connect(const char *runtime_dir, const char *name, const char *file);

#endif
