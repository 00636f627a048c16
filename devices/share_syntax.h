/*
 * The syntax of virtio-fs share strings the config takes: tags (they go
 * on the guest's kernel command line) and virtiofsd's uid/gid maps. Each
 * check returns 0, or -1 with the reason in why.
 */
#ifndef VMSILO_SHARE_SYNTAX_H
#define VMSILO_SHARE_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

/* No ':', whitespace or control character: one field of mount-extra. */
bool share_word_ok(const char *s);
/* The same as a check: 0, or -1 with the reason in why. */
int share_check_word(const char *s, char *why, size_t len);
/* 1..36 bytes of [A-Za-z0-9._-]: it names virtiofs-<tag>.sock and goes
 * unquoted on the kernel command line. */
int share_check_tag(const char *tag, char *why, size_t len);
/* Absolute, not "/", no '"', no empty, "." or ".." components (no final
 * '/'), a word: so that one path names one mount point. */
int share_check_mount_path(const char *path, char *why, size_t len);
/* ":GUEST:HOST:COUNT:", decimal u32s, COUNT >= 1 (virtiofsd --uid-map). */
int share_check_id_map(const char *map, char *why, size_t len);
/* "map|guest|host|squash-guest|squash-host:A:B:COUNT" or
 * "forbid-guest:FROM:COUNT" (virtiofsd --translate-uid). */
int share_check_translate(const char *spec, char *why, size_t len);

#endif
