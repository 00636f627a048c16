/*
 * The host compositor's Wayland socket for a GPU instance, found and
 * checked in the VMM (create(), before the fork); the jail then shows it
 * to the GPU process at "/" GPU_SOCKET_NAME. Never a path from the guest.
 *
 * CONTRACT (lead, issue 11).
 */
#ifndef VMSILO_GPU_SOCKET_H
#define VMSILO_GPU_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The socket path: configured (absolute), else $XDG_RUNTIME_DIR/
 * $WAYLAND_DISPLAY of the VMM's environment when the VMM runs as user,
 * else /run/user/<user>/ + ($WAYLAND_DISPLAY or "wayland-0"). A
 * WAYLAND_DISPLAY that is an absolute path is taken as the path.
 * 0, or -ENAMETOOLONG.
 */
int gpu_socket_path(const char *configured, uid_t user, char *path, size_t len);
/*
 * Opens path O_PATH|O_NOFOLLOW after a trusted walk (vmm/path_trust.h:
 * no parent that someone other than root or user could swap), and checks
 * it is a socket owned by user or root. The fd, or -errno with one
 * actionable line in err ("gpu0: no Wayland compositor socket at P: ...;
 * start the compositor or set [gpu] wayland_socket").
 */
int gpu_socket_open(const char *name, const char *path, uid_t user, char *err, size_t errlen);
/* The same checks, then a non-blocking connection to it: the fd, or -errno
 * with a line in err. The VMM makes one whenever the GPU process asks
 * (a compositor restarted has a new socket the jail's bind cannot show). */
int gpu_socket_connect(const char *name, const char *path, uid_t user, char *err, size_t errlen);

#endif
