/*
 * The control socket's screenshot command against a fake GPU link: the
 * device command it sends (GPU_CMD_SCREENSHOT and the scanout), the reply
 * it builds from the device's answer (the file in the runtime directory,
 * width, height), and the clear errors: no GPU, a bad scanout, a scanout
 * showing nothing, a dead device, a device replying garbage.
 */
#include <errno.h>

#include "check.h"
#include "devices/gpu.h"
#include "vmm/control.h"
#include "vmm/json.h"
#include "vmm/vm.h"

static struct gpu_cmd got;
static unsigned got_len;
static int answer_rc;
static struct gpu_cmd_reply answer = { 1280, 800 };
static unsigned answer_len = sizeof(answer);

static int fake_command(struct vdev_link *link, const void *req, unsigned len, void *reply,
			unsigned *reply_len)
{
	(void)link;
	got_len = len;
	memcpy(&got, req, len < sizeof(got) ? len : sizeof(got));
	if (answer_rc)
		return answer_rc;
	CHECK(*reply_len >= answer_len);
	memcpy(reply, &answer, answer_len);
	*reply_len = answer_len;
	return 0;
}

static const struct vdev_link_ops fake_ops = { .command = fake_command };
static struct vdev_link fake_link = { .ops = &fake_ops, .name = "gpu0" };
static struct vm_device gpu = { .link = &fake_link, .name = "gpu0" };
static struct vm_device blk = { .link = &fake_link, .name = "blk0" };
static struct vm_device *devices[3] = { &blk, &gpu };
static struct runtime_dir rd = { .path = "/run/vmsilo/testvm" };
static struct vm_host host = { .rundir = &rd };
static struct vm vm = { .devices = devices, .nr_devices = 2, .host = &host };
static struct control ctl = { .vm = &vm };

static const char *ask(const char *line)
{
	static char reply[CONTROL_REPLY_MAX];
	size_t n = control_handle(&ctl, NULL, line, strlen(line), reply, sizeof(reply));

	CHECK(n > 0 && reply[n - 1] == '\n');
	reply[n ? n - 1 : 0] = '\0';
	return reply;
}

static void test_screenshot(void)
{
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\",\"scanout\":0}"),
		  "{\"version\":1,\"ok\":true,\"path\":\"/run/vmsilo/testvm/gpu0-scanout0.ppm\","
		  "\"width\":1280,\"height\":800}");
	CHECK_EQ(got_len, sizeof(got));
	CHECK_EQ(got.op, GPU_CMD_SCREENSHOT);
	CHECK_EQ(got.scanout, 0);
	/* scanout defaults to 0; another is passed on and named in the file. */
	answer = (struct gpu_cmd_reply){ 640, 480 };
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\",\"scanout\":3}"),
		  "{\"version\":1,\"ok\":true,\"path\":\"/run/vmsilo/testvm/gpu0-scanout3.ppm\","
		  "\"width\":640,\"height\":480}");
	CHECK_EQ(got.scanout, 3);
	got.scanout = 99;
	CHECK(strstr(ask("{\"version\":1,\"command\":\"screenshot\"}"), "gpu0-scanout0.ppm"));
	CHECK_EQ(got.scanout, 0);
}

static void test_errors(void)
{
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\",\"scanout\":16}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"\\\"scanout\\\" is an integer, 0..15\"}");
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\",\"scanout\":-1}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"\\\"scanout\\\" is an integer, 0..15\"}");
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\",\"scanout\":\"0\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"\\\"scanout\\\" is an integer, 0..15\"}");
	answer_rc = -ENOENT;
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"screenshot: scanout 0 shows nothing "
		  "(disabled, or no resource set)\"}");
	answer_rc = -EPIPE;
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"screenshot: gpu0 is not running (its "
		  "process died or was stopped; see the log)\"}");
	answer_rc = -EIO;
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"screenshot: gpu0 refused: "
		  "Input/output error\"}");
	answer_rc = 0;
	/* A hostile device's reply: short, empty or beyond any scanout. */
	answer_len = 4;
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"screenshot: gpu0 sent a malformed reply\"}");
	answer_len = sizeof(answer);
	answer = (struct gpu_cmd_reply){ GPU_MAX_WIDTH + 1, 800 };
	CHECK(strstr(ask("{\"version\":1,\"command\":\"screenshot\"}"), "malformed reply"));
	answer = (struct gpu_cmd_reply){ 0, 0 };
	CHECK(strstr(ask("{\"version\":1,\"command\":\"screenshot\"}"), "malformed reply"));
	/* No GPU at all. */
	vm.nr_devices = 1;
	CHECK_STR(ask("{\"version\":1,\"command\":\"screenshot\"}"),
		  "{\"version\":1,\"ok\":false,\"error\":\"this VM has no GPU (add [gpu])\"}");
	vm.nr_devices = 2;
	CHECK(strstr(ask("{\"version\":1,\"command\":\"snapshot\"}"),
		     "pause, resume, balloon, balloon_stats, subscribe, screenshot)"));
}

int main(void)
{
	test_screenshot();
	test_errors();
	return check_report("test_control_gpu");
}
