/*
 * The EDID of a virtio-gpu scanout (VESA E-EDID 1.4, the 128-byte base
 * block): the configured mode as the preferred detailed timing (60 Hz,
 * reduced blanking, 96 dpi for the physical size), sRGB colours and the
 * monitor name. A mode wider or taller than a detailed timing can hold
 * (4095) gets none; the driver still has GET_DISPLAY_INFO's mode.
 */
#include <string.h>

#include "devices/gpu_proto.h"

#define DTD_MAX		4095u
#define HBLANK		160u
#define HFRONT		48u
#define HSYNC		32u
#define VFRONT		3u
#define VSYNC		5u
#define REFRESH		60u
#define DPI		96u

/* "VMS": three letters of five bits each (A = 1), big-endian. */
#define MANUFACTURER	((('V' - '@') << 10) | (('M' - '@') << 5) | ('S' - '@'))

static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };

static uint32_t mm_of(uint32_t px)
{
	return (uint32_t)((uint64_t)px * 254 / (DPI * 10));
}

/* sRGB's primaries and D65 white, x and y in 1/1024ths. */
static void chromaticity(uint8_t *p)
{
	static const uint16_t xy[8] = { 655, 338, 307, 614, 154, 61, 320, 337 };

	p[0] = (uint8_t)((xy[0] & 3) << 6 | (xy[1] & 3) << 4 | (xy[2] & 3) << 2 | (xy[3] & 3));
	p[1] = (uint8_t)((xy[4] & 3) << 6 | (xy[5] & 3) << 4 | (xy[6] & 3) << 2 | (xy[7] & 3));
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(xy[i] >> 2);
}

static void detailed_timing(uint8_t *d, uint32_t w, uint32_t h)
{
	uint32_t vblank = VFRONT + VSYNC + (h / 36 > 6 ? h / 36 : 6);
	uint64_t clock = ((uint64_t)(w + HBLANK) * (h + vblank) * REFRESH + 9999) / 10000;
	uint32_t wmm = mm_of(w), hmm = mm_of(h);

	if (clock > 0xffff)
		clock = 0xffff;	/* 655 MHz: a lower refresh rate, never a wrong size */
	d[0] = (uint8_t)clock;
	d[1] = (uint8_t)(clock >> 8);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)HBLANK;
	d[4] = (uint8_t)((w >> 8) << 4 | HBLANK >> 8);
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)((h >> 8) << 4 | vblank >> 8);
	d[8] = (uint8_t)HFRONT;
	d[9] = (uint8_t)HSYNC;
	d[10] = (uint8_t)((VFRONT & 0xf) << 4 | (VSYNC & 0xf));
	d[11] = (uint8_t)((HFRONT >> 8) << 6 | (HSYNC >> 8) << 4 | (VFRONT >> 4) << 2 | VSYNC >> 4);
	d[12] = (uint8_t)wmm;
	d[13] = (uint8_t)hmm;
	d[14] = (uint8_t)((wmm >> 8 & 0xf) << 4 | (hmm >> 8 & 0xf));
	d[17] = 0x1e;	/* digital separate sync, both polarities positive */
}

/* A display descriptor: 0, 0, 0, tag, 0, then 13 bytes of text, or of
 * zeroes (text NULL: the dummy descriptor). */
static void descriptor(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = text ? strlen(text) : 0;

	d[3] = tag;
	if (!text)
		return;
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n);
	if (n < 13)
		d[5 + n] = '\n';
}

void gpu_edid(uint8_t out[GPU_EDID_SIZE], uint32_t width, uint32_t height, uint32_t serial)
{
	uint32_t wcm = mm_of(width) / 10, hcm = mm_of(height) / 10;
	uint8_t sum = 0;

	memset(out, 0, GPU_EDID_SIZE);
	memcpy(out, header, sizeof(header));
	out[8] = MANUFACTURER >> 8;
	out[9] = MANUFACTURER & 0xff;
	out[10] = 0x01;			/* product code */
	for (int i = 0; i < 4; i++)
		out[12 + i] = (uint8_t)(serial >> 8 * i);
	out[16] = 1;			/* week */
	out[17] = 2026 - 1990;		/* year */
	out[18] = 1;
	out[19] = 4;
	out[20] = 0x80;			/* digital input */
	out[21] = (uint8_t)(wcm ? (wcm > 255 ? 255 : wcm) : 1);
	out[22] = (uint8_t)(hcm ? (hcm > 255 ? 255 : hcm) : 1);
	out[23] = 120;			/* gamma 2.2 */
	out[24] = 0x06;			/* sRGB default, preferred timing is native */
	chromaticity(out + 25);
	memset(out + 38, 0x01, 16);	/* no standard timings */
	if (width && height && width <= DTD_MAX && height <= DTD_MAX)
		detailed_timing(out + 54, width, height);
	else
		descriptor(out + 54, 0x10, NULL);
	descriptor(out + 72, 0xfc, "vmsilo");
	descriptor(out + 90, 0x10, NULL);
	descriptor(out + 108, 0x10, NULL);
	for (unsigned i = 0; i < GPU_EDID_SIZE - 1; i++)
		sum = (uint8_t)(sum + out[i]);
	out[127] = (uint8_t)(0x100 - sum);
}
