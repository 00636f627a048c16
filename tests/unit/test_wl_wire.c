/*
 * vmsilo-wl-test's wire code on the host: the Wayland encoder and decoder
 * (guest-agent/wayland/wl_wire.c) against hand-made bytes, the cross-domain
 * commands and channel-ring parser (guest-agent/wayland/cd_msg.c) against the
 * protocol's offsets, the virtgpu ioctl numbers against the kernel's, and
 * the pattern and checksum the host-side checks recompute.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "guest-agent/wayland/cd_msg.h"
#include "tests/guest/fnv1a.h"
#include "tests/guest/pattern.h"
#include "guest-agent/wayland/virtgpu_uapi.h"
#include "tests/guest/wl_proto.h"
#include "guest-agent/wayland/wl_wire.h"

static uint32_t u32_at(const void *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)buf + off, 4);
	return v;
}

static void test_header_and_new_id(void)
{
	uint8_t buf[64];
	struct wl_out m;
	static const uint32_t want[] = { 1, 12u << 16 | WL_DISPLAY_GET_REGISTRY, 2 };

	wl_out_begin(&m, buf, sizeof(buf), 1, WL_DISPLAY_GET_REGISTRY);
	wl_out_new_id(&m, 2);
	CHECK_EQ(wl_out_end(&m), 12);
	CHECK(!memcmp(buf, want, sizeof(want)));
}

/* wl_registry.bind(7, "wl_compositor", 4, 3): the untyped new_id's three parts. */
static void test_bind(void)
{
	uint8_t buf[64], want[40] = { 0 };
	struct wl_out m;
	uint32_t words[] = { 3, 40u << 16 | WL_REGISTRY_BIND, 7, 14 };

	memcpy(want, words, sizeof(words));
	memcpy(want + 16, "wl_compositor", 14);	/* 13 chars, NUL, 2 bytes of padding */
	words[0] = 4;
	words[1] = 3;
	memcpy(want + 32, words, 8);
	wl_out_begin(&m, buf, sizeof(buf), 3, WL_REGISTRY_BIND);
	wl_out_u32(&m, 7);
	wl_out_string(&m, "wl_compositor");
	wl_out_u32(&m, 4);
	wl_out_new_id(&m, 3);
	CHECK_EQ(wl_out_end(&m), 40);
	CHECK(!memcmp(buf, want, sizeof(want)));
}

static size_t one_string(uint8_t *buf, size_t cap, const char *s)
{
	struct wl_out m;

	memset(buf, 0xee, cap);
	wl_out_begin(&m, buf, cap, 5, 0);
	wl_out_string(&m, s);
	return wl_out_end(&m);
}

static void test_string_padding(void)
{
	uint8_t buf[64];

	CHECK_EQ(one_string(buf, sizeof(buf), NULL), 12);
	CHECK_EQ(u32_at(buf, 8), 0);
	CHECK_EQ(one_string(buf, sizeof(buf), ""), 16);
	CHECK_EQ(u32_at(buf, 8), 1);
	CHECK_EQ(u32_at(buf, 12), 0);
	CHECK_EQ(one_string(buf, sizeof(buf), "abc"), 16);
	CHECK_EQ(u32_at(buf, 8), 4);
	CHECK(!memcmp(buf + 12, "abc", 4));
	CHECK_EQ(one_string(buf, sizeof(buf), "abcd"), 20);
	CHECK_EQ(u32_at(buf, 8), 5);
	CHECK(!memcmp(buf + 12, "abcd\0\0\0", 8));
}

static void test_array_fixed_i32(void)
{
	uint8_t buf[64];
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), 9, 2);
	wl_out_array(&m, "\1\2\3\4\5", 5);
	wl_out_fixed(&m, 1.5);
	wl_out_fixed(&m, -1.0);
	wl_out_i32(&m, -2);
	CHECK_EQ(wl_out_end(&m), 8 + 12 + 12);
	CHECK_EQ(u32_at(buf, 8), 5);
	CHECK(!memcmp(buf + 12, "\1\2\3\4\5\0\0\0", 8));
	CHECK_EQ((int32_t)u32_at(buf, 20), 384);
	CHECK_EQ((int32_t)u32_at(buf, 24), -256);
	CHECK_EQ((int32_t)u32_at(buf, 28), -2);
}

static void test_overflow(void)
{
	uint8_t buf[16], big[WL_MAX_MESSAGE + 64];
	char *long_string = malloc(WL_MAX_MESSAGE + 1);
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), 1, 0);
	wl_out_string(&m, "too long for sixteen");
	CHECK_EQ(wl_out_end(&m), 0);
	wl_out_begin(&m, buf, 4, 1, 0);
	CHECK_EQ(wl_out_end(&m), 0);
	memset(long_string, 'x', WL_MAX_MESSAGE);
	long_string[WL_MAX_MESSAGE] = '\0';
	wl_out_begin(&m, big, sizeof(big), 1, 0);
	wl_out_string(&m, long_string);
	CHECK_EQ(wl_out_end(&m), 0);
	wl_out_begin(&m, big, sizeof(big), 1, 0);
	wl_out_array(&m, long_string, WL_MAX_MESSAGE - 12);
	CHECK_EQ(wl_out_end(&m), WL_MAX_MESSAGE);
	wl_out_u32(&m, 1);
	CHECK_EQ(wl_out_end(&m), 0);
	free(long_string);
}

static void put_header(uint8_t *buf, uint32_t object, uint32_t size, uint16_t opcode)
{
	uint32_t words[2] = { object, size << 16 | opcode };

	memcpy(buf, words, 8);
}

static void test_in_header(void)
{
	uint8_t buf[16] = { 0 };
	struct wl_hdr h;

	CHECK_EQ(wl_in_header(buf, 7, &h), 0);
	put_header(buf, 4, 16, 3);
	CHECK_EQ(wl_in_header(buf, 8, &h), 0);
	CHECK_EQ(wl_in_header(buf, 16, &h), 1);
	CHECK_EQ(h.object, 4);
	CHECK_EQ(h.opcode, 3);
	CHECK_EQ(h.size, 16);
	put_header(buf, 4, 4, 0);
	CHECK_EQ(wl_in_header(buf, 16, &h), -1);
	put_header(buf, 4, 10, 0);
	CHECK_EQ(wl_in_header(buf, 16, &h), -1);
	put_header(buf, 4, WL_MAX_MESSAGE + 4, 0);
	CHECK_EQ(wl_in_header(buf, 16, &h), -1);
}

/* wl_registry.global encoded by us, decoded again. */
static void test_round_trip(void)
{
	uint8_t buf[128];
	struct wl_out m;
	struct wl_args a;
	struct wl_hdr h;
	uint32_t len;
	const void *array;

	wl_out_begin(&m, buf, sizeof(buf), 2, WL_REGISTRY_GLOBAL);
	wl_out_u32(&m, 9);
	wl_out_string(&m, "xdg_wm_base");
	wl_out_u32(&m, 5);
	wl_out_string(&m, NULL);
	wl_out_array(&m, "ab", 2);
	wl_out_fixed(&m, -2.25);
	CHECK_EQ(wl_in_header(buf, wl_out_end(&m), &h), 1);
	wl_args_init(&a, buf, h.size);
	CHECK_EQ(wl_arg_u32(&a), 9);
	CHECK_STR(wl_arg_string(&a), "xdg_wm_base");
	CHECK_EQ(wl_arg_u32(&a), 5);
	CHECK(wl_arg_string(&a) == NULL);
	CHECK(!a.bad);
	array = wl_arg_array(&a, &len);
	CHECK(array && len == 2 && !memcmp(array, "ab", 2));
	CHECK(wl_arg_fixed(&a) == -2.25);
	CHECK(!a.bad);
	CHECK_EQ(a.left, 0);
	wl_arg_u32(&a);
	CHECK(a.bad);
}

/* Strings the compositor could send wrong: each one sets bad. */
static void test_bad_strings(void)
{
	uint8_t buf[32] = { 0 };
	struct wl_args a;
	uint32_t len;

	put_header(buf, 2, 16, 0);
	memcpy(buf + 8, &(uint32_t){ 4 }, 4);
	memcpy(buf + 12, "abcd", 4);			/* no NUL */
	wl_args_init(&a, buf, 16);
	CHECK(wl_arg_string(&a) == NULL && a.bad);
	memcpy(buf + 12, "a\0c\0", 4);			/* a NUL inside */
	wl_args_init(&a, buf, 16);
	CHECK(wl_arg_string(&a) == NULL && a.bad);
	memcpy(buf + 8, &(uint32_t){ 9 }, 4);		/* beyond the message */
	wl_args_init(&a, buf, 16);
	CHECK(wl_arg_string(&a) == NULL && a.bad);
	memcpy(buf + 8, &(uint32_t){ 0xffffffff }, 4);
	wl_args_init(&a, buf, 16);
	CHECK(wl_arg_string(&a) == NULL && a.bad);
	wl_args_init(&a, buf, 16);
	CHECK(wl_arg_array(&a, &len) == NULL && a.bad && len == 0);
	wl_args_init(&a, buf, 4);
	CHECK(a.bad);
}

static void test_cd_init(void)
{
	uint8_t buf[64];
	struct cross_domain_hdr h;

	CHECK_EQ(cd_init(buf, sizeof(buf), 20, 11, 12, CROSS_DOMAIN_CHANNEL_WAYLAND), 20);
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(h.cmd, CROSS_DOMAIN_CMD_INIT);
	CHECK_EQ(h.cmd_size, 20);
	CHECK_EQ(u32_at(buf, 8), 11);
	CHECK_EQ(u32_at(buf, 12), 12);
	CHECK_EQ(u32_at(buf, 16), CROSS_DOMAIN_CHANNEL_WAYLAND);
	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(cd_init(buf, sizeof(buf), 36, 11, 12, CROSS_DOMAIN_CHANNEL_WAYLAND), 36);
	CHECK_EQ(u32_at(buf, 16), CROSS_DOMAIN_CHANNEL_WAYLAND);
	for (int i = 20; i < 36; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(cd_init(buf, sizeof(buf), 16, 11, 12, CROSS_DOMAIN_CHANNEL_WAYLAND), 16);
	CHECK_EQ(u32_at(buf, 8), 11);
	CHECK_EQ(u32_at(buf, 12), CROSS_DOMAIN_CHANNEL_WAYLAND);
	CHECK_EQ(cd_init(buf, sizeof(buf), 24, 11, 12, 1), 0);
	CHECK_EQ(cd_init(buf, 19, 20, 11, 12, 1), 0);
}

static void test_cd_poll_and_query(void)
{
	uint8_t buf[32];
	struct cross_domain_hdr h;

	CHECK_EQ(cd_poll(buf, sizeof(buf)), 16);
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(h.cmd, CROSS_DOMAIN_CMD_POLL);
	CHECK_EQ(h.ring_idx, CROSS_DOMAIN_CHANNEL_RING);
	CHECK_EQ(h.cmd_size, 16);
	CHECK_EQ(cd_image_req(buf, sizeof(buf), 200, 120, DRM_FORMAT_XRGB8888, 0x810), 24);
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(h.cmd, CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS);
	CHECK_EQ(h.cmd_size, 24);
	CHECK_EQ(u32_at(buf, 8), 200);
	CHECK_EQ(u32_at(buf, 12), 120);
	CHECK_EQ(u32_at(buf, 16), 0x34325258);
	CHECK_EQ(u32_at(buf, 20), 0x810);
	CHECK_EQ(cd_image_req(buf, 23, 1, 1, 1, 0), 0);
}

static void test_cd_send(void)
{
	static uint8_t buf[70000], data[65536];
	struct cd_item items[2] = {
		{ 7, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 4096 },
		{ 0x80000001u, CROSS_DOMAIN_ID_TYPE_READ_PIPE, 0 },
	};
	struct cross_domain_hdr h;

	CHECK_EQ(cd_send(buf, sizeof(buf), items, 2, "wayland!", 8), 360);
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(h.cmd, CROSS_DOMAIN_CMD_SEND);
	CHECK_EQ(h.cmd_size, 360);
	CHECK_EQ(u32_at(buf, 8), 2);
	CHECK_EQ(u32_at(buf, 12), 8);
	CHECK_EQ(u32_at(buf, 16), 7);
	CHECK_EQ(u32_at(buf, 20), 0x80000001u);
	CHECK_EQ(u32_at(buf, 128), CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB);
	CHECK_EQ(u32_at(buf, 132), CROSS_DOMAIN_ID_TYPE_READ_PIPE);
	CHECK_EQ(u32_at(buf, 240), 4096);
	CHECK(!memcmp(buf + 352, "wayland!", 8));
	CHECK_EQ(cd_send(buf, sizeof(buf), items, 29, "", 0), 0);
	CHECK_EQ(cd_send(buf, sizeof(buf), NULL, 0, data, 65536 - 352), 0);
	CHECK_EQ(cd_send(buf, sizeof(buf), NULL, 0, data, 65535 - 352), 65535);
	CHECK_EQ(cd_send(buf, 359, items, 2, "wayland!", 8), 0);
}

static void test_cd_write(void)
{
	uint8_t buf[64];
	struct cross_domain_hdr h;

	CHECK_EQ(cd_write(buf, sizeof(buf), 9, true, "abc", 3), 27);
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(h.cmd, CROSS_DOMAIN_CMD_WRITE);
	CHECK_EQ(h.cmd_size, 27);
	CHECK_EQ(u32_at(buf, 8), 9);
	CHECK_EQ(u32_at(buf, 12), 1);
	CHECK_EQ(u32_at(buf, 16), 3);
	CHECK(!memcmp(buf + 24, "abc", 3));
	CHECK_EQ(cd_write(buf, sizeof(buf), 9, false, NULL, 0), 24);
	CHECK_EQ(u32_at(buf, 12), 0);
	CHECK_EQ(cd_write(buf, 26, 9, true, "abc", 3), 0);
}

static void test_cd_parse_receive(void)
{
	static uint8_t ring[CROSS_DOMAIN_RING_SIZE];
	struct cross_domain_send_receive r = { .hdr.cmd = CROSS_DOMAIN_CMD_RECEIVE };
	struct cd_msg m;
	const char *why;

	r.num_identifiers = 2;
	r.opaque_data_size = 12;
	r.identifiers[1] = 5;
	r.identifier_types[1] = CROSS_DOMAIN_ID_TYPE_WRITE_PIPE;
	r.identifier_sizes[0] = 4196;
	memcpy(ring, &r, sizeof(r));
	memcpy(ring + sizeof(r), "twelve bytes", 12);
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), 0);
	CHECK_EQ(m.cmd, CROSS_DOMAIN_CMD_RECEIVE);
	CHECK_EQ(m.n_items, 2);
	CHECK_EQ(m.items[0].size, 4196);
	CHECK_EQ(m.items[1].id, 5);
	CHECK_EQ(m.items[1].type, CROSS_DOMAIN_ID_TYPE_WRITE_PIPE);
	CHECK_EQ(m.len, 12);
	CHECK(m.data == ring + 352);
	r.opaque_data_size = CROSS_DOMAIN_RECEIVE_MAX_DATA;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), 0);
	r.opaque_data_size = CROSS_DOMAIN_RECEIVE_MAX_DATA + 1;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), -1);
	r.opaque_data_size = 0;
	r.num_identifiers = 29;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), -1);
	r.num_identifiers = 0;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, 351, &m, &why), -1);
}

static void test_cd_parse_read(void)
{
	static uint8_t ring[CROSS_DOMAIN_RING_SIZE];
	struct cross_domain_read_write r = { .hdr.cmd = CROSS_DOMAIN_CMD_READ };
	struct cd_msg m;
	const char *why;

	r.identifier = 0x80000001u;
	r.hang_up = 1;
	r.opaque_data_size = CROSS_DOMAIN_READ_MAX_DATA;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), 0);
	CHECK_EQ(m.cmd, CROSS_DOMAIN_CMD_READ);
	CHECK_EQ(m.id, 0x80000001u);
	CHECK(m.hang_up);
	CHECK_EQ(m.len, 4072);
	CHECK(m.data == ring + 24);
	r.opaque_data_size++;
	memcpy(ring, &r, sizeof(r));
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), -1);
	ring[0] = CROSS_DOMAIN_CMD_SEND;
	CHECK_EQ(cd_parse(ring, sizeof(ring), &m, &why), -1);
	CHECK_EQ(cd_parse(ring, 7, &m, &why), -1);
}

/* The numbers strace prints for the kernel's own definitions on x86_64. */
static void test_ioctl_numbers(void)
{
	CHECK_EQ(VGPU_IOCTL_VERSION, 0xc0406400ul);
	CHECK_EQ(VGPU_IOCTL_GEM_CLOSE, 0x40086409ul);
	CHECK_EQ(VGPU_IOCTL_MAP, 0xc0106441ul);
	CHECK_EQ(VGPU_IOCTL_EXECBUFFER, 0xc0286442ul);
	CHECK_EQ(VGPU_IOCTL_GETPARAM, 0xc0106443ul);
	CHECK_EQ(VGPU_IOCTL_RESOURCE_INFO, 0xc0106445ul);
	CHECK_EQ(VGPU_IOCTL_WAIT, 0xc0086448ul);
	CHECK_EQ(VGPU_IOCTL_GET_CAPS, 0xc0186449ul);
	CHECK_EQ(VGPU_IOCTL_CREATE_BLOB, 0xc030644aul);
	CHECK_EQ(VGPU_IOCTL_CONTEXT_INIT, 0xc010644bul);
}

static void test_pattern_and_sum(void)
{
	CHECK_EQ(pattern_pixel(0, 200), 0xffff0000u);
	CHECK_EQ(pattern_pixel(49, 200), 0xffff0000u);
	CHECK_EQ(pattern_pixel(50, 200), 0xff00ff00u);
	CHECK_EQ(pattern_pixel(100, 200), 0xff0000ffu);
	CHECK_EQ(pattern_pixel(150, 200), 0xffffffffu);
	CHECK_EQ(pattern_pixel(199, 200), 0xffffffffu);
	CHECK_EQ(pattern_pixel(16383, 16384), 0xffffffffu);
	CHECK_EQ(fnv1a(FNV1A_INIT, "", 0), 0x811c9dc5u);
	CHECK_EQ(fnv1a(FNV1A_INIT, "a", 1), 0xe40c292cu);
	CHECK_EQ(fnv1a(FNV1A_INIT, "foobar", 6), 0xbf9cf968u);
	CHECK_EQ(fnv1a(fnv1a(FNV1A_INIT, "foo", 3), "bar", 3), 0xbf9cf968u);
}

int main(void)
{
	test_header_and_new_id();
	test_bind();
	test_string_padding();
	test_array_fixed_i32();
	test_overflow();
	test_in_header();
	test_round_trip();
	test_bad_strings();
	test_cd_init();
	test_cd_poll_and_query();
	test_cd_send();
	test_cd_write();
	test_cd_parse_receive();
	test_cd_parse_read();
	test_ioctl_numbers();
	test_pattern_and_sum();
	return check_report("test_wl_wire");
}
