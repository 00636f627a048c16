/* Helpers shared by the kernel loaders (internal to boot/). */
#ifndef VMSILO_LOADER_UTIL_H
#define VMSILO_LOADER_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "boot/loader.h"

/* Formats the reason into err and returns -1. */
int loader_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reads exactly len bytes at off; -1 on error or a short file. */
int loader_pread(int fd, void *buf, size_t len, off_t off);

int bzimage_load(const struct guest_mem *mem, int fd, const char *path, off_t file_size,
		 struct boot_image *img, char *err, size_t errlen);
int bzimage_write_params(const struct guest_mem *mem, const struct boot_image *img,
			 uint64_t cmdline_gpa, uint64_t rsdp, char *err, size_t errlen);
int pvh_load(const struct guest_mem *mem, int fd, const char *path, off_t file_size,
	     struct boot_image *img, char *err, size_t errlen);
int pvh_write_params(const struct guest_mem *mem, const struct boot_image *img,
		     uint64_t cmdline_gpa, uint64_t rsdp, char *err, size_t errlen);

#endif
