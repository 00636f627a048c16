/*
 * The device-jail boundary, with a probe device started as the VMM starts
 * every device (link_child_start: real loop, real pre-seccomp setup) under
 * each device's real policy:
 * - a new io_uring (which would carry no opcode restrictions) is killed by
 *   SIGSYS, and so is io_uring_register; nothing gets opened through either;
 * - the loop's own ring, made before seccomp, refuses IORING_OP_OPENAT;
 * - a device process maps no other device's control ring (nor any other
 *   shared memory), and its write at the address of another device's ring
 *   never reaches that ring.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "devices/registry.h"
#include "devices/rng.h"
#include "virtio/link_proto.h"
#include "vmm/link_child.h"

/* The config offset of a write says what the probe device does. */
enum probe_kind {
	PROBE_LOOP_OPENAT,	/* OPENAT on the loop's own ring */
	PROBE_NEW_RING,		/* a ring of its own, then OPENAT on it */
	PROBE_REGISTER,		/* io_uring_register on the loop's ring */
	PROBE_WRITE,		/* store MARKER at the address in the data */
};

#define OPENAT_FILE "openat-probe"
#define ESCAPE_FILE "new-ring-probe"
#define MARKER 0x46524745u	/* "EGRF" */
#define WAIT_MS 10000		/* only so a broken test cannot hang */

static int report_fd = -1;	/* the probe's pipe, in the child */

/* ASan builds: a fault must kill the jailed child by SIGSEGV, not start a
 * report that seccomp cuts short. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0";
}

static void report(int32_t res)
{
	(void)!write(report_fd, &res, sizeof(res));
}

static int32_t openat_on_new_ring(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int32_t res;

	if (io_uring_queue_init(4, &ring, 0))
		return -EIO;
	io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, ESCAPE_FILE,
			     O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	res = io_uring_submit_and_wait(&ring, 1) == 1 && !io_uring_peek_cqe(&ring, &cqe)
	      ? cqe->res : -EIO;
	io_uring_queue_exit(&ring);
	return res;
}

static int probe_write_config(struct vdev *dev, unsigned off, const uint8_t *buf, unsigned len)
{
	struct io_uring_sqe *sqe;
	uint64_t addr;

	switch (off) {
	case PROBE_LOOP_OPENAT:
		sqe = vdev_get_sqe(dev, 1);
		if (!sqe)
			return -1;
		io_uring_prep_openat(sqe, AT_FDCWD, OPENAT_FILE,
				     O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		return 0;	/* probe_complete reports */
	case PROBE_NEW_RING:
		report(openat_on_new_ring());
		return 0;
	case PROBE_REGISTER:
		report((int32_t)syscall(SYS_io_uring_register, dev->ring->ring_fd,
					IORING_UNREGISTER_FILES, NULL, 0));
		return 0;
	case PROBE_WRITE:
		if (len != sizeof(addr))
			return -1;
		memcpy(&addr, buf, sizeof(addr));
		*(volatile uint32_t *)(uintptr_t)addr = MARKER;
		report(0);
		return 0;
	}
	return -1;
}

static void probe_complete(struct vdev *dev, uint64_t data, int32_t res)
{
	report(res);
}

static const struct vdev_ops probe_ops = {
	.name = "probe",
	.config_size = 16,
	.write_config = probe_write_config,
	.complete = probe_complete,
};

struct probe {
	struct vdev dev;
	struct link_child lc;
	int pipe[2];		/* the device writes results to [1] */
};

static char dir[] = "/tmp/vmsilo-device-jail-XXXXXX";

static bool start(struct probe *p, const char *name, const struct sandbox_policy *policy)
{
	struct link_child_options opt = {
		.sandbox = true, .policy = policy, .device_fds = &p->pipe[1],
		.nr_device_fds = 1, .bind_dir = dir,
	};
	char err[256] = "";
	int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(sandbox_dir_id(dir_fd, &opt.bind_dir_id), 0);
	close(dir_fd);
	memset(p, 0, sizeof(*p));
	CHECK_EQ(pipe2(p->pipe, O_CLOEXEC), 0);
	report_fd = p->pipe[1];		/* the same number in the child */
	vdev_init(&p->dev, &probe_ops, NULL, name, NULL);
	if (link_child_start(&p->lc, &p->dev, &opt, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		CHECK_STR(err, "");
		close(p->pipe[0]);
		close(p->pipe[1]);
		return false;
	}
	close(p->pipe[1]);
	return true;
}

static void stop(struct probe *p)
{
	link_child_stop(&p->lc);
	close(p->pipe[0]);
}

/*
 * A posted LINK_SET_CONFIG (at least one byte): the probe runs in the
 * device's control handler.
 */
static void send_probe(struct probe *p, enum probe_kind what, const void *data, unsigned len)
{
	struct link_config c = { .offset = htole32(what), .len = htole32(len ? len : 1) };
	struct ctl_msg m;

	if (len)
		memcpy(c.data, data, len);
	len = le32toh(c.len);
	link_msg_init(&m, LINK_SET_CONFIG, &c, (uint32_t)(LINK_CONFIG_HDR + len));
	CHECK_EQ(ctl_ring_send(&p->lc.ctl, &m), 0);
}

/* The probe's result, or INT32_MIN if it sent none (it died). */
static int32_t result(struct probe *p)
{
	struct pollfd pfd = { .fd = p->pipe[0], .events = POLLIN };
	int32_t res = INT32_MIN;

	if (poll(&pfd, 1, WAIT_MS) == 1 && read(p->pipe[0], &res, sizeof(res)) != sizeof(res))
		res = INT32_MIN;
	return res;
}

/* How the device process ended: "" if it is still running after WAIT_MS. */
static const char *death(struct probe *p, siginfo_t *info)
{
	static char what[256];
	struct pollfd pfd = { .fd = p->lc.child.pidfd, .events = POLLIN };

	what[0] = '\0';
	*info = (siginfo_t){ 0 };
	if (poll(&pfd, 1, WAIT_MS) == 1 && !sandbox_wait(&p->lc.child, 0, info)) {
		p->lc.dead = true;
		sandbox_describe(&p->lc.child, info, what, sizeof(what));
	}
	return what;
}

static const char *in_dir(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static bool exists(const char *name)
{
	return access(in_dir(name), F_OK) == 0;
}

static void expect_sigsys(struct probe *p, int nr, const char *syscall_name)
{
	char want[256];
	siginfo_t info;

	snprintf(want, sizeof(want), "%s: killed by SIGSYS (seccomp: syscall %d %s)",
		 p->dev.name, nr, syscall_name);
	CHECK_STR(death(p, &info), want);
	CHECK_EQ(info.si_code, CLD_KILLED);
	CHECK_EQ(info.si_status, SIGSYS);
}

static void test_io_uring(const struct sandbox_policy *policy)
{
	struct probe p;

	printf("io_uring under the %s policy\n", policy->name);
	if (start(&p, policy->name, policy)) {
		send_probe(&p, PROBE_LOOP_OPENAT, NULL, 0);
		CHECK_EQ(result(&p), -EACCES);
		CHECK(!exists(OPENAT_FILE));
		send_probe(&p, PROBE_REGISTER, NULL, 0);
		expect_sigsys(&p, SYS_io_uring_register, "io_uring_register");
		stop(&p);
	}
	if (start(&p, policy->name, policy)) {
		send_probe(&p, PROBE_NEW_RING, NULL, 0);
		expect_sigsys(&p, SYS_io_uring_setup, "io_uring_setup");
		CHECK(!exists(ESCAPE_FILE));
		stop(&p);
	}
	unlink(in_dir(OPENAT_FILE));	/* there only if the test failed */
	unlink(in_dir(ESCAPE_FILE));
}

/* What /proc/<pid>/maps says about control rings and one address. */
struct maps_view {
	unsigned nr_rings;		/* control-ring mappings */
	unsigned long inode_at_addr;	/* of the ring mapping at addr, or 0 */
	bool addr_mapped;		/* by anything */
	bool has_inode;			/* some mapping is of that inode */
	unsigned nr_other_shared;	/* neither a ring nor its io_uring */
};

static struct maps_view scan_maps(pid_t pid, uintptr_t addr, unsigned long inode)
{
	struct maps_view v = { 0 };
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		unsigned long ino;
		char perms[8];
		bool here;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %lu", &lo, &hi, perms,
			   &ino) != 4)
			continue;
		v.nr_other_shared += perms[3] == 's' && !strstr(line, "vmsilo-ctl") &&
				     !strstr(line, "[io_uring]");
		here = addr >= lo && addr < hi;
		v.addr_mapped |= here;
		v.has_inode |= inode && ino == inode;
		if (!strstr(line, "vmsilo-ctl"))
			continue;
		v.nr_rings++;
		if (here)
			v.inode_at_addr = ino;
	}
	if (f)
		fclose(f);
	return v;
}

/* Device b, started after a, holds its own ring only and cannot reach a's. */
static void test_rings_private(void)
{
	struct probe a, b;
	struct maps_view va, vb;
	unsigned long a_inode, b_inode;
	uint64_t target;
	siginfo_t info;

	printf("control rings are private to their device\n");
	if (!start(&a, "ring-a", &rng_policy))
		return;
	if (!start(&b, "ring-b", &rng_policy)) {
		stop(&a);
		return;
	}
	a_inode = scan_maps(getpid(), (uintptr_t)a.lc.ctl.shm, 0).inode_at_addr;
	b_inode = scan_maps(getpid(), (uintptr_t)b.lc.ctl.shm, 0).inode_at_addr;
	CHECK(a_inode && b_inode && a_inode != b_inode);

	/* Each child maps one control ring, its own. */
	va = scan_maps(a.lc.child.pid, 0, b_inode);
	CHECK_EQ(va.nr_rings, 1);
	CHECK(!va.has_inode);
	target = (uint64_t)(uintptr_t)&a.lc.ctl.shm->hdr.reserved[0];
	vb = scan_maps(b.lc.child.pid, (uintptr_t)target, a_inode);
	CHECK_EQ(vb.nr_rings, 1);
	CHECK(!vb.has_inode);
	CHECK_EQ(vb.nr_other_shared, 0);	/* no guest RAM in this test */

	/*
	 * b stores where a's ring lies in the VMM (and lay in b before control
	 * rings were MADV_DONTFORK): a's ring never sees it. The kernel often
	 * fills that hole with b's own later mappings (its ring, its
	 * io_uring); only where it did not must the store fault.
	 */
	a.lc.ctl.shm->hdr.reserved[0] = 0;
	send_probe(&b, PROBE_WRITE, &target, sizeof(target));
	if (!vb.addr_mapped) {
		CHECK_STR(death(&b, &info), "ring-b: killed by SIGSEGV");
		CHECK_EQ(info.si_status, SIGSEGV);
	} else {
		printf("note: b has its own memory there, not a's ring\n");
		CHECK_EQ(result(&b), 0);
	}
	CHECK_EQ(a.lc.ctl.shm->hdr.reserved[0], 0);
	stop(&b);
	stop(&a);
}

static int exit_0(void *arg)
{
	return 0;
}

int main(void)
{
	struct sandbox_config cfg = { .name = "probe", .enable = true, .nofile = 64 };
	struct sandbox_child c;
	siginfo_t info;
	char err[256];

	if (sandbox_spawn(&cfg, NULL, exit_0, NULL, &c, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_device_jail");
	}
	sandbox_wait(&c, 0, &info);
	sandbox_release(&c);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* Every kind in the registry, as the VMM starts it: a new kind is covered. */
	for (const struct device_kind *const *k = device_kinds; *k; k++)
		if ((*k)->policy)	/* vhost-user kinds have no process of ours */
			test_io_uring((*k)->policy);
	test_rings_private();
	rmdir(dir);
	return check_report("test_device_jail");
}
