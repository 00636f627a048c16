/* The vhost-user wire format: the bytes each builder writes, and every
 * check a reply must pass. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "virtio/vhost_user_proto.h"

static char why[160];

static void test_layout(void)
{
	CHECK_EQ(sizeof(struct vhost_user_hdr), 12);
	CHECK_EQ(sizeof(struct vhost_user_vring_state), 8);
	CHECK_EQ(sizeof(struct vhost_user_vring_addr), 40);
	CHECK_EQ(sizeof(struct vhost_user_region), 32);
	CHECK_EQ(sizeof(struct vhost_user_inflight), 20);
	CHECK(VHOST_USER_PAYLOAD_MAX >= VHOST_USER_CONFIG_HDR + VHOST_USER_CONFIG_MAX);
}

static uint64_t at64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void test_builders(void)
{
	struct vhost_user_msg m;
	struct vhost_user_region r[2] = { { 0, 0x1000, 0x7f0000, 0 }, { 1ull << 32, 0x2000, 0x7f1000, 0x1000 } };
	uint8_t raw[sizeof(m)];

	CHECK_EQ(vhost_user_msg_empty(&m, VHOST_USER_SET_OWNER, 0), 12);
	memcpy(raw, &m, 12);
	CHECK(!memcmp(raw, "\x03\0\0\0\x01\0\0\0\0\0\0\0", 12));

	CHECK_EQ(vhost_user_msg_u64(&m, VHOST_USER_SET_FEATURES, VHOST_USER_FLAG_NEED_REPLY,
				    0x140000000ull), 20);
	memcpy(raw, &m, 20);
	CHECK(!memcmp(raw, "\x02\0\0\0\x09\0\0\0\x08\0\0\0\0\0\0\x40\x01\0\0\0", 20));

	CHECK_EQ(vhost_user_msg_state(&m, VHOST_USER_SET_VRING_NUM, 1, 256), 20);
	CHECK_EQ(m.p.state.index, 1);
	CHECK_EQ(m.p.state.num, 256);

	CHECK_EQ(vhost_user_msg_addr(&m, 2, 0x1000, 0x3000, 0x2000), 52);
	memcpy(raw, &m, 52);
	/* index, flags, then desc, used, avail, log in that order */
	CHECK_EQ(raw[12], 2);
	CHECK_EQ(at64(raw + 20), 0x1000);
	CHECK_EQ(at64(raw + 28), 0x3000);
	CHECK_EQ(at64(raw + 36), 0x2000);
	CHECK_EQ(at64(raw + 44), 0);

	CHECK_EQ(vhost_user_msg_mem_table(&m, 0, r, 2), 12 + 8 + 64);
	CHECK_EQ(m.hdr.size, 72);
	CHECK_EQ(m.p.mem.nregions, 2);
	CHECK_EQ(m.p.mem.regions[1].guest_phys_addr, 1ull << 32);
	CHECK_EQ(m.p.mem.regions[1].mmap_offset, 0x1000);
	CHECK_EQ(vhost_user_msg_mem_table(&m, 0, r, 9), 0);
	CHECK_EQ(vhost_user_msg_mem_table(&m, 0, r, 0), 0);

	CHECK_EQ(vhost_user_msg_config(&m, VHOST_USER_GET_CONFIG, 0, 0, NULL, 60), 12 + 12 + 60);
	CHECK_EQ(m.p.config.size, 60);
	CHECK_EQ(vhost_user_msg_config(&m, VHOST_USER_SET_CONFIG, 0, 4, "ab", 2), 12 + 14);
	CHECK_EQ(m.p.config.offset, 4);
	CHECK(!memcmp(m.p.config.data, "ab", 2));
	CHECK_EQ(vhost_user_msg_config(&m, VHOST_USER_GET_CONFIG, 0, 0, NULL, 257), 0);
}

static struct vhost_user_hdr reply(uint32_t req, uint32_t flags, uint32_t size)
{
	return (struct vhost_user_hdr){ req, flags, size };
}

static void test_reply_checks(void)
{
	struct vhost_user_hdr ok = reply(VHOST_USER_GET_FEATURES, 1 | VHOST_USER_FLAG_REPLY, 8);
	struct vhost_user_hdr h;

	CHECK_EQ(vhost_user_check_reply_hdr(&ok, VHOST_USER_GET_FEATURES, 8, why, sizeof(why)), 0);
	h = ok;
	h.request = VHOST_USER_GET_QUEUE_NUM;
	CHECK_EQ(vhost_user_check_reply_hdr(&h, VHOST_USER_GET_FEATURES, 8, why, sizeof(why)), -EPROTO);
	CHECK_STR(why, "reply to GET_QUEUE_NUM, expected one to GET_FEATURES");
	h = ok;
	h.flags = 1;
	CHECK_EQ(vhost_user_check_reply_hdr(&h, VHOST_USER_GET_FEATURES, 8, why, sizeof(why)), -EPROTO);
	h = ok;
	h.flags = 2 | VHOST_USER_FLAG_REPLY;
	CHECK_EQ(vhost_user_check_reply_hdr(&h, VHOST_USER_GET_FEATURES, 8, why, sizeof(why)), -EPROTO);
	h = ok;
	h.size = 4;
	CHECK_EQ(vhost_user_check_reply_hdr(&h, VHOST_USER_GET_FEATURES, 8, why, sizeof(why)), -EPROTO);
	CHECK_STR(why, "reply of 4 bytes, expected 8");

	CHECK_EQ(vhost_user_reply_size(VHOST_USER_GET_FEATURES, 0), 8);
	CHECK_EQ(vhost_user_reply_size(VHOST_USER_GET_VRING_BASE, 8), 8);
	CHECK_EQ(vhost_user_reply_size(VHOST_USER_GET_CONFIG, 72), 72);
	CHECK_EQ(vhost_user_reply_size(VHOST_USER_GET_INFLIGHT_FD, 20), 20);
	CHECK_EQ(vhost_user_reply_size(VHOST_USER_SET_MEM_TABLE, 72), -1);

	CHECK_EQ(vhost_user_check_reply_fds(VHOST_USER_GET_FEATURES, 0, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_reply_fds(VHOST_USER_GET_FEATURES, 1, why, sizeof(why)), -EPROTO);
	CHECK_EQ(vhost_user_check_reply_fds(VHOST_USER_GET_INFLIGHT_FD, 1, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_reply_fds(VHOST_USER_GET_INFLIGHT_FD, 0, why, sizeof(why)), -EPROTO);
}

static void test_payload_checks(void)
{
	struct vhost_user_vring_state s = { 1, 17 };
	struct vhost_user_config c = { .offset = 0, .size = 60 };
	struct vhost_user_inflight in = { .mmap_size = 4096 };

	CHECK_EQ(vhost_user_check_ack(0, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_ack(1, why, sizeof(why)), -EPROTO);
	CHECK_EQ(vhost_user_check_queue_num(2, 16, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_queue_num(0, 16, why, sizeof(why)), -EPROTO);
	CHECK_EQ(vhost_user_check_queue_num(65535, 16, why, sizeof(why)), -EPROTO);
	CHECK_STR(why, "backend says 65535 queues, at most 16");
	CHECK_EQ(vhost_user_check_vring_base(&s, 1, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_vring_base(&s, 0, why, sizeof(why)), -EPROTO);
	s.num = 0x10000;
	CHECK_EQ(vhost_user_check_vring_base(&s, 1, why, sizeof(why)), -EPROTO);
	CHECK_EQ(vhost_user_check_config(&c, 0, 60, why, sizeof(why)), 0);
	CHECK_EQ(vhost_user_check_config(&c, 0, 40, why, sizeof(why)), -EPROTO);
	CHECK_EQ(vhost_user_check_inflight(&in, why, sizeof(why)), 0);
	in.mmap_size = 0;
	CHECK_EQ(vhost_user_check_inflight(&in, why, sizeof(why)), -EPROTO);
	in.mmap_size = (64ull << 20) + 1;
	CHECK_EQ(vhost_user_check_inflight(&in, why, sizeof(why)), -EPROTO);
	in.mmap_size = UINT64_MAX;
	CHECK_EQ(vhost_user_check_inflight(&in, why, sizeof(why)), -EPROTO);
}

static void test_backend_hdr(void)
{
	struct vhost_user_hdr h = reply(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 1, 0);

	CHECK_EQ(vhost_user_check_backend_hdr(&h, why, sizeof(why)), 0);
	h.flags = 1 | VHOST_USER_FLAG_REPLY;
	CHECK_EQ(vhost_user_check_backend_hdr(&h, why, sizeof(why)), -EPROTO);
	h.flags = 0;
	CHECK_EQ(vhost_user_check_backend_hdr(&h, why, sizeof(why)), -EPROTO);
	h.flags = 1;
	h.size = 100000;
	CHECK_EQ(vhost_user_check_backend_hdr(&h, why, sizeof(why)), -EPROTO);
}

int main(void)
{
	char buf[24];

	test_layout();
	test_builders();
	test_reply_checks();
	test_payload_checks();
	test_backend_hdr();
	CHECK_STR(vhost_user_request_name(VHOST_USER_SET_BACKEND_REQ_FD, buf, sizeof(buf)),
		  "SET_BACKEND_REQ_FD");
	CHECK_STR(vhost_user_request_name(99, buf, sizeof(buf)), "request 99");
	CHECK_STR(vhost_user_backend_request_name(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, buf,
						  sizeof(buf)), "CONFIG_CHANGE_MSG");
	CHECK_STR(vhost_user_backend_request_name(VHOST_USER_BACKEND_VRING_CALL, buf, sizeof(buf)),
		  "VRING_CALL");
	CHECK_STR(vhost_user_backend_request_name(99, buf, sizeof(buf)), "backend request 99");
	return check_report("test_vhost_user_proto");
}
