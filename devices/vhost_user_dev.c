/*
 * [[vhost_user]]: the config of a device whose backend is someone else's
 * process; the VMM's vhost-user frontend (vmm/link_vhost_user.h) is its
 * link. No model and no process of ours: the kind has .vhost_user.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <linux/virtio_ids.h>

#include "devices/share_syntax.h"
#include "devices/shared_dir.h"
#include "devices/vhost_user_dev.h"

#define VHU(f) offsetof(struct vhost_user_config, f)
#define FS_CONFIG_SIZE (SHARED_DIR_TAG_MAX + 4)
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* The config's names and their virtio device ids, index for index. */
static const char *const type_names[] = {
	"fs", "blk", "net", "vsock", "snd", "gpu", "input", "console", "rng", "scsi",
	"can", "i2c", "gpio", "scmi", NULL,
};
static const uint16_t type_ids[] = {
	VIRTIO_ID_FS, VIRTIO_ID_BLOCK, VIRTIO_ID_NET, VIRTIO_ID_VSOCK, VIRTIO_ID_SOUND,
	VIRTIO_ID_GPU, VIRTIO_ID_INPUT, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG, VIRTIO_ID_SCSI,
	VIRTIO_ID_CAN, VIRTIO_ID_I2C_ADAPTER, VIRTIO_ID_GPIO, VIRTIO_ID_SCMI,
};

#define NR_TYPES (sizeof(type_ids) / sizeof(type_ids[0]))
_Static_assert(NR_TYPES + 1 == sizeof(type_names) / sizeof(type_names[0]),
	       "one device id per type name");

enum { TYPE_FS = 0 };

uint16_t vhost_user_device_id(int type)
{
	return type >= 0 && (size_t)type < NR_TYPES ? type_ids[type] : 0;
}

const char *vhost_user_fs_tag(const struct vhost_user_config *cfg)
{
	return cfg->type == TYPE_FS ? cfg->tag : NULL;
}

static int check_power_of_two(const void *value, char *why, size_t len)
{
	uint64_t n = *(const uint64_t *)value;

	if (n & (n - 1)) {
		snprintf(why, len, "must be a power of two, got %llu", (unsigned long long)n);
		return -1;
	}
	return 0;
}

static int check_tag(const void *value, char *why, size_t len)
{
	return share_check_tag(*(char *const *)value, why, len);
}

/* The VMM connects from its own directory, not the config file's. */
static int check_socket(const void *value, char *why, size_t len)
{
	if (**(char *const *)value == '/')
		return 0;
	snprintf(why, len, "must be an absolute path");
	return -1;
}

static const struct cfg_key vhost_user_keys[] = {
	{ "type", CFG_CHOICE, VHU(type), 0, NULL, 0, 0, type_names,
	  "The virtio device: `\"fs\"`, `\"blk\"`, `\"net\"`, `\"vsock\"`, `\"snd\"`, `\"gpu\"`, "
	  "`\"input\"`, `\"console\"`, `\"rng\"`, `\"scsi\"`, `\"can\"`, `\"i2c\"`, `\"gpio\"` "
	  "or `\"scmi\"`.", NULL },
	{ "socket", CFG_STRING, VHU(socket), 0, NULL, 0, SOCKET_PATH_MAX, NULL,
	  "The backend's vhost-user socket, an absolute path of at most 107 bytes; someone "
	  "else starts the backend (it need not exist when the config is read).", check_socket },
	{ "queues", CFG_UINT, VHU(queues), 0, "0", 0, VHOST_USER_DEV_MAX_QUEUES, NULL,
	  "Queues; `0`: ask the backend (`GET_QUEUE_NUM`, with the `MQ` protocol feature), "
	  "else the device type's default.", NULL },
	{ "queue_size", CFG_UINT, VHU(queue_size), 0, "256", 1, 32768, NULL,
	  "Entries per queue, a power of two.", check_power_of_two },
	{ "tag", CFG_STRING, VHU(tag), 0, "none", 0, SHARED_DIR_TAG_MAX, NULL,
	  "`type = \"fs\"` only: the tag in the device config when the backend does not "
	  "provide one; as a share's tag, and unique among them.", check_tag },
	{ .name = NULL },
};

static void vhost_user_check(const void *cfg, struct cfg_check *chk)
{
	const struct vhost_user_config *v = cfg;

	if (v->tag && v->type != TYPE_FS)
		chk->report(chk, "tag: only for type = \"fs\"");
}

static int vhost_user_target(const void *cfg, const struct device_env *env,
			     struct vhost_user_target *t, char *err, size_t errlen)
{
	const struct vhost_user_config *v = cfg;
	uint32_t one = htole32(1);

	(void)env;
	memset(t, 0, sizeof(*t));
	t->device_id = vhost_user_device_id(v->type);
	if (!t->device_id || !v->socket || v->queue_size > 32768 ||
	    v->queues > VHOST_USER_DEV_MAX_QUEUES) {
		snprintf(err, errlen, "vhost_user: invalid config");
		return -EINVAL;
	}
	t->socket = v->socket;
	t->nr_queues = (unsigned)v->queues;
	t->queue_size = (uint16_t)v->queue_size;
	if (v->type == TYPE_FS && v->tag) {
		memcpy(t->config, v->tag, strnlen(v->tag, SHARED_DIR_TAG_MAX));
		memcpy(t->config + SHARED_DIR_TAG_MAX, &one, sizeof(one));
		t->config_size = FS_CONFIG_SIZE;
	}
	return 0;
}

const struct device_kind vhost_user_kind = {
	.section = "vhost_user",
	.prefix = "vhu",
	.max = VHOST_USER_DEV_MAX,
	.plural = "vhost-user devices",
	.config_size = sizeof(struct vhost_user_config),
	.keys = vhost_user_keys,
	.doc = "a virtio device served by a vhost-user backend someone else started",
	.check = vhost_user_check,
	.vhost_user = vhost_user_target,
};
