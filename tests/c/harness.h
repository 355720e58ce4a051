/*
 * A minimal test harness for the libmuse C tests: CHECK macros that count
 * failures and print the last muse error, and temp-directory helpers.
 */
#ifndef MUSE_TEST_HARNESS_H
#define MUSE_TEST_HARNESS_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "muse.h"

static int g_checks;
static int g_failures;

#define FAIL_AT(...)                                                     \
    do {                                                                 \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                    \
        fputc('\n', stderr);                                             \
        g_failures++;                                                    \
    } while (0)

#define CHECK(cond)                                                      \
    do {                                                                 \
        g_checks++;                                                      \
        if (!(cond)) FAIL_AT("%s", #cond);                               \
    } while (0)

#define CHECK_STR(a, b)                                                  \
    do {                                                                 \
        const char *a_ = (a), *b_ = (b);                                 \
        g_checks++;                                                      \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)             \
            FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,                \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
    } while (0)

/* Expects `expr` to return `want`; prints the library's message if not. */
#define CHECK_STATUS(expr, want)                                         \
    do {                                                                 \
        muse_status got_ = (expr);                                       \
        g_checks++;                                                      \
        if (got_ != (want))                                              \
            FAIL_AT("%s -> %s, expected %s (last error: %s)", #expr,     \
                    muse_status_name(got_), muse_status_name(want),      \
                    muse_last_error_message());                          \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, MUSE_OK)

/* An error status must come with a non-empty message. */
#define CHECK_ERR(expr, want)                                            \
    do {                                                                 \
        CHECK_STATUS(expr, want);                                        \
        CHECK(muse_last_error_message()[0] != '\0');                     \
    } while (0)

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) perror(path);
    return 0;
}

/* Removes a directory tree (like rm -rf). */
static inline void rm_rf(const char *dir) {
    nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* Creates a fresh temporary directory; the caller frees the string. */
static inline char *make_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *tmpl = NULL;
    if (asprintf(&tmpl, "%s/muse-ctest-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0) abort();
    if (mkdtemp(tmpl) == NULL) { perror("mkdtemp"); abort(); }
    return tmpl;
}

static inline char *path_join(const char *a, const char *b) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0) abort();
    return p;
}

static inline void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); abort(); }
    if (len && fwrite(data, 1, len, f) != len) { perror(path); abort(); }
    fclose(f);
}

static inline void write_text(const char *path, const char *text) {
    write_file(path, text, strlen(text));
}

/* Reads a whole file; *len receives its size. The caller frees. */
static inline unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf) abort();
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Path of the record file of a commit: <root>/.muse/commits/<hex>.msgpack */
static inline char *commit_file(const char *root, const char *id) {
    char *p = NULL;
    if (asprintf(&p, "%s/.muse/commits/%s.msgpack", root, id + 7) < 0) abort();
    return p;
}

static inline char *snapshot_file(const char *root, const char *id) {
    char *p = NULL;
    if (asprintf(&p, "%s/.muse/snapshots/%s.msgpack", root, id + 7) < 0) abort();
    return p;
}

static inline char *object_file(const char *root, const char *id) {
    char *p = NULL;
    if (asprintf(&p, "%s/.muse/objects/sha256/%.2s/%s", root, id + 7, id + 9) < 0) abort();
    return p;
}

static inline int harness_finish(const char *name) {
    if (g_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, g_failures, g_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, g_checks);
    return 0;
}

#endif /* MUSE_TEST_HARNESS_H */
