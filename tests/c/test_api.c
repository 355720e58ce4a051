/*
 * libmuse success paths: every function of include/muse.h used the way a
 * C host would, with results checked against independent computations
 * (file bytes on disk, known SHA-256 values, ...).
 */
#include "harness.h"

#include <stdint.h>

static const char *EMPTY_ID = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *HELLO_ID = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MUSE_VERSION_MAJOR, MUSE_VERSION_MINOR, MUSE_VERSION_PATCH);
    CHECK_STR(muse_version(), want);
    CHECK_STR(muse_status_name(MUSE_OK), "MUSE_OK");
    CHECK_STR(muse_status_name(MUSE_E_PANIC), "MUSE_E_PANIC");
    CHECK(MUSE_ID_BUFSIZE == MUSE_ID_LEN + 1);
}

static void test_ids(void) {
    char id[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)"hello", 5, id));
    CHECK_STR(id, HELLO_ID);
    CHECK(strlen(id) == MUSE_ID_LEN);
    CHECK_OK(muse_blob_id(NULL, 0, id));
    CHECK_STR(id, EMPTY_ID);
    CHECK_OK(muse_id_validate(HELLO_ID));
    CHECK_STR(muse_last_error_message(), "");
}

/* Writes the blobs of every entry of `m`, reading the files under `root`. */
static void write_blobs(muse_repo *repo, const char *root, const muse_manifest *m) {
    for (size_t i = 0; i < muse_manifest_len(m); i++) {
        const char *path = NULL, *oid = NULL;
        CHECK_OK(muse_manifest_get(m, i, &path, &oid));
        char *full = path_join(root, path);
        size_t len = 0;
        unsigned char *data = read_file(full, &len);
        CHECK(data != NULL);
        char check[MUSE_ID_BUFSIZE];
        CHECK_OK(muse_blob_id(data, len, check));
        CHECK_STR(check, oid);
        bool created = false;
        CHECK_OK(muse_object_write(repo, oid, data, len, &created));
        free(data);
        free(full);
    }
}

static void test_repository(void) {
    char *tmp = make_tmpdir("api");
    char *root = path_join(tmp, "work");
    muse_repo *repo = NULL;

    /* init, root, HEAD */
    CHECK_OK(muse_repo_init(root, NULL, &repo));
    CHECK(repo != NULL);
    CHECK_STR(muse_repo_root(repo), root);
    size_t needed = 0;
    CHECK_STATUS(muse_head_branch(repo, NULL, 0, &needed), MUSE_E_BUFFER_TOO_SMALL);
    CHECK(needed == 5);
    char *branch = malloc(needed);
    CHECK_OK(muse_head_branch(repo, branch, needed, NULL));
    CHECK_STR(branch, "main");
    free(branch);
    char head[MUSE_ID_BUFSIZE] = "x";
    bool exists = true;
    CHECK_OK(muse_head_commit(repo, head, &exists));
    CHECK(!exists);
    CHECK_STR(head, "");

    /* objects */
    char oid[MUSE_ID_BUFSIZE];
    const char *text = "hello";
    CHECK_OK(muse_blob_id((const uint8_t *)text, 5, oid));
    bool has = true;
    CHECK_OK(muse_object_has(repo, oid, &has));
    CHECK(!has);
    bool created = false;
    CHECK_OK(muse_object_write(repo, oid, (const uint8_t *)text, 5, &created));
    CHECK(created);
    CHECK_OK(muse_object_write(repo, oid, (const uint8_t *)text, 5, &created));
    CHECK(!created);
    CHECK_OK(muse_object_write(repo, oid, (const uint8_t *)text, 5, NULL)); /* optional out */
    CHECK_OK(muse_object_has(repo, oid, &has));
    CHECK(has);
    muse_bytes *bytes = NULL;
    CHECK_OK(muse_object_read(repo, oid, &bytes));
    CHECK(muse_bytes_len(bytes) == 5);
    CHECK(memcmp(muse_bytes_data(bytes), "hello", 5) == 0);
    muse_bytes_free(bytes);
    /* the empty blob */
    CHECK_OK(muse_object_write(repo, EMPTY_ID, NULL, 0, &created));
    CHECK_OK(muse_object_read(repo, EMPTY_ID, &bytes));
    CHECK(muse_bytes_len(bytes) == 0 && muse_bytes_data(bytes) != NULL);
    muse_bytes_free(bytes);

    /* a working tree, its manifest, its blobs, its snapshot */
    char *a = path_join(root, "a.txt");
    char *dir = path_join(root, "dir");
    char *b = path_join(root, "dir/b.txt");
    write_text(a, "alpha\n");
    mkdir(dir, 0755);
    write_text(b, "beta\n");
    muse_manifest *m = NULL;
    CHECK_OK(muse_build_snapshot_manifest(repo, &m));
    CHECK(muse_manifest_len(m) == 2);
    const char *p0 = NULL, *o0 = NULL, *p1 = NULL, *o1 = NULL;
    CHECK_OK(muse_manifest_get(m, 0, &p0, &o0));
    CHECK_OK(muse_manifest_get(m, 1, &p1, &o1));
    CHECK_STR(p0, "a.txt");
    CHECK_STR(p1, "dir/b.txt");
    char want[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)"alpha\n", 6, want));
    CHECK_STR(o0, want);
    const char *looked = NULL;
    CHECK_OK(muse_manifest_lookup(m, "dir/b.txt", &looked));
    CHECK_STR(looked, o1);
    write_blobs(repo, root, m);
    char snap[MUSE_ID_BUFSIZE], snap_expect[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_manifest_snapshot_id(m, snap_expect));
    CHECK_OK(muse_snapshot_write_from_manifest(repo, m, snap));
    CHECK_STR(snap, snap_expect);
    CHECK_OK(muse_snapshot_has(repo, snap, &has));
    CHECK(has);
    muse_manifest *back = NULL;
    CHECK_OK(muse_snapshot_read(repo, snap, &back));
    CHECK(muse_manifest_len(back) == 2);
    const char *bp = NULL, *bo = NULL;
    CHECK_OK(muse_manifest_get(back, 1, &bp, &bo));
    CHECK_STR(bp, "dir/b.txt");
    CHECK_STR(bo, o1);
    muse_manifest_free(back);

    /* the same manifest from the directory path */
    muse_manifest *m2 = NULL;
    CHECK_OK(muse_build_snapshot_manifest_at(root, &m2));
    char snap2[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_manifest_snapshot_id(m2, snap2));
    CHECK_STR(snap2, snap);
    muse_manifest_free(m2);

    /* commits */
    char c1[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_commit_create(repo, "main", snap, "first commit", "Ada <ada@example.org>", NULL, c1));
    CHECK_OK(muse_id_validate(c1));
    CHECK_OK(muse_commit_has(repo, c1, &has));
    CHECK(has);
    muse_commit *c = NULL;
    CHECK_OK(muse_commit_read(repo, c1, &c));
    CHECK_STR(muse_commit_id(c), c1);
    CHECK_STR(muse_commit_snapshot_id(c), snap);
    CHECK_STR(muse_commit_message(c), "first commit");
    CHECK_STR(muse_commit_author(c), "Ada <ada@example.org>");
    CHECK_STR(muse_commit_branch(c), "main");
    CHECK(strlen(muse_commit_committed_at(c)) >= 19);
    CHECK(muse_commit_parent_count(c) == 0);
    CHECK(muse_commit_parent(c, 0) == NULL);
    muse_commit_free(c);

    /* refs: write, read, HEAD */
    CHECK_OK(muse_ref_write(repo, "main", c1));
    char r[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_ref_read(repo, "main", r, &exists));
    CHECK(exists);
    CHECK_STR(r, c1);
    CHECK_OK(muse_head_commit(repo, head, &exists));
    CHECK(exists);
    CHECK_STR(head, c1);
    CHECK_OK(muse_ref_read(repo, "nope", r, &exists));
    CHECK(!exists);
    CHECK_STR(r, "");

    /* a second commit, moved in with compare-and-swap */
    write_text(a, "alpha 2\n");
    muse_manifest_free(m);
    CHECK_OK(muse_build_snapshot_manifest(repo, &m));
    write_blobs(repo, root, m);
    char snap_b[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_snapshot_write_from_manifest(repo, m, snap_b));
    CHECK(strcmp(snap_b, snap) != 0);
    char c2[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_commit_create(repo, "main", snap_b, "second commit", NULL, c1, c2));
    CHECK_OK(muse_ref_compare_and_swap(repo, "main", c1, c2));
    CHECK_OK(muse_ref_read(repo, "main", r, &exists));
    CHECK_STR(r, c2);
    CHECK_OK(muse_commit_read(repo, c2, &c));
    CHECK(muse_commit_parent_count(c) == 1);
    CHECK_STR(muse_commit_parent(c, 0), c1);
    CHECK_STR(muse_commit_author(c), "");
    muse_commit_free(c);
    /* CAS creating a branch (expected = NULL) */
    CHECK_OK(muse_ref_compare_and_swap(repo, "feature", NULL, c1));

    /* log: HEAD first, following first parents */
    muse_log_iter *it = NULL;
    CHECK_OK(muse_log_iter_new(repo, NULL, &it));
    const char *want_log[] = {c2, c1};
    size_t n = 0;
    for (;;) {
        muse_commit *lc = NULL;
        bool done = false;
        CHECK_OK(muse_log_iter_next(it, &lc, &done));
        if (done) {
            CHECK(lc == NULL);
            break;
        }
        if (n < 2) CHECK_STR(muse_commit_id(lc), want_log[n]);
        n++;
        muse_commit_free(lc);
        if (n > 10) break;
    }
    CHECK(n == 2);
    muse_commit *after = (muse_commit *)1;
    bool done = false;
    CHECK_OK(muse_log_iter_next(it, &after, &done)); /* stays done */
    CHECK(done && after == NULL);
    muse_log_iter_free(it);
    CHECK_OK(muse_log_iter_new(repo, c1, &it)); /* explicit tip */
    muse_commit *lc = NULL;
    CHECK_OK(muse_log_iter_next(it, &lc, &done));
    CHECK(!done);
    CHECK_STR(muse_commit_message(lc), "first commit");
    muse_commit_free(lc);
    muse_log_iter_free(it);

    /* branches */
    muse_ref_list *list = NULL;
    CHECK_OK(muse_ref_list_branches(repo, &list));
    CHECK(muse_ref_list_len(list) == 2);
    const char *bn = NULL, *bc = NULL;
    CHECK_OK(muse_ref_list_get(list, 0, &bn, &bc));
    CHECK_STR(bn, "feature");
    CHECK_STR(bc, c1);
    CHECK_OK(muse_ref_list_get(list, 1, &bn, &bc));
    CHECK_STR(bn, "main");
    CHECK_STR(bc, c2);
    muse_ref_list_free(list);

    /* merge base: c3 on feature (parent c1) vs c2 on main */
    char c3[MUSE_ID_BUFSIZE], base[MUSE_ID_BUFSIZE];
    bool found = false;
    CHECK_OK(muse_commit_create(repo, "feature", snap, "on feature", "bob", c1, c3));
    CHECK_OK(muse_ref_compare_and_swap(repo, "feature", c1, c3));
    CHECK_OK(muse_merge_base(repo, c2, c3, base, &found));
    CHECK(found);
    CHECK_STR(base, c1);
    char lone[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_commit_create(repo, "other", snap, "unrelated root", "eve", NULL, lone));
    CHECK_OK(muse_merge_base(repo, c2, lone, base, &found));
    CHECK(!found);
    CHECK_STR(base, "");

    /* commit records as msgpack: exactly the bytes on disk */
    muse_bytes *rec = NULL;
    CHECK_OK(muse_commit_read_msgpack(repo, c2, &rec));
    char *cf = commit_file(root, c2);
    size_t flen = 0;
    unsigned char *fbytes = read_file(cf, &flen);
    CHECK(fbytes != NULL && flen == muse_bytes_len(rec));
    CHECK(fbytes && memcmp(fbytes, muse_bytes_data(rec), flen) == 0);
    uint8_t tag = muse_bytes_data(rec)[0];
    CHECK((tag & 0xf0) == 0x80 || tag == 0xde || tag == 0xdf); /* a msgpack map */
    free(fbytes);
    free(cf);

    /* ...which another repository accepts as is */
    char *root2 = path_join(tmp, "second");
    muse_repo *repo2 = NULL;
    CHECK_OK(muse_repo_init(root2, "trunk", &repo2));
    char *hb = malloc(6);
    CHECK_OK(muse_head_branch(repo2, hb, 6, &needed));
    CHECK_STR(hb, "trunk");
    CHECK(needed == 6);
    free(hb);
    CHECK_OK(muse_commit_write_msgpack(repo2, muse_bytes_data(rec), muse_bytes_len(rec), &created));
    CHECK(created);
    CHECK_OK(muse_commit_write_msgpack(repo2, muse_bytes_data(rec), muse_bytes_len(rec), &created));
    CHECK(!created);
    muse_bytes_free(rec);
    CHECK_OK(muse_commit_has(repo2, c2, &has));
    CHECK(has);
    /* snapshots as msgpack */
    CHECK_OK(muse_snapshot_read_msgpack(repo, snap_b, &rec));
    CHECK_OK(muse_snapshot_write_msgpack(repo2, muse_bytes_data(rec), muse_bytes_len(rec), &created));
    CHECK(created);
    muse_bytes_free(rec);
    CHECK_OK(muse_snapshot_has(repo2, snap_b, &has));
    CHECK(has);
    muse_repo_free(repo2);

    /* MPack: bundle main from repo, apply to a fresh repository */
    muse_bytes *pack = NULL;
    const char *want_tips[] = {c2};
    CHECK_OK(muse_mpack_build(repo, want_tips, 1, NULL, 0, &pack));
    CHECK(muse_bytes_len(pack) > 0);
    char *root3 = path_join(tmp, "third");
    muse_repo *repo3 = NULL;
    CHECK_OK(muse_repo_init(root3, NULL, &repo3));
    muse_mpack_stats st;
    memset(&st, 0xff, sizeof st);
    muse_ref_list *heads = NULL;
    CHECK_OK(muse_mpack_apply(repo3, muse_bytes_data(pack), muse_bytes_len(pack), &st, &heads));
    CHECK(st.commits_written == 2);
    CHECK(st.snapshots_written == 2);
    CHECK(st.blobs_written == 3); /* alpha, beta, alpha 2 */
    CHECK(st.blobs_skipped == 0);
    CHECK(muse_ref_list_len(heads) == 1);
    CHECK_OK(muse_ref_list_get(heads, 0, &bn, &bc));
    CHECK_STR(bn, "main");
    CHECK_STR(bc, c2);
    CHECK_OK(muse_ref_compare_and_swap(repo3, bn, NULL, bc));
    muse_ref_list_free(heads);
    CHECK_OK(muse_mpack_apply(repo3, muse_bytes_data(pack), muse_bytes_len(pack), &st, NULL));
    CHECK(st.commits_written == 0 && st.blobs_written == 0 && st.blobs_skipped == 3);
    muse_bytes_free(pack);
    /* an incremental bundle: what feature has and main does not */
    const char *want_f[] = {c3};
    const char *have_f[] = {c2};
    CHECK_OK(muse_mpack_build(repo, want_f, 1, have_f, 1, &pack));
    CHECK_OK(muse_mpack_apply(repo3, muse_bytes_data(pack), muse_bytes_len(pack), &st, NULL));
    CHECK(st.commits_written == 1);
    muse_bytes_free(pack);
    CHECK_OK(muse_merge_base(repo3, c2, c3, base, &found));
    CHECK(found);
    CHECK_STR(base, c1);
    muse_repo_free(repo3);

    /* Bundle files: main into a file, applied to a fresh repository; then a
       thin one of feature, which needs main's tip; then a damaged copy. */
    char *bfile = path_join(tmp, "main.bundle");
    muse_bundle_stats bs;
    memset(&bs, 0xff, sizeof bs);
    CHECK_OK(muse_bundle_create(repo, bfile, want_tips, 1, NULL, 0, &bs));
    CHECK(bs.commits == 2 && bs.snapshots == 2 && bs.blobs == 3 && bs.prerequisites == 0);
    CHECK(bs.bytes > 12);
    char *root4 = path_join(tmp, "fourth");
    muse_repo *repo4 = NULL;
    CHECK_OK(muse_repo_init(root4, NULL, &repo4));
    char *tfile = path_join(tmp, "feature.bundle");
    CHECK_OK(muse_bundle_create(repo, tfile, want_f, 1, have_f, 1, &bs));
    CHECK(bs.commits == 1 && bs.prerequisites == 1);
    CHECK_ERR(muse_bundle_apply(repo4, tfile, &st, NULL), MUSE_E_NOT_FOUND); /* lacks c2 */
    CHECK_OK(muse_bundle_apply(repo4, bfile, &st, &heads));
    CHECK(st.commits_written == 2 && st.blobs_written == 3);
    CHECK(muse_ref_list_len(heads) == 1);
    muse_ref_list_free(heads);
    {
        FILE *f = fopen(tfile, "r+b");
        CHECK(f != NULL);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, n / 2, SEEK_SET);
        int c = fgetc(f);
        fseek(f, n / 2, SEEK_SET);
        fputc(c ^ 0xff, f);
        fclose(f);
    }
    CHECK_ERR(muse_bundle_apply(repo4, tfile, &st, NULL), MUSE_E_INTEGRITY);
    CHECK_OK(muse_commit_has(repo4, c3, &has));
    CHECK(!has);
    CHECK_ERR(muse_bundle_apply(repo4, NULL, &st, NULL), MUSE_E_NULL_ARG);
    muse_repo_free(repo4);
    free(bfile);
    free(tfile);
    free(root4);

    /* open from a subdirectory: discovery walks up */
    muse_repo *again = NULL;
    CHECK_OK(muse_repo_open(dir, &again));
    CHECK_STR(muse_repo_root(again), root);
    CHECK_OK(muse_head_set_branch(again, "feature"));
    char hbuf[32];
    CHECK_OK(muse_head_branch(again, hbuf, sizeof hbuf, NULL));
    CHECK_STR(hbuf, "feature");
    CHECK_OK(muse_head_commit(again, head, &exists));
    CHECK_STR(head, c3);
    muse_repo_free(again);

    muse_manifest_free(m);
    muse_repo_free(repo);
    rm_rf(tmp);
    free(a); free(b); free(dir); free(root); free(root2); free(root3); free(tmp);
}

static void test_manifest_building(void) {
    muse_manifest *m = NULL;
    CHECK_OK(muse_manifest_new(&m));
    CHECK(muse_manifest_len(m) == 0);
    char empty_snap[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_manifest_snapshot_id(m, empty_snap));
    CHECK_STR(empty_snap, EMPTY_ID); /* hash of no entries = sha256("") */
    CHECK_OK(muse_manifest_insert(m, "z/last.txt", HELLO_ID));
    CHECK_OK(muse_manifest_insert(m, "first.txt", EMPTY_ID));
    CHECK_OK(muse_manifest_insert(m, "first.txt", HELLO_ID)); /* replace */
    CHECK(muse_manifest_len(m) == 2);
    const char *p = NULL, *o = NULL;
    CHECK_OK(muse_manifest_get(m, 0, &p, &o));
    CHECK_STR(p, "first.txt");
    CHECK_STR(o, HELLO_ID);
    bool removed = false;
    CHECK_OK(muse_manifest_remove(m, "first.txt", &removed));
    CHECK(removed);
    CHECK_OK(muse_manifest_remove(m, "first.txt", &removed));
    CHECK(!removed);
    CHECK(muse_manifest_len(m) == 1);
    CHECK_OK(muse_manifest_get(m, 0, &p, &o));
    CHECK_STR(p, "z/last.txt");
    /* snapshot ID of one entry: sha256("z/last.txt\0" + id) */
    char buf[128];
    size_t n = (size_t)snprintf(buf, sizeof buf, "z/last.txt%c%s", '\0', HELLO_ID);
    char want[MUSE_ID_BUFSIZE], got[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)buf, n, want));
    CHECK_OK(muse_manifest_snapshot_id(m, got));
    CHECK_STR(got, want);
    muse_manifest_free(m);
}

static void test_free_null(void) {
    muse_repo_free(NULL);
    muse_bytes_free(NULL);
    muse_manifest_free(NULL);
    muse_commit_free(NULL);
    muse_log_iter_free(NULL);
    muse_ref_list_free(NULL);
    CHECK(muse_repo_root(NULL) == NULL);
    CHECK(muse_bytes_data(NULL) == NULL);
    CHECK(muse_bytes_len(NULL) == 0);
    CHECK(muse_manifest_len(NULL) == 0);
    CHECK(muse_ref_list_len(NULL) == 0);
    CHECK(muse_commit_id(NULL) == NULL);
    CHECK(muse_commit_parent(NULL, 0) == NULL);
    CHECK(muse_commit_parent_count(NULL) == 0);
}

int main(void) {
    test_version();
    test_ids();
    test_manifest_building();
    test_repository();
    test_free_null();
    return harness_finish("test_api");
}
