// vmsilo-gl-check: renders a known image with OpenGL ES 2 into a
// framebuffer object and reads it back, in a guest whose Mesa drives
// virtio-gpu through virgl (EGL's surfaceless platform picks the render
// node). Left half: a clear colour; right half: a shader gradient whose
// exact value per pixel is known. Prints
//   VMSILO gl-vendor=... / gl-renderer=... / gl-version=...
//   VMSILO gl-pixels=N gl-mismatch=M [gl-first-bad=x,y:got/want]
// and exits 0 only when every pixel is within 1 LSB per channel.
// With --frames N it then draws and reads back the same image N times more,
// each frame checked, and prints
//   VMSILO gl-bench frames=N seconds=S fps=F
// the fixed work per frame of tests/bench/gl.sh: a submitted command
// stream, a fence waited for and a 16 KiB transfer back, as an
// application's frame costs the VMM.
// Dynamically linked: it runs on the host userland the rig's guests see.
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIZE 64
#define HALF (SIZE / 2)

static const uint8_t clear_rgba[4] = { 51, 102, 153, 255 };

static const char vertex_src[] = "attribute vec2 pos;\n"
				 "void main() { gl_Position = vec4(pos, 0.0, 1.0); }\n";
// One step of 255/64 a pixel along x, of 255/64 along y: every pixel's
// value is known, so the readback checks the shader ran, not only a clear.
static const char fragment_src[] = "precision mediump float;\n"
				   "void main() {\n"
				   "  gl_FragColor = vec4(gl_FragCoord.x / 64.0,\n"
				   "                      gl_FragCoord.y / 64.0, 0.25, 1.0);\n"
				   "}\n";

static int fail(const char *what)
{
	printf("VMSILO gl-error=%s egl=0x%x gl=0x%x\n", what, (unsigned)eglGetError(),
	       (unsigned)glGetError());
	return 1;
}

static EGLDisplay open_display(void)
{
	PFNEGLGETPLATFORMDISPLAYEXTPROC get_display =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	EGLDisplay dpy;
	EGLint major, minor;

	if (!get_display)
		return EGL_NO_DISPLAY;
	dpy = get_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
	if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor))
		return EGL_NO_DISPLAY;
	printf("VMSILO egl-version=%d.%d\n", major, minor);
	return dpy;
}

static EGLContext make_context(EGLDisplay dpy)
{
	static const EGLint config_attrs[] = { EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT,
					       EGL_SURFACE_TYPE, 0, EGL_NONE };
	static const EGLint ctx_attrs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	EGLConfig config;
	EGLint n = 0;
	EGLContext ctx;

	if (!eglBindAPI(EGL_OPENGL_ES_API) ||
	    !eglChooseConfig(dpy, config_attrs, &config, 1, &n) || n < 1)
		return EGL_NO_CONTEXT;
	ctx = eglCreateContext(dpy, config, EGL_NO_CONTEXT, ctx_attrs);
	if (ctx != EGL_NO_CONTEXT && !eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx))
		return EGL_NO_CONTEXT;
	return ctx;
}

static GLuint compile(GLenum type, const char *src)
{
	GLuint s = glCreateShader(type);
	GLint ok = 0;
	char log[512] = "";

	glShaderSource(s, 1, &src, NULL);
	glCompileShader(s);
	glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
	if (!ok) {
		glGetShaderInfoLog(s, sizeof(log), NULL, log);
		printf("VMSILO gl-shader-log=%s\n", log);
		return 0;
	}
	return s;
}

static GLuint make_program(void)
{
	GLuint vs = compile(GL_VERTEX_SHADER, vertex_src);
	GLuint fs = compile(GL_FRAGMENT_SHADER, fragment_src);
	GLuint p;
	GLint ok = 0;

	if (!vs || !fs)
		return 0;
	p = glCreateProgram();
	glAttachShader(p, vs);
	glAttachShader(p, fs);
	glBindAttribLocation(p, 0, "pos");
	glLinkProgram(p);
	glGetProgramiv(p, GL_LINK_STATUS, &ok);
	return ok ? p : 0;
}

static int make_framebuffer(void)
{
	GLuint tex, fbo;

	glGenTextures(1, &tex);
	glBindTexture(GL_TEXTURE_2D, tex);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, SIZE, SIZE, 0, GL_RGBA, GL_UNSIGNED_BYTE, NULL);
	glGenFramebuffers(1, &fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
	return glCheckFramebufferStatus(GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE;
}

// The right half: a quad from x = 0 (clip space) to the right edge.
static void draw(GLuint program)
{
	static const GLfloat quad[] = { 0, -1, 1, -1, 0, 1, 1, 1 };

	glViewport(0, 0, SIZE, SIZE);
	glClearColor(clear_rgba[0] / 255.0f, clear_rgba[1] / 255.0f, clear_rgba[2] / 255.0f, 1);
	glClear(GL_COLOR_BUFFER_BIT);
	glUseProgram(program);
	glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, quad);
	glEnableVertexAttribArray(0);
	glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
	glFinish();
}

static void expected(int x, int y, uint8_t want[4])
{
	if (x < HALF) {
		memcpy(want, clear_rgba, 4);
		return;
	}
	// gl_FragCoord is the pixel's centre; unorm8 rounds to nearest.
	want[0] = (uint8_t)((x + 0.5) / SIZE * 255 + 0.5);
	want[1] = (uint8_t)((y + 0.5) / SIZE * 255 + 0.5);
	want[2] = (uint8_t)(0.25 * 255 + 0.5);
	want[3] = 255;
}

static int close_enough(const uint8_t *got, const uint8_t *want)
{
	for (int c = 0; c < 4; c++)
		if (abs(got[c] - want[c]) > 1)
			return 0;
	return 1;
}

// The number of pixels off by more than 1 LSB; the first one's index.
static int mismatches(const uint8_t *px, int *first)
{
	int bad = 0;
	uint8_t want[4];

	*first = -1;
	for (int i = 0; i < SIZE * SIZE; i++) {
		expected(i % SIZE, i / SIZE, want);
		if (!close_enough(px + 4 * i, want)) {
			if (*first < 0)
				*first = i;
			bad++;
		}
	}
	return bad;
}

static int check(const uint8_t *px)
{
	int first, bad = mismatches(px, &first);
	uint8_t want[4];

	printf("VMSILO gl-pixels=%d gl-mismatch=%d", SIZE * SIZE, bad);
	if (first >= 0) {
		const uint8_t *g = px + 4 * first;

		expected(first % SIZE, first / SIZE, want);
		printf(" gl-first-bad=%d,%d:%u.%u.%u.%u/%u.%u.%u.%u", first % SIZE, first / SIZE,
		       g[0], g[1], g[2], g[3], want[0], want[1], want[2], want[3]);
	}
	printf("\n");
	return bad == 0 ? 0 : 1;
}

static int render_and_read(GLuint program, uint8_t *px)
{
	draw(program);
	glReadPixels(0, 0, SIZE, SIZE, GL_RGBA, GL_UNSIGNED_BYTE, px);
	return glGetError() == GL_NO_ERROR;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int bench(GLuint program, uint8_t *px, long frames)
{
	struct timespec t0;
	double s;
	int first;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < frames; i++) {
		if (!render_and_read(program, px))
			return fail("glReadPixels");
		if (mismatches(px, &first)) {
			printf("VMSILO gl-bench-frame=%ld ", i);
			return check(px);
		}
	}
	s = seconds_since(&t0);
	printf("VMSILO gl-bench frames=%ld seconds=%.3f fps=%.2f\n", frames, s, frames / s);
	return 0;
}

static long frames_arg(int argc, char **argv)
{
	char *end;
	long n;

	if (argc == 1)
		return 0;
	if (argc != 3 || strcmp(argv[1], "--frames"))
		return -1;
	n = strtol(argv[2], &end, 10);
	return *end || n < 1 ? -1 : n;
}

int main(int argc, char **argv)
{
	static uint8_t px[SIZE * SIZE * 4];
	long frames = frames_arg(argc, argv);
	EGLDisplay dpy;
	GLuint program;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (frames < 0) {
		fprintf(stderr, "usage: vmsilo-gl-check [--frames N]\n");
		return 2;
	}
	dpy = open_display();
	if (dpy == EGL_NO_DISPLAY)
		return fail("no surfaceless EGL display");
	if (make_context(dpy) == EGL_NO_CONTEXT)
		return fail("no GLES2 context");
	printf("VMSILO gl-vendor=%s\nVMSILO gl-renderer=%s\nVMSILO gl-version=%s\n",
	       (const char *)glGetString(GL_VENDOR), (const char *)glGetString(GL_RENDERER),
	       (const char *)glGetString(GL_VERSION));
	if (!make_framebuffer())
		return fail("framebuffer incomplete");
	program = make_program();
	if (!program)
		return fail("shader program");
	if (!render_and_read(program, px))
		return fail("glReadPixels");
	if (check(px))
		return 1;
	return frames ? bench(program, px, frames) : 0;
}
