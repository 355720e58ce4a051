/*
 * libmuse error paths: every error class of muse_status, with the rule
 * that out-parameters are written only on MUSE_OK and that each error
 * comes with a message.
 *
 * Classes: NULL arguments, invalid UTF-8, malformed IDs and names
 * (INVALID_INPUT), content that does not hash (INTEGRITY), missing
 * objects and records (NOT_FOUND), buffers too small, corrupt records,
 * objects and snapshots on disk (INTEGRITY), compare-and-swap conflicts
 * (CONFLICT), not a repository, the max_ancestors cap (CAP), I/O errors.
 */
#include "harness.h"

#include <stdint.h>

#define SENTINEL ((void *)0x5a5a5a5a)

static const char *ABSENT_ID = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

static char *g_tmp;
static char *g_root;
static muse_repo *g_repo;
static char g_snap[MUSE_ID_BUFSIZE];
static char g_c1[MUSE_ID_BUFSIZE];
static char g_c2[MUSE_ID_BUFSIZE];

/* A repository with one snapshot and a two-commit history on main. */
static void setup(void) {
    g_tmp = make_tmpdir("err");
    g_root = path_join(g_tmp, "repo");
    if (muse_repo_init(g_root, NULL, &g_repo) != MUSE_OK) {
        fprintf(stderr, "setup: %s\n", muse_last_error_message());
        exit(1);
    }
    char oid[MUSE_ID_BUFSIZE];
    muse_blob_id((const uint8_t *)"content", 7, oid);
    muse_object_write(g_repo, oid, (const uint8_t *)"content", 7, NULL);
    muse_manifest *m = NULL;
    muse_manifest_new(&m);
    muse_manifest_insert(m, "f.txt", oid);
    CHECK_OK(muse_snapshot_write_from_manifest(g_repo, m, g_snap));
    muse_manifest_free(m);
    CHECK_OK(muse_commit_create(g_repo, "main", g_snap, "first commit", "t", NULL, g_c1));
    CHECK_OK(muse_commit_create(g_repo, "main", g_snap, "second commit", "t", g_c1, g_c2));
    CHECK_OK(muse_ref_write(g_repo, "main", g_c2));
}

static void test_null_args(void) {
    muse_repo *r = SENTINEL;
    muse_bytes *b = SENTINEL;
    muse_manifest *m = SENTINEL;
    muse_commit *c = SENTINEL;
    muse_log_iter *it = SENTINEL;
    muse_ref_list *l = SENTINEL;
    bool flag = true;
    char id[MUSE_ID_BUFSIZE] = "untouched";
    const char *s1 = SENTINEL, *s2 = SENTINEL;
    muse_mpack_stats st = {1, 2, 3, 4};

    CHECK_ERR(muse_repo_open(NULL, &r), MUSE_E_NULL_ARG);
    CHECK(r == SENTINEL);
    CHECK(strstr(muse_last_error_message(), "path") != NULL);
    CHECK_ERR(muse_repo_open(g_root, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repo_init(NULL, NULL, &r), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repo_init(g_root, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK(r == SENTINEL);

    CHECK_ERR(muse_blob_id(NULL, 3, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_blob_id((const uint8_t *)"x", 1, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_id_validate(NULL), MUSE_E_NULL_ARG);
    CHECK_STR(id, "untouched");

    CHECK_ERR(muse_object_write(NULL, ABSENT_ID, NULL, 0, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_write(g_repo, NULL, NULL, 0, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_write(g_repo, ABSENT_ID, NULL, 5, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_read(NULL, ABSENT_ID, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_read(g_repo, NULL, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_read(g_repo, ABSENT_ID, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_has(g_repo, ABSENT_ID, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_object_has(NULL, ABSENT_ID, &flag), MUSE_E_NULL_ARG);
    CHECK(b == SENTINEL && flag);

    CHECK_ERR(muse_commit_write_msgpack(g_repo, NULL, 10, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_read_msgpack(g_repo, g_c1, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_read_msgpack(g_repo, NULL, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_create(g_repo, NULL, g_snap, "m", NULL, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_create(g_repo, "main", NULL, "m", NULL, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_create(g_repo, "main", g_snap, NULL, NULL, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_create(g_repo, "main", g_snap, "m", NULL, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_has(g_repo, NULL, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_read(g_repo, g_c1, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_commit_read(NULL, g_c1, &c), MUSE_E_NULL_ARG);
    CHECK(c == SENTINEL && b == SENTINEL);
    CHECK_STR(id, "untouched");

    CHECK_ERR(muse_snapshot_write_from_manifest(g_repo, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_snapshot_read(g_repo, g_snap, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_snapshot_read(g_repo, NULL, &m), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_snapshot_write_msgpack(NULL, (const uint8_t *)"x", 1, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_snapshot_read_msgpack(g_repo, g_snap, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_snapshot_has(g_repo, g_snap, NULL), MUSE_E_NULL_ARG);
    CHECK(m == SENTINEL);

    CHECK_ERR(muse_manifest_new(NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_manifest_insert(NULL, "a", ABSENT_ID), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_manifest_get(NULL, 0, &s1, &s2), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_manifest_lookup(NULL, "a", &s1), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_manifest_snapshot_id(NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_manifest_remove(NULL, "a", NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_build_snapshot_manifest(NULL, &m), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_build_snapshot_manifest(g_repo, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_build_snapshot_manifest_at(NULL, &m), MUSE_E_NULL_ARG);
    CHECK(m == SENTINEL && s1 == SENTINEL && s2 == SENTINEL);

    CHECK_ERR(muse_ref_read(g_repo, "main", NULL, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_read(g_repo, "main", id, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_read(g_repo, NULL, id, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_write(g_repo, "main", NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_write(g_repo, NULL, g_c1), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_compare_and_swap(g_repo, "main", g_c2, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_compare_and_swap(NULL, "main", g_c2, g_c1), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_list_branches(g_repo, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_ref_list_get(NULL, 0, &s1, &s2), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_head_commit(g_repo, NULL, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_head_commit(NULL, id, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_head_branch(NULL, NULL, 0, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_head_branch(g_repo, NULL, 10, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_head_set_branch(g_repo, NULL), MUSE_E_NULL_ARG);
    CHECK(l == SENTINEL && flag);
    CHECK_STR(id, "untouched");

    CHECK_ERR(muse_log_iter_new(NULL, NULL, &it), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_log_iter_new(g_repo, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_log_iter_next(NULL, &c, &flag), MUSE_E_NULL_ARG);
    CHECK(it == SENTINEL);
    CHECK_ERR(muse_merge_base(g_repo, g_c1, NULL, id, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_merge_base(g_repo, g_c1, g_c2, NULL, &flag), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_merge_base(g_repo, g_c1, g_c2, id, NULL), MUSE_E_NULL_ARG);

    const char *want_null[] = {NULL};
    CHECK_ERR(muse_mpack_build(g_repo, NULL, 1, NULL, 0, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_mpack_build(g_repo, want_null, 1, NULL, 0, &b), MUSE_E_NULL_ARG);
    CHECK(strstr(muse_last_error_message(), "want[0]") != NULL);
    CHECK_ERR(muse_mpack_build(g_repo, NULL, 0, NULL, 0, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_mpack_apply(g_repo, NULL, 4, &st, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_mpack_apply(g_repo, (const uint8_t *)"x", 1, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK(b == SENTINEL && st.commits_written == 1 && st.blobs_skipped == 4);
    CHECK_STR(id, "untouched");
}

static void test_utf8(void) {
    const char bad[] = {'m', (char)0xff, (char)0xfe, 0};
    char id[MUSE_ID_BUFSIZE] = "untouched";
    bool flag = false;
    muse_repo *r = SENTINEL;
    CHECK_ERR(muse_ref_read(g_repo, bad, id, &flag), MUSE_E_UTF8);
    CHECK_ERR(muse_id_validate(bad), MUSE_E_UTF8);
    CHECK_ERR(muse_repo_open(bad, &r), MUSE_E_UTF8);
    CHECK_ERR(muse_commit_create(g_repo, "main", g_snap, bad, NULL, NULL, id), MUSE_E_UTF8);
    CHECK(strstr(muse_last_error_message(), "UTF-8") != NULL);
    CHECK(r == SENTINEL);
    CHECK_STR(id, "untouched");
}

static void test_invalid_input(void) {
    const char *bad_ids[] = {
        "",
        "sha1:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "SHA256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240",
        "sha256:../../../../etc/passwd/0a30e26e83b2ac5b9e29e1b161e5c1fa7425e730433",
        "sha256:2c/24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    };
    muse_bytes *b = SENTINEL;
    bool flag = true;
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        CHECK_ERR(muse_id_validate(bad_ids[i]), MUSE_E_INVALID_INPUT);
        CHECK(strstr(muse_last_error_message(), "invalid ID") != NULL);
        CHECK_ERR(muse_object_read(g_repo, bad_ids[i], &b), MUSE_E_INVALID_INPUT);
        CHECK_ERR(muse_object_has(g_repo, bad_ids[i], &flag), MUSE_E_INVALID_INPUT);
        CHECK_ERR(muse_commit_read_msgpack(g_repo, bad_ids[i], &b), MUSE_E_INVALID_INPUT);
        CHECK_ERR(muse_ref_write(g_repo, "main", bad_ids[i]), MUSE_E_INVALID_INPUT);
    }
    CHECK(b == SENTINEL && flag);

    char id[MUSE_ID_BUFSIZE] = "untouched";
    /* invalid branch names */
    CHECK_ERR(muse_ref_write(g_repo, "../escape", g_c1), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_ref_read(g_repo, "a..b", id, &flag), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_ref_compare_and_swap(g_repo, "has space", NULL, g_c1), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_commit_create(g_repo, "bad~name", g_snap, "m", NULL, NULL, id), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_head_set_branch(g_repo, "x.lock"), MUSE_E_INVALID_INPUT);
    CHECK_STR(id, "untouched");

    /* a repository cannot be created inside another; bad default branch */
    muse_repo *r = SENTINEL;
    CHECK_ERR(muse_repo_init(g_root, NULL, &r), MUSE_E_INVALID_INPUT);
    char *inner = path_join(g_root, "sub");
    CHECK_ERR(muse_repo_init(inner, NULL, &r), MUSE_E_INVALID_INPUT);
    char *other = path_join(g_tmp, "other");
    CHECK_ERR(muse_repo_init(other, "-bad", &r), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repo_init("", NULL, &r), MUSE_E_INVALID_INPUT);
    CHECK(r == SENTINEL);
    free(inner);
    free(other);

    /* manifests */
    muse_manifest *m = NULL;
    CHECK_OK(muse_manifest_new(&m));
    CHECK_ERR(muse_manifest_insert(m, "../up", ABSENT_ID), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_manifest_insert(m, "/abs", ABSENT_ID), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_manifest_insert(m, ".muse/HEAD", ABSENT_ID), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_manifest_insert(m, "a//b", ABSENT_ID), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_manifest_insert(m, "ok.txt", "sha256:nope"), MUSE_E_INVALID_INPUT);
    CHECK(muse_manifest_len(m) == 0);
    const char *s1 = SENTINEL, *s2 = SENTINEL;
    CHECK_ERR(muse_manifest_get(m, 0, &s1, &s2), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_manifest_lookup(m, "ok.txt", &s1), MUSE_E_NOT_FOUND);
    CHECK(s1 == SENTINEL && s2 == SENTINEL);
    muse_manifest_free(m);

    /* record bytes that are not a record */
    const uint8_t garbage[] = {0xc1, 0x00, 0xff};
    CHECK_ERR(muse_commit_write_msgpack(g_repo, garbage, sizeof garbage, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_commit_write_msgpack(g_repo, NULL, 0, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_snapshot_write_msgpack(g_repo, garbage, sizeof garbage, NULL), MUSE_E_INVALID_INPUT);

    /* ref lists: index out of range */
    muse_ref_list *l = NULL;
    CHECK_OK(muse_ref_list_branches(g_repo, &l));
    CHECK_ERR(muse_ref_list_get(l, 99, &s1, &s2), MUSE_E_INVALID_INPUT);
    CHECK(s1 == SENTINEL);
    muse_ref_list_free(l);

    CHECK_STR(muse_status_name(99), "MUSE_E_UNKNOWN");
    CHECK_STR(muse_status_name(-1), "MUSE_E_UNKNOWN");
}

static void test_hash_mismatch(void) {
    char oid[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)"right", 5, oid));
    bool created = true;
    CHECK_ERR(muse_object_write(g_repo, oid, (const uint8_t *)"wrong", 5, &created), MUSE_E_INTEGRITY);
    CHECK(strstr(muse_last_error_message(), "hash mismatch") != NULL);
    CHECK(created);
    bool has = true;
    CHECK_OK(muse_object_has(g_repo, oid, &has));
    CHECK(!has); /* nothing written */

    /* a commit record whose fields were changed: the ID no longer verifies */
    muse_bytes *rec = NULL;
    CHECK_OK(muse_commit_read_msgpack(g_repo, g_c1, &rec));
    size_t n = muse_bytes_len(rec);
    uint8_t *copy = malloc(n);
    memcpy(copy, muse_bytes_data(rec), n);
    muse_bytes_free(rec);
    uint8_t *msg = memmem(copy, n, "first commit", 12);
    CHECK(msg != NULL);
    if (msg) msg[0] = 'F';
    char *root2 = path_join(g_tmp, "mismatch");
    muse_repo *r2 = NULL;
    CHECK_OK(muse_repo_init(root2, NULL, &r2));
    CHECK_ERR(muse_commit_write_msgpack(r2, copy, n, &created), MUSE_E_INTEGRITY);
    CHECK(created);
    CHECK_OK(muse_commit_has(r2, g_c1, &has));
    CHECK(!has);
    free(copy);
    muse_repo_free(r2);
    free(root2);
}

static void test_not_found(void) {
    muse_bytes *b = SENTINEL;
    muse_commit *c = SENTINEL;
    muse_manifest *m = SENTINEL;
    char id[MUSE_ID_BUFSIZE] = "untouched";
    CHECK_ERR(muse_object_read(g_repo, ABSENT_ID, &b), MUSE_E_NOT_FOUND);
    CHECK(strstr(muse_last_error_message(), "not found") != NULL);
    CHECK_ERR(muse_commit_read_msgpack(g_repo, ABSENT_ID, &b), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_commit_read(g_repo, ABSENT_ID, &c), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_snapshot_read(g_repo, ABSENT_ID, &m), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_snapshot_read_msgpack(g_repo, ABSENT_ID, &b), MUSE_E_NOT_FOUND);
    CHECK(b == SENTINEL && c == SENTINEL && m == SENTINEL);
    /* commit_create checks that the snapshot and the parent exist */
    CHECK_ERR(muse_commit_create(g_repo, "main", ABSENT_ID, "m", NULL, NULL, id), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_commit_create(g_repo, "main", g_snap, "m", NULL, ABSENT_ID, id), MUSE_E_NOT_FOUND);
    CHECK_STR(id, "untouched");
    bool found = true;
    CHECK_ERR(muse_merge_base(g_repo, g_c1, ABSENT_ID, id, &found), MUSE_E_NOT_FOUND);
    CHECK(found);
    /* a log whose tip is missing fails at the first step, then is done */
    muse_log_iter *it = NULL;
    CHECK_OK(muse_log_iter_new(g_repo, ABSENT_ID, &it));
    bool done = true;
    CHECK_ERR(muse_log_iter_next(it, &c, &done), MUSE_E_NOT_FOUND);
    CHECK(c == SENTINEL && done);
    CHECK_OK(muse_log_iter_next(it, &c, &done));
    CHECK(done && c == NULL);
    muse_log_iter_free(it);
    /* bundles of unknown commits */
    const char *want[] = {ABSENT_ID};
    CHECK_ERR(muse_mpack_build(g_repo, want, 1, NULL, 0, &b), MUSE_E_NOT_FOUND);
    /* HEAD detached: no branch name */
    char *root2 = path_join(g_tmp, "detached");
    muse_repo *r2 = NULL;
    CHECK_OK(muse_repo_init(root2, NULL, &r2));
    char *head = path_join(root2, ".muse/HEAD");
    char line[MUSE_ID_BUFSIZE + 1];
    snprintf(line, sizeof line, "%s\n", g_c1);
    write_text(head, line);
    char buf[64] = "untouched";
    CHECK_ERR(muse_head_branch(r2, buf, sizeof buf, NULL), MUSE_E_NOT_FOUND);
    CHECK(strstr(muse_last_error_message(), "detached") != NULL);
    CHECK_STR(buf, "untouched");
    muse_repo_free(r2);
    free(head);
    free(root2);
}

static void test_buffer_too_small(void) {
    /* make an error with a known message */
    CHECK_ERR(muse_id_validate("nope"), MUSE_E_INVALID_INPUT);
    const char *msg = muse_last_error_message();
    size_t len = strlen(msg);
    CHECK(len > 10);
    char *full = strdup(msg);

    char small[8];
    memset(small, 'Z', sizeof small);
    size_t needed = 0;
    CHECK_STATUS(muse_last_error_copy(small, sizeof small, &needed), MUSE_E_BUFFER_TOO_SMALL);
    CHECK(needed == len + 1);
    CHECK(small[0] == 'Z' && small[7] == 'Z'); /* untouched */
    /* the copy does not replace the message it reports */
    CHECK_STR(muse_last_error_message(), full);
    needed = 0;
    CHECK_STATUS(muse_last_error_copy(NULL, 0, &needed), MUSE_E_BUFFER_TOO_SMALL);
    CHECK(needed == len + 1);
    CHECK_STATUS(muse_last_error_copy(NULL, 5, &needed), MUSE_E_NULL_ARG);
    char *exact = malloc(needed);
    CHECK_OK(muse_last_error_copy(exact, needed, NULL));
    CHECK_STR(exact, full);
    free(exact);
    CHECK_STR(muse_last_error_message(), full);

    /* a successful call clears the message */
    CHECK_OK(muse_id_validate(g_c1));
    CHECK_STR(muse_last_error_message(), "");
    char one[1] = {'Z'};
    CHECK_OK(muse_last_error_copy(one, 1, &needed));
    CHECK(one[0] == '\0' && needed == 1);

    /* the branch name of HEAD */
    char tiny[4] = "abc";
    needed = 0;
    CHECK_ERR(muse_head_branch(g_repo, tiny, sizeof tiny, &needed), MUSE_E_BUFFER_TOO_SMALL);
    CHECK(needed == 5);
    CHECK_STR(tiny, "abc");
    free(full);
}

/* Overwrites one byte of a store file (they are read-only, mode 0444). */
static void flip_byte(const char *path, long offset) {
    chmod(path, 0644);
    size_t n = 0;
    unsigned char *data = read_file(path, &n);
    if (!data || n == 0) { FAIL_AT("cannot read %s", path); free(data); return; }
    size_t at = offset < 0 ? n + (size_t)offset : (size_t)offset;
    data[at] ^= 0x20;
    write_file(path, data, n);
    free(data);
}

static void test_corrupt(void) {
    /* a commit record whose message byte was flipped on disk */
    char *cf = commit_file(g_root, g_c1);
    size_t n = 0;
    unsigned char *data = read_file(cf, &n);
    CHECK(data != NULL);
    unsigned char *msg = data ? memmem(data, n, "first commit", 12) : NULL;
    CHECK(msg != NULL);
    flip_byte(cf, msg ? (long)(msg - data) : 0);
    free(data);
    muse_commit *c = SENTINEL;
    muse_bytes *b = SENTINEL;
    CHECK_ERR(muse_commit_read(g_repo, g_c1, &c), MUSE_E_INTEGRITY);
    CHECK(strstr(muse_last_error_message(), "corrupt") != NULL);
    CHECK_ERR(muse_commit_read_msgpack(g_repo, g_c1, &b), MUSE_E_INTEGRITY);
    CHECK(c == SENTINEL && b == SENTINEL);
    /* the log reaches it after one good commit */
    muse_log_iter *it = NULL;
    CHECK_OK(muse_log_iter_new(g_repo, NULL, &it));
    bool done = true;
    CHECK_OK(muse_log_iter_next(it, &c, &done));
    CHECK(!done);
    CHECK_STR(muse_commit_id(c), g_c2);
    muse_commit_free(c);
    c = SENTINEL;
    CHECK_ERR(muse_log_iter_next(it, &c, &done), MUSE_E_INTEGRITY);
    CHECK(c == SENTINEL);
    muse_log_iter_free(it);
    /* a truncated record: undecodable */
    chmod(cf, 0644);
    data = read_file(cf, &n);
    write_file(cf, data, n / 2);
    free(data);
    CHECK_ERR(muse_commit_read(g_repo, g_c1, &c), MUSE_E_INTEGRITY);
    /* garbage in place of a record */
    write_text(cf, "this is not msgpack");
    CHECK_ERR(muse_commit_read_msgpack(g_repo, g_c1, &b), MUSE_E_INTEGRITY);
    free(cf);

    /* a corrupt object */
    char oid[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)"content", 7, oid));
    char *of = object_file(g_root, oid);
    flip_byte(of, 0);
    CHECK_ERR(muse_object_read(g_repo, oid, &b), MUSE_E_INTEGRITY);
    CHECK(b == SENTINEL);
    free(of);

    /* a corrupt snapshot */
    char *sf = snapshot_file(g_root, g_snap);
    data = read_file(sf, &n);
    unsigned char *path_in = data ? memmem(data, n, "f.txt", 5) : NULL;
    CHECK(path_in != NULL);
    flip_byte(sf, path_in ? (long)(path_in - data) : 0); /* a manifest path: hashed */
    free(data);
    muse_manifest *m = SENTINEL;
    muse_status st = muse_snapshot_read(g_repo, g_snap, &m);
    CHECK(st == MUSE_E_INTEGRITY);
    CHECK(m == SENTINEL);
    free(sf);

    /* a corrupt ref */
    char *rf = path_join(g_root, ".muse/refs/heads/main");
    write_text(rf, "garbage\n");
    char id[MUSE_ID_BUFSIZE] = "untouched";
    bool exists = false;
    CHECK_ERR(muse_ref_read(g_repo, "main", id, &exists), MUSE_E_INTEGRITY);
    CHECK_STR(id, "untouched");
    char line[MUSE_ID_BUFSIZE + 1];
    snprintf(line, sizeof line, "%s\n", g_c2);
    write_text(rf, line);
    free(rf);

    /* hostile bundles */
    muse_mpack_stats stats = {7, 7, 7, 7};
    const uint8_t not_a_map[] = {0x93, 0x01, 0x02, 0x03};
    CHECK_ERR(muse_mpack_apply(g_repo, not_a_map, sizeof not_a_map, &stats, NULL), MUSE_E_INTEGRITY);
    const uint8_t truncated[] = {0x85, 0xa7, 'c', 'o', 'm', 'm'};
    CHECK_ERR(muse_mpack_apply(g_repo, truncated, sizeof truncated, &stats, NULL), MUSE_E_INTEGRITY);
    /* {"blobs": [{"blob_id": <hello's id>, "content": bin "HELLO"}]} */
    uint8_t pack[160];
    size_t k = 0;
    const char *hello_id = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    pack[k++] = 0x81;
    pack[k++] = 0xa5; memcpy(pack + k, "blobs", 5); k += 5;
    pack[k++] = 0x91;
    pack[k++] = 0x82;
    pack[k++] = 0xa7; memcpy(pack + k, "blob_id", 7); k += 7;
    pack[k++] = 0xd9; pack[k++] = 71; memcpy(pack + k, hello_id, 71); k += 71;
    pack[k++] = 0xa7; memcpy(pack + k, "content", 7); k += 7;
    pack[k++] = 0xc4; pack[k++] = 5; memcpy(pack + k, "HELLO", 5); k += 5;
    CHECK_ERR(muse_mpack_apply(g_repo, pack, k, &stats, NULL), MUSE_E_INTEGRITY);
    CHECK(strstr(muse_last_error_message(), "blob") != NULL);
    CHECK(stats.commits_written == 7);
    bool has = true;
    CHECK_OK(muse_object_has(g_repo, hello_id, &has));
    CHECK(!has);
    /* the same bundle with the right content applies */
    memcpy(pack + k - 5, "hello", 5);
    CHECK_OK(muse_mpack_apply(g_repo, pack, k, &stats, NULL));
    CHECK(stats.blobs_written == 1 && stats.commits_written == 0);
}

static void test_conflict(void) {
    char id[MUSE_ID_BUFSIZE];
    bool exists = false;
    CHECK_OK(muse_ref_read(g_repo, "main", id, &exists));
    CHECK_STR(id, g_c2);
    /* somebody else's expectation: main at c1 */
    CHECK_ERR(muse_ref_compare_and_swap(g_repo, "main", g_c1, g_c1), MUSE_E_CONFLICT);
    CHECK(strstr(muse_last_error_message(), "moved") != NULL);
    /* expected absent, but it exists */
    CHECK_ERR(muse_ref_compare_and_swap(g_repo, "main", NULL, g_c1), MUSE_E_CONFLICT);
    /* expected present, but absent */
    CHECK_ERR(muse_ref_compare_and_swap(g_repo, "ghost", g_c1, g_c2), MUSE_E_CONFLICT);
    CHECK_OK(muse_ref_read(g_repo, "main", id, &exists));
    CHECK_STR(id, g_c2); /* unchanged */
    CHECK_OK(muse_ref_read(g_repo, "ghost", id, &exists));
    CHECK(!exists);
}

static void test_not_a_repository(void) {
    char *plain = path_join(g_tmp, "plain");
    mkdir(plain, 0755);
    muse_repo *r = SENTINEL;
    CHECK_ERR(muse_repo_open(plain, &r), MUSE_E_NOT_A_REPOSITORY);
    CHECK(strstr(muse_last_error_message(), "not a muse repository") != NULL);
    CHECK(r == SENTINEL);
    CHECK_ERR(muse_repo_open("/", &r), MUSE_E_NOT_A_REPOSITORY);
    CHECK(r == SENTINEL);
    /* applying a bundle to a directory whose .muse/ vanished */
    char *gone = path_join(g_tmp, "gone");
    muse_repo *g = NULL;
    CHECK_OK(muse_repo_init(gone, NULL, &g));
    char *dot = path_join(gone, ".muse");
    rm_rf(dot);
    const uint8_t empty_map[] = {0x80};
    muse_mpack_stats st;
    CHECK_ERR(muse_mpack_apply(g, empty_map, 1, &st, NULL), MUSE_E_NOT_A_REPOSITORY);
    muse_repo_free(g);
    free(dot);
    free(gone);
    free(plain);
}

static void test_cap_and_io(void) {
    /* [limits] max_ancestors = 1: the merge base of c2 and a sibling of
       c2 needs more than one commit */
    char *root = path_join(g_tmp, "capped");
    muse_repo *r = NULL;
    CHECK_OK(muse_repo_init(root, NULL, &r));
    char oid[MUSE_ID_BUFSIZE], snap[MUSE_ID_BUFSIZE], a[MUSE_ID_BUFSIZE], b[MUSE_ID_BUFSIZE],
        c[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id(NULL, 0, oid));
    CHECK_OK(muse_object_write(r, oid, NULL, 0, NULL));
    muse_manifest *m = NULL;
    CHECK_OK(muse_manifest_new(&m));
    CHECK_OK(muse_manifest_insert(m, "empty", oid));
    CHECK_OK(muse_snapshot_write_from_manifest(r, m, snap));
    muse_manifest_free(m);
    CHECK_OK(muse_commit_create(r, "main", snap, "root", NULL, NULL, a));
    CHECK_OK(muse_commit_create(r, "main", snap, "left", NULL, a, b));
    CHECK_OK(muse_commit_create(r, "main", snap, "right", NULL, a, c));
    char base[MUSE_ID_BUFSIZE];
    bool found = false;
    CHECK_OK(muse_merge_base(r, b, c, base, &found));
    CHECK(found);
    CHECK_STR(base, a);
    char *cfg = path_join(root, ".muse/config.toml");
    write_text(cfg, "[core]\nfsync = \"off\"\n\n[limits]\nmax_ancestors = 2\n");
    strcpy(base, "untouched");
    CHECK_ERR(muse_merge_base(r, b, c, base, &found), MUSE_E_CAP);
    CHECK(strstr(muse_last_error_message(), "max_ancestors") != NULL);
    CHECK_STR(base, "untouched");
    /* a config that does not parse is a CAP-class (CLI-level) error too */
    write_text(cfg, "[limits]\nmax_ancestors = \"many\"\n");
    CHECK_ERR(muse_merge_base(r, b, c, base, &found), MUSE_E_CAP);
    write_text(cfg, "[core]\nfsync = \"full\"\n");
    muse_repo_free(r);
    free(cfg);
    free(root);

    /* I/O: walking a directory that does not exist */
    muse_manifest *none = SENTINEL;
    char *missing = path_join(g_tmp, "does-not-exist");
    CHECK_ERR(muse_build_snapshot_manifest_at(missing, &none), MUSE_E_IO);
    CHECK(none == SENTINEL);
    free(missing);
    /* I/O: a file where the repository directory should go */
    char *file = path_join(g_tmp, "a-file");
    write_text(file, "x");
    char *below = path_join(file, "repo");
    muse_repo *r2 = SENTINEL;
    CHECK_ERR(muse_repo_init(below, NULL, &r2), MUSE_E_IO);
    CHECK(r2 == SENTINEL);
    free(below);
    free(file);
}

int main(void) {
    setup();
    test_null_args();
    test_utf8();
    test_invalid_input();
    test_hash_mismatch();
    test_not_found();
    test_buffer_too_small();
    test_conflict();
    test_not_a_repository();
    test_cap_and_io();
    test_corrupt(); /* last: it damages the shared repository */
    muse_repo_free(g_repo);
    rm_rf(g_tmp);
    free(g_root);
    free(g_tmp);
    return harness_finish("test_errors");
}
