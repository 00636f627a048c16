#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/loader_util.h"

int loader_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int loader_pread(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int open_image(const char *what, const char *path, off_t *size,
		      char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return loader_fail(err, errlen, "%s: %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return loader_fail(err, errlen, "%s: %s: not a regular file", what, path);
	}
	*size = st.st_size;
	return fd;
}

int boot_load_kernel(const struct guest_mem *mem, const char *path,
		     struct boot_image *img, char *err, size_t errlen)
{
	static const uint8_t elf_magic[4] = { 0x7f, 'E', 'L', 'F' };
	uint8_t magic[4];
	off_t size;
	int fd, rc;

	memset(img, 0, sizeof(*img));
	fd = open_image("kernel", path, &size, err, errlen);
	if (fd < 0)
		return -1;
	if (loader_pread(fd, magic, sizeof(magic), 0))
		rc = loader_fail(err, errlen, "kernel: %s: not a bzImage or ELF vmlinux", path);
	else if (!memcmp(magic, elf_magic, sizeof(magic)))
		rc = pvh_load(mem, fd, path, size, img, err, errlen);
	else
		rc = bzimage_load(mem, fd, path, size, img, err, errlen);
	close(fd);
	return rc;
}

/* The initramfs goes as high as the kernel allows, below the PCI hole. */
int boot_load_initrd(const struct guest_mem *mem, const char *path,
		     struct boot_image *img, char *err, size_t errlen)
{
	uint64_t top = guest_mem_low_end(mem), addr;
	off_t size;
	void *dst;
	int fd = open_image("initramfs", path, &size, err, errlen);

	if (fd < 0)
		return -1;
	if (img->initrd_max && img->initrd_max < top)
		top = img->initrd_max;
	addr = ((top - (uint64_t)size) & ~0xfffull);
	if ((uint64_t)size > top || addr < img->kernel_end ||
	    !(dst = guest_mem_ptr(mem, addr, (uint64_t)size))) {
		close(fd);
		return loader_fail(err, errlen,
				   "initramfs: %s: %lld MiB does not fit in guest memory next to the kernel; raise memory",
				   path, (long long)(size >> 20));
	}
	if (loader_pread(fd, dst, (size_t)size, 0)) {
		close(fd);
		return loader_fail(err, errlen, "initramfs: %s: read failed: %s", path, strerror(errno));
	}
	close(fd);
	img->initrd_addr = addr;
	img->initrd_size = (uint64_t)size;
	return 0;
}

int boot_write_params(const struct guest_mem *mem, const struct boot_image *img,
		      const char *cmdline, uint64_t rsdp, char *err, size_t errlen)
{
	size_t len = strlen(cmdline);
	char *dst;

	if (len >= img->cmdline_max || len >= LAYOUT_CMDLINE_MAX)
		return loader_fail(err, errlen,
				   "cmdline: %zu bytes is longer than the kernel accepts (%u)",
				   len, img->cmdline_max);
	dst = guest_mem_ptr(mem, LAYOUT_CMDLINE, len + 1);
	if (!dst)
		return loader_fail(err, errlen, "memory: no room for the command line");
	memcpy(dst, cmdline, len + 1);
	if (img->kind == BOOT_PVH)
		return pvh_write_params(mem, img, LAYOUT_CMDLINE, rsdp, err, errlen);
	return bzimage_write_params(mem, img, LAYOUT_CMDLINE, rsdp, err, errlen);
}
