/* Captures what the code under test writes to stderr (fd 2) in a temporary
 * file, for tests that count log lines. */
#ifndef VMSILO_LOG_CAPTURE_H
#define VMSILO_LOG_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct log_capture {
	FILE *file;
	int saved_stderr;
};

static inline void log_capture_begin(struct log_capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	c->saved_stderr = dup(2);
	if (!c->file || c->saved_stderr < 0 || dup2(fileno(c->file), 2) < 0) {
		perror("log_capture_begin");
		exit(1);
	}
}

/* Restores stderr; returns everything written meanwhile (free it). */
static inline char *log_capture_end(struct log_capture *c)
{
	struct stat st;
	char *text = NULL;

	fflush(stderr);
	dup2(c->saved_stderr, 2);
	close(c->saved_stderr);
	if (!fstat(fileno(c->file), &st))
		text = calloc(1, (size_t)st.st_size + 1);
	if (!text || pread(fileno(c->file), text, (size_t)st.st_size, 0) != st.st_size) {
		perror("log_capture_end");
		exit(1);
	}
	fclose(c->file);
	return text;
}

/* Lines of text that contain needle. */
static inline unsigned log_count_lines(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (memmem(line, len, needle, strlen(needle)))
			n++;
		line += len + (end != NULL);
	}
	return n;
}

#endif
