/*
 * The muse_repository porcelain from C: init, add, commit, branches,
 * checkout, status, diff, merge with a conflict, its resolution (a commit
 * with two parents), log, revparse; and the error cases (not a repository,
 * unknown revisions, NULL arguments, refusals). Results are checked
 * against independent facts: file bytes on disk, blob IDs computed with
 * muse_blob_id, IDs returned by earlier calls.
 */
#include "harness.h"

#include <stdint.h>

#define SENTINEL ((void *)0x1)

static char *g_tmp;
static char *g_root;

/* Writes `text` to `rel` under the working tree (directories must exist). */
static void put_file(const char *rel, const char *text) {
    char *p = path_join(g_root, rel);
    write_text(p, text);
    free(p);
}

/* Reads `rel` under the working tree as a string; NULL when absent. */
static char *get_file(const char *rel) {
    char *p = path_join(g_root, rel);
    size_t len = 0;
    unsigned char *data = read_file(p, &len);
    free(p);
    if (!data) return NULL;
    char *s = malloc(len + 1);
    if (!s) abort();
    memcpy(s, data, len);
    s[len] = '\0';
    free(data);
    return s;
}

static int exists(const char *rel) {
    char *p = path_join(g_root, rel);
    struct stat st;
    int r = stat(p, &st) == 0;
    free(p);
    return r;
}

static void check_file(const char *rel, const char *want) {
    char *got = get_file(rel);
    CHECK_STR(got, want);
    free(got);
}

static void blob_of(const char *text, char out[MUSE_ID_BUFSIZE]) {
    if (muse_blob_id((const uint8_t *)text, strlen(text), out) != MUSE_OK) abort();
}

/* The status entry of `path`: returns 1 and the two sides when present. */
static int status_of(const muse_status_list *list, const char *path, muse_file_status *index,
                     muse_file_status *worktree) {
    for (size_t i = 0; i < muse_status_list_len(list); i++) {
        const char *p = NULL;
        muse_file_status ix = MUSE_FILE_UNCHANGED, wt = MUSE_FILE_UNCHANGED;
        if (muse_status_list_get(list, i, &p, &ix, &wt) != MUSE_OK) return 0;
        if (strcmp(p, path) == 0) {
            *index = ix;
            *worktree = wt;
            return 1;
        }
    }
    return 0;
}

#define CHECK_STATUS_ENTRY(list, path, want_index, want_worktree)                    \
    do {                                                                             \
        muse_file_status ix_ = (muse_file_status)-1, wt_ = (muse_file_status)-1;     \
        CHECK(status_of((list), (path), &ix_, &wt_));                                \
        CHECK(ix_ == (want_index));                                                  \
        CHECK(wt_ == (want_worktree));                                               \
    } while (0)

static void check_head_branch(const muse_repository *repo, const char *want) {
    char buf[64] = "";
    CHECK_OK(muse_repository_head_branch(repo, buf, sizeof buf, NULL));
    CHECK_STR(buf, want);
}

/* Checks the diff entry at `i`: path, change, and blob IDs (NULL = none). */
static void check_diff_entry(const muse_diff_list *d, size_t i, const char *path, muse_file_status want,
                             const char *old_id, const char *new_id) {
    const char *p = NULL, *o = SENTINEL, *n = SENTINEL;
    muse_file_status s = (muse_file_status)-1;
    CHECK_OK(muse_diff_list_get(d, i, &p, &s, &o, &n));
    CHECK_STR(p, path);
    CHECK(s == want);
    if (old_id) CHECK_STR(o, old_id); else CHECK(o == NULL);
    if (new_id) CHECK_STR(n, new_id); else CHECK(n == NULL);
}

/* Checks the unified patch of the diff entry at `i` (and its length). */
static void check_diff_patch(const muse_diff_list *d, size_t i, const char *want) {
    const char *patch = NULL;
    size_t len = 0;
    CHECK_OK(muse_diff_list_get_patch(d, i, &patch, &len));
    CHECK_STR(patch, want);
    CHECK(len == strlen(want));
    CHECK_OK(muse_diff_list_get_patch(d, i, &patch, NULL)); /* the length is optional */
    CHECK_STR(patch, want);
}

/* The commit at `i` of the log of `rev`; the list is returned for freeing. */
static const muse_commit *log_at(muse_commit_list *list, size_t i) {
    const muse_commit *c = NULL;
    CHECK_OK(muse_commit_list_get(list, i, &c));
    return c;
}

static void test_open_and_discover(void) {
    muse_repository *repo = NULL;
    CHECK_OK(muse_repository_open(g_root, &repo));
    CHECK_STR(muse_repo_root(repo), g_root);
    muse_repository_free(repo);

    /* discover walks up from a subdirectory; open does not */
    char *sub = path_join(g_root, "src");
    repo = NULL;
    CHECK_OK(muse_repository_discover(sub, &repo));
    CHECK_STR(muse_repo_root(repo), g_root);
    muse_repository_free(repo);
    repo = SENTINEL;
    CHECK_ERR(muse_repository_open(sub, &repo), MUSE_E_NOT_A_REPOSITORY);
    CHECK(repo == SENTINEL);
    free(sub);

    /* the former names still work, on the same type */
    muse_repo *old = NULL;
    CHECK_OK(muse_repo_open(g_root, &old));
    muse_status_list *st = NULL;
    CHECK_OK(muse_repository_status(old, &st));
    muse_status_list_free(st);
    muse_repo_free(old);
}

static void test_workflow(void) {
    muse_repository *repo = NULL;
    CHECK_OK(muse_repository_init(g_root, NULL, &repo));
    CHECK(repo != NULL);
    check_head_branch(repo, "main");
    char id[MUSE_ID_BUFSIZE] = "untouched";
    CHECK_ERR(muse_repository_revparse(repo, "HEAD", id), MUSE_E_NOT_FOUND);
    CHECK_STR(id, "untouched");

    /* an empty log on the unborn branch */
    muse_commit_list *log = SENTINEL;
    CHECK_OK(muse_repository_log(repo, NULL, 0, &log));
    CHECK(log != SENTINEL && muse_commit_list_len(log) == 0);
    muse_commit_list_free(log);

    /* write files: everything is untracked */
    char *src = path_join(g_root, "src");
    mkdir(src, 0755);
    free(src);
    put_file("README", "hello\n");
    put_file("src/main.c", "int main(void) { return 0; }\n");
    put_file("notes.txt", "notes\n");
    muse_status_list *st = NULL;
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 3);
    const char *p0 = NULL;
    muse_file_status ix = MUSE_FILE_ADDED, wt = MUSE_FILE_ADDED;
    CHECK_OK(muse_status_list_get(st, 0, &p0, &ix, &wt));
    CHECK_STR(p0, "README"); /* sorted by path, byte order */
    CHECK(ix == MUSE_FILE_UNCHANGED && wt == MUSE_FILE_UNTRACKED);
    CHECK_STATUS_ENTRY(st, "src/main.c", MUSE_FILE_UNCHANGED, MUSE_FILE_UNTRACKED);
    CHECK_STATUS_ENTRY(st, "notes.txt", MUSE_FILE_UNCHANGED, MUSE_FILE_UNTRACKED);
    muse_status_list_free(st);

    /* add two paths (a file and a directory), then everything */
    const char *paths[] = {"README", "src"};
    muse_add_stats stats;
    memset(&stats, 0xff, sizeof stats);
    CHECK_OK(muse_repository_add(repo, paths, 2, &stats));
    CHECK(stats.staged == 2 && stats.removed == 0 && stats.blobs_written == 2);
    CHECK(stats.bytes_written == strlen("hello\n") + strlen("int main(void) { return 0; }\n"));
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 3);
    CHECK_STATUS_ENTRY(st, "README", MUSE_FILE_ADDED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "src/main.c", MUSE_FILE_ADDED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "notes.txt", MUSE_FILE_UNCHANGED, MUSE_FILE_UNTRACKED);
    muse_status_list_free(st);
    CHECK_OK(muse_repository_add_all(repo, &stats));
    CHECK(stats.staged == 1 && stats.removed == 0);
    CHECK_OK(muse_repository_add_all(repo, NULL)); /* optional stats */

    /* the first commit */
    char c1[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "first", "alice", c1));
    CHECK(strlen(c1) == MUSE_ID_LEN && strncmp(c1, "sha256:", 7) == 0);
    CHECK_OK(muse_repository_revparse(repo, "HEAD", id));
    CHECK_STR(id, c1);
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 0);
    muse_status_list_free(st);
    CHECK_OK(muse_repository_log(repo, "HEAD", 0, &log));
    CHECK(muse_commit_list_len(log) == 1);
    const muse_commit *c = log_at(log, 0);
    CHECK_STR(muse_commit_id(c), c1);
    CHECK_STR(muse_commit_message(c), "first");
    CHECK_STR(muse_commit_author(c), "alice");
    CHECK_STR(muse_commit_branch(c), "main");
    CHECK(muse_commit_parent_count(c) == 0);
    muse_commit_list_free(log);

    /* a branch at HEAD, checked out */
    char at[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_create_branch(repo, "feature", NULL, at));
    CHECK_STR(at, c1);
    CHECK_OK(muse_repository_checkout(repo, "feature", false));
    check_head_branch(repo, "feature");

    /* edit, delete, create: status and diff against HEAD */
    put_file("README", "hello feature\n");
    char *notes = path_join(g_root, "notes.txt");
    CHECK(unlink(notes) == 0);
    free(notes);
    put_file("new.txt", "new\n");
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 3);
    CHECK_STATUS_ENTRY(st, "README", MUSE_FILE_UNCHANGED, MUSE_FILE_MODIFIED);
    CHECK_STATUS_ENTRY(st, "notes.txt", MUSE_FILE_UNCHANGED, MUSE_FILE_DELETED);
    CHECK_STATUS_ENTRY(st, "new.txt", MUSE_FILE_UNCHANGED, MUSE_FILE_UNTRACKED);
    muse_status_list_free(st);
    char b_hello[MUSE_ID_BUFSIZE], b_feature[MUSE_ID_BUFSIZE], b_new[MUSE_ID_BUFSIZE],
        b_notes[MUSE_ID_BUFSIZE], b_main[MUSE_ID_BUFSIZE];
    blob_of("hello\n", b_hello);
    blob_of("hello feature\n", b_feature);
    blob_of("new\n", b_new);
    blob_of("notes\n", b_notes);
    blob_of("hello main\n", b_main);
    muse_diff_list *d = NULL;
    CHECK_OK(muse_repository_diff(repo, NULL, NULL, &d));
    CHECK(muse_diff_list_len(d) == 3);
    check_diff_entry(d, 0, "README", MUSE_FILE_MODIFIED, b_hello, b_feature);
    check_diff_entry(d, 1, "new.txt", MUSE_FILE_ADDED, NULL, b_new);
    check_diff_entry(d, 2, "notes.txt", MUSE_FILE_DELETED, b_notes, NULL);
    /* the patches: the working-tree side of new.txt is read from the file (never added) */
    check_diff_patch(d, 0, "diff --git a/README b/README\n--- a/README\n+++ b/README\n"
                           "@@ -1 +1 @@\n-hello\n+hello feature\n");
    check_diff_patch(d, 1, "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n"
                           "+++ b/new.txt\n@@ -0,0 +1 @@\n+new\n");
    check_diff_patch(d, 2, "diff --git a/notes.txt b/notes.txt\ndeleted file mode 100644\n--- a/notes.txt\n"
                           "+++ /dev/null\n@@ -1 +0,0 @@\n-notes\n");
    {
        const char *patch = SENTINEL;
        CHECK(muse_diff_list_get_patch(d, 3, &patch, NULL) == MUSE_E_INVALID_INPUT);
        CHECK(muse_diff_list_get_patch(d, 0, NULL, NULL) == MUSE_E_NULL_ARG);
        CHECK(muse_diff_list_get_patch(NULL, 0, &patch, NULL) == MUSE_E_NULL_ARG);
    }
    muse_diff_list_free(d);

    /* stage and commit the edits on the branch */
    CHECK_OK(muse_repository_add_all(repo, &stats));
    CHECK(stats.staged == 2 && stats.removed == 1);
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK_STATUS_ENTRY(st, "README", MUSE_FILE_MODIFIED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "notes.txt", MUSE_FILE_DELETED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "new.txt", MUSE_FILE_ADDED, MUSE_FILE_UNCHANGED);
    muse_status_list_free(st);
    char c2[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "feature work", NULL, c2));
    CHECK(strcmp(c2, c1) != 0);

    /* diff between revisions (branch names and HEAD~1) */
    CHECK_OK(muse_repository_diff(repo, "main", "feature", &d));
    CHECK(muse_diff_list_len(d) == 3);
    check_diff_entry(d, 0, "README", MUSE_FILE_MODIFIED, b_hello, b_feature);
    check_diff_entry(d, 1, "new.txt", MUSE_FILE_ADDED, NULL, b_new);
    check_diff_entry(d, 2, "notes.txt", MUSE_FILE_DELETED, b_notes, NULL);
    muse_diff_list_free(d);
    CHECK_OK(muse_repository_diff(repo, "feature", "HEAD~1", &d));
    CHECK(muse_diff_list_len(d) == 3);
    check_diff_entry(d, 0, "README", MUSE_FILE_MODIFIED, b_feature, b_hello);
    check_diff_entry(d, 1, "new.txt", MUSE_FILE_DELETED, b_new, NULL);
    check_diff_patch(d, 0, "diff --git a/README b/README\n--- a/README\n+++ b/README\n"
                           "@@ -1 +1 @@\n-hello feature\n+hello\n");
    muse_diff_list_free(d);
    CHECK_OK(muse_repository_diff(repo, NULL, NULL, &d)); /* clean tree */
    CHECK(muse_diff_list_len(d) == 0);
    muse_diff_list_free(d);

    /* back to main: the tree follows */
    CHECK_OK(muse_repository_checkout(repo, "main", false));
    check_head_branch(repo, "main");
    check_file("README", "hello\n");
    check_file("notes.txt", "notes\n");
    CHECK(!exists("new.txt"));

    /* a diverging change on main */
    put_file("README", "hello main\n");
    const char *readme[] = {"README"};
    CHECK_OK(muse_repository_add(repo, readme, 1, NULL));
    char c3[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "main work", "alice", c3));

    /* merge with a conflict on README */
    muse_merge_kind kind = MUSE_MERGE_UP_TO_DATE;
    char merged[MUSE_ID_BUFSIZE] = "untouched";
    muse_path_list *conflicts = NULL;
    CHECK_OK(muse_repository_merge(repo, "feature", "bob", &kind, merged, &conflicts));
    CHECK(kind == MUSE_MERGE_CONFLICTS);
    CHECK_STR(merged, "");
    CHECK(muse_path_list_len(conflicts) == 1);
    const char *cp = NULL;
    CHECK_OK(muse_path_list_get(conflicts, 0, &cp));
    CHECK_STR(cp, "README");
    CHECK_ERR(muse_path_list_get(conflicts, 1, &cp), MUSE_E_INVALID_INPUT);
    muse_path_list_free(conflicts);
    char *body = get_file("README");
    /* git's diff3 style: ours, the merge base's line, theirs */
    CHECK(body != NULL && strstr(body, "<<<<<<< HEAD\nhello main\n||||||| base\n") != NULL);
    CHECK(body != NULL && strstr(body, "=======\nhello feature\n>>>>>>> feature\n") != NULL);
    free(body);
    check_file("new.txt", "new\n"); /* the clean part of the merge */
    CHECK(!exists("notes.txt"));
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK_STATUS_ENTRY(st, "new.txt", MUSE_FILE_ADDED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "notes.txt", MUSE_FILE_DELETED, MUSE_FILE_UNCHANGED);
    CHECK_STATUS_ENTRY(st, "README", MUSE_FILE_UNCHANGED, MUSE_FILE_MODIFIED);
    muse_status_list_free(st);

    /* refusals while the merge is in progress */
    strcpy(id, "untouched");
    CHECK_ERR(muse_repository_commit(repo, "too early", NULL, id), MUSE_E_INVALID_INPUT);
    CHECK(strstr(muse_last_error_message(), "README") != NULL);
    CHECK_STR(id, "untouched");
    CHECK_ERR(muse_repository_checkout(repo, "feature", false), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_merge(repo, "feature", NULL, &kind, NULL, NULL), MUSE_E_INVALID_INPUT);

    /* abort restores main; the same merge conflicts again */
    CHECK_OK(muse_repository_merge_abort(repo));
    check_file("README", "hello main\n");
    check_file("notes.txt", "notes\n");
    CHECK(!exists("new.txt"));
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 0);
    muse_status_list_free(st);
    CHECK_ERR(muse_repository_merge_abort(repo), MUSE_E_INVALID_INPUT);
    kind = MUSE_MERGE_UP_TO_DATE;
    CHECK_OK(muse_repository_merge(repo, "feature", "bob", &kind, NULL, NULL));
    CHECK(kind == MUSE_MERGE_CONFLICTS);

    /* resolve, add, commit: two parents */
    put_file("README", "hello merged\n");
    CHECK_OK(muse_repository_add(repo, readme, 1, NULL));
    char c4[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "merge feature", "bob", c4));
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 0);
    muse_status_list_free(st);
    check_head_branch(repo, "main");

    CHECK_OK(muse_repository_log(repo, "main", 0, &log));
    CHECK(muse_commit_list_len(log) == 4);
    c = log_at(log, 0);
    CHECK_STR(muse_commit_id(c), c4);
    CHECK_STR(muse_commit_message(c), "merge feature");
    CHECK_STR(muse_commit_author(c), "bob");
    CHECK(muse_commit_parent_count(c) == 2);
    CHECK_STR(muse_commit_parent(c, 0), c3);
    CHECK_STR(muse_commit_parent(c, 1), c2);
    CHECK(muse_commit_parent(c, 2) == NULL);
    /* every commit once, newest first */
    CHECK_STR(muse_commit_id(log_at(log, 1)), c3);
    CHECK_STR(muse_commit_id(log_at(log, 2)), c2);
    CHECK_STR(muse_commit_id(log_at(log, 3)), c1);
    CHECK(muse_commit_parent_count(log_at(log, 3)) == 0);
    const muse_commit *none = SENTINEL;
    CHECK_ERR(muse_commit_list_get(log, 4, &none), MUSE_E_INVALID_INPUT);
    CHECK(none == SENTINEL);
    muse_commit_list_free(log);
    /* max_count, and the log of another revision */
    CHECK_OK(muse_repository_log(repo, NULL, 2, &log));
    CHECK(muse_commit_list_len(log) == 2);
    CHECK_STR(muse_commit_id(log_at(log, 1)), c3);
    muse_commit_list_free(log);
    CHECK_OK(muse_repository_log(repo, "feature", 0, &log));
    CHECK(muse_commit_list_len(log) == 2);
    CHECK_STR(muse_commit_id(log_at(log, 0)), c2);
    CHECK_STR(muse_commit_id(log_at(log, 1)), c1);
    CHECK_STR(muse_commit_message(log_at(log, 0)), "feature work");
    muse_commit_list_free(log);

    /* revisions */
    CHECK_OK(muse_repository_revparse(repo, "HEAD~1", id));
    CHECK_STR(id, c3);
    CHECK_OK(muse_repository_revparse(repo, "HEAD^2", id));
    CHECK_STR(id, c2);
    CHECK_OK(muse_repository_revparse(repo, "main~2", id));
    CHECK_STR(id, c1);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.10s", c2 + 7); /* a short ID */
    CHECK_OK(muse_repository_revparse(repo, prefix, id));
    CHECK_STR(id, c2);

    /* the merged tree */
    check_file("README", "hello merged\n");
    check_file("new.txt", "new\n");
    CHECK(!exists("notes.txt"));
    CHECK_OK(muse_repository_diff(repo, "HEAD~1", "HEAD", &d));
    CHECK(muse_diff_list_len(d) == 3);
    char b_merged[MUSE_ID_BUFSIZE];
    blob_of("hello merged\n", b_merged);
    check_diff_entry(d, 0, "README", MUSE_FILE_MODIFIED, b_main, b_merged);
    muse_diff_list_free(d);

    /* merging again: up to date */
    kind = MUSE_MERGE_CONFLICTS;
    strcpy(merged, "untouched");
    conflicts = NULL;
    CHECK_OK(muse_repository_merge(repo, "feature", NULL, &kind, merged, &conflicts));
    CHECK(kind == MUSE_MERGE_UP_TO_DATE);
    CHECK_STR(merged, "");
    CHECK(conflicts != NULL && muse_path_list_len(conflicts) == 0);
    muse_path_list_free(conflicts);

    /* a fast-forward: checkout -b topic, commit, back to main, merge */
    CHECK_OK(muse_repository_checkout_branch(repo, "topic", true, false));
    check_head_branch(repo, "topic");
    put_file("topic.txt", "topic\n");
    const char *tp[] = {"topic.txt"};
    CHECK_OK(muse_repository_add(repo, tp, 1, NULL));
    char c5[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "topic", NULL, c5));
    CHECK_OK(muse_repository_checkout_branch(repo, "main", false, false));
    CHECK(!exists("topic.txt"));
    kind = MUSE_MERGE_UP_TO_DATE;
    CHECK_OK(muse_repository_merge(repo, "topic", NULL, &kind, merged, NULL));
    CHECK(kind == MUSE_MERGE_FAST_FORWARD);
    CHECK_STR(merged, c5);
    CHECK_OK(muse_repository_revparse(repo, "main", id));
    CHECK_STR(id, c5);
    check_file("topic.txt", "topic\n");

    /* a clean three-way merge makes a merge commit */
    CHECK_OK(muse_repository_create_branch(repo, "side", "HEAD", NULL));
    put_file("main-only.txt", "m\n");
    const char *mo[] = {"main-only.txt"};
    CHECK_OK(muse_repository_add(repo, mo, 1, NULL));
    char c6[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "main only", NULL, c6));
    CHECK_OK(muse_repository_checkout(repo, "side", false));
    put_file("side-only.txt", "s\n");
    const char *so[] = {"side-only.txt"};
    CHECK_OK(muse_repository_add(repo, so, 1, NULL));
    char c7[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_commit(repo, "side only", NULL, c7));
    CHECK_OK(muse_repository_checkout(repo, "main", false));
    CHECK_OK(muse_repository_merge(repo, "side", "carol", &kind, merged, NULL));
    CHECK(kind == MUSE_MERGE_MERGED);
    CHECK_OK(muse_repository_revparse(repo, "HEAD", id));
    CHECK_STR(id, merged);
    CHECK_OK(muse_repository_log(repo, "HEAD", 1, &log));
    c = log_at(log, 0);
    CHECK_STR(muse_commit_author(c), "carol");
    CHECK(muse_commit_parent_count(c) == 2);
    CHECK_STR(muse_commit_parent(c, 0), c6);
    CHECK_STR(muse_commit_parent(c, 1), c7);
    muse_commit_list_free(log);
    check_file("side-only.txt", "s\n");
    check_file("main-only.txt", "m\n");

    /* a detached checkout: HEAD names no branch */
    CHECK_OK(muse_repository_checkout(repo, "HEAD~1", false));
    CHECK_OK(muse_repository_revparse(repo, "HEAD", id));
    CHECK_STR(id, c6);
    char buf[64] = "untouched";
    CHECK_ERR(muse_repository_head_branch(repo, buf, sizeof buf, NULL), MUSE_E_NOT_FOUND);
    CHECK_STR(buf, "untouched");
    CHECK(!exists("side-only.txt"));
    CHECK_OK(muse_repository_checkout(repo, "main", false));
    check_head_branch(repo, "main");
    CHECK(exists("side-only.txt"));

    /* a dirty tree refuses checkout unless forced */
    put_file("README", "dirty\n");
    CHECK_ERR(muse_repository_checkout(repo, "feature", false), MUSE_E_INVALID_INPUT);
    check_head_branch(repo, "main");
    check_file("README", "dirty\n");
    CHECK_OK(muse_repository_checkout(repo, "feature", true));
    check_head_branch(repo, "feature");
    check_file("README", "hello feature\n");

    /* head_branch's size query */
    size_t needed = 0;
    CHECK_ERR(muse_repository_head_branch(repo, NULL, 0, &needed), MUSE_E_BUFFER_TOO_SMALL);
    CHECK(needed == strlen("feature") + 1);

    muse_repository_free(repo);
}

static void test_errors(void) {
    muse_repository *repo = NULL;
    CHECK_OK(muse_repository_open(g_root, &repo));
    char id[MUSE_ID_BUFSIZE] = "untouched";

    /* not a repository */
    char *plain = path_join(g_tmp, "plain");
    mkdir(plain, 0755);
    muse_repository *r = SENTINEL;
    CHECK_ERR(muse_repository_open(plain, &r), MUSE_E_NOT_A_REPOSITORY);
    CHECK(strstr(muse_last_error_message(), "not a muse repository") != NULL);
    CHECK(r == SENTINEL);
    CHECK_ERR(muse_repository_discover(plain, &r), MUSE_E_NOT_A_REPOSITORY);
    CHECK(r == SENTINEL);
    CHECK_ERR(muse_repository_init(g_root, NULL, &r), MUSE_E_INVALID_INPUT); /* exists */
    CHECK(r == SENTINEL);
    CHECK_ERR(muse_repository_init(plain, "-bad", &r), MUSE_E_INVALID_INPUT);
    CHECK(r == SENTINEL);
    free(plain);

    /* unknown revisions */
    CHECK_ERR(muse_repository_revparse(repo, "no-such-branch", id), MUSE_E_NOT_FOUND);
    CHECK_STR(id, "untouched");
    CHECK_ERR(muse_repository_revparse(repo, "HEAD~99", id), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_revparse(repo, "~1", id), MUSE_E_INVALID_INPUT);
    CHECK_STR(id, "untouched");
    muse_commit_list *log = SENTINEL;
    CHECK_ERR(muse_repository_log(repo, "no-such-branch", 0, &log), MUSE_E_NOT_FOUND);
    CHECK(log == SENTINEL);
    muse_diff_list *d = SENTINEL;
    CHECK_ERR(muse_repository_diff(repo, "no-such-branch", NULL, &d), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_diff(repo, NULL, "no-such-branch", &d), MUSE_E_NOT_FOUND);
    CHECK(d == SENTINEL);
    CHECK_ERR(muse_repository_checkout(repo, "no-such-branch", false), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_checkout_branch(repo, "no-such-branch", false, false), MUSE_E_NOT_FOUND);
    muse_merge_kind kind = MUSE_MERGE_MERGED;
    CHECK_ERR(muse_repository_merge(repo, "no-such-branch", NULL, &kind, NULL, NULL), MUSE_E_NOT_FOUND);
    CHECK(kind == MUSE_MERGE_MERGED);
    CHECK_ERR(muse_repository_create_branch(repo, "x", "no-such-branch", NULL), MUSE_E_NOT_FOUND);

    /* refusals */
    CHECK_ERR(muse_repository_create_branch(repo, "main", NULL, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_create_branch(repo, "bad..name", NULL, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_checkout_branch(repo, "main", true, false), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_commit(repo, "nothing", NULL, id), MUSE_E_INVALID_INPUT);
    CHECK(strstr(muse_last_error_message(), "nothing to commit") != NULL);
    CHECK_STR(id, "untouched");
    const char *nomatch[] = {"does/not/exist"};
    CHECK_ERR(muse_repository_add(repo, nomatch, 1, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_merge_abort(repo), MUSE_E_INVALID_INPUT);

    /* NULL arguments */
    muse_status_list *st = SENTINEL;
    muse_add_stats stats;
    const char *one[] = {"README"};
    const char *with_null[] = {"README", NULL};
    CHECK_ERR(muse_repository_open(NULL, &r), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_open(g_root, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_discover(g_root, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_init(NULL, NULL, &r), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_init(g_root, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK(r == SENTINEL);
    CHECK_ERR(muse_repository_add(NULL, one, 1, &stats), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_add(repo, NULL, 1, &stats), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_add(repo, with_null, 2, &stats), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_add_all(NULL, &stats), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_commit(NULL, "m", NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_commit(repo, NULL, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_commit(repo, "m", NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_status(NULL, &st), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_status(repo, NULL), MUSE_E_NULL_ARG);
    CHECK(st == SENTINEL);
    CHECK_ERR(muse_repository_diff(NULL, NULL, NULL, &d), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_diff(repo, NULL, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_checkout(NULL, "main", false), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_checkout(repo, NULL, false), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_checkout_branch(repo, NULL, false, false), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_create_branch(NULL, "x", NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_create_branch(repo, NULL, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_merge(NULL, "feature", NULL, &kind, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_merge(repo, NULL, NULL, &kind, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_merge(repo, "feature", NULL, NULL, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_merge_abort(NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_revparse(NULL, "HEAD", id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_revparse(repo, NULL, id), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_revparse(repo, "HEAD", NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_log(NULL, NULL, 0, &log), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_log(repo, NULL, 0, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_head_branch(NULL, id, sizeof id, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_head_branch(repo, NULL, 8, NULL), MUSE_E_NULL_ARG);
    CHECK_STR(id, "untouched");
    CHECK(log == SENTINEL && d == SENTINEL);

    /* list accessors: NULL lists, out-of-range indexes, NULL outs */
    CHECK(muse_status_list_len(NULL) == 0);
    CHECK(muse_diff_list_len(NULL) == 0);
    CHECK(muse_path_list_len(NULL) == 0);
    CHECK(muse_commit_list_len(NULL) == 0);
    const char *p = NULL, *o = NULL, *n = NULL;
    muse_file_status a = MUSE_FILE_UNCHANGED, b = MUSE_FILE_UNCHANGED;
    CHECK_ERR(muse_status_list_get(NULL, 0, &p, &a, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_diff_list_get(NULL, 0, &p, &a, &o, &n), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_path_list_get(NULL, 0, &p), MUSE_E_NULL_ARG);
    const muse_commit *c = NULL;
    CHECK_ERR(muse_commit_list_get(NULL, 0, &c), MUSE_E_NULL_ARG);
    put_file("untracked.txt", "u\n");
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK(muse_status_list_len(st) == 1);
    CHECK_ERR(muse_status_list_get(st, 0, NULL, &a, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_status_list_get(st, 0, &p, NULL, &b), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_status_list_get(st, 0, &p, &a, NULL), MUSE_E_NULL_ARG);
    p = SENTINEL;
    CHECK_ERR(muse_status_list_get(st, 1, &p, &a, &b), MUSE_E_INVALID_INPUT);
    CHECK(p == SENTINEL);
    muse_status_list_free(st);
    CHECK_OK(muse_repository_diff(repo, NULL, NULL, &d));
    CHECK(muse_diff_list_len(d) == 1);
    CHECK_ERR(muse_diff_list_get(d, 0, &p, &a, NULL, &n), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_diff_list_get(d, 1, &p, &a, &o, &n), MUSE_E_INVALID_INPUT);
    muse_diff_list_free(d);
    char *u = path_join(g_root, "untracked.txt");
    unlink(u);
    free(u);
    CHECK_OK(muse_repository_log(repo, NULL, 1, &log));
    CHECK_ERR(muse_commit_list_get(log, 0, NULL), MUSE_E_NULL_ARG);
    muse_commit_list_free(log);

    /* freeing NULL is a no-op */
    muse_repository_free(NULL);
    muse_status_list_free(NULL);
    muse_diff_list_free(NULL);
    muse_path_list_free(NULL);
    muse_commit_list_free(NULL);
    muse_repository_free(repo);
}

/* cherry-pick, revert, reset and tags through muse.h */
static void test_history(void) {
    char *saved = g_root;
    g_root = path_join(g_tmp, "history");
    muse_repository *repo = NULL;
    CHECK_OK(muse_repository_init(g_root, NULL, &repo));
    muse_add_stats as;
    char c1[MUSE_ID_BUFSIZE], c2[MUSE_ID_BUFSIZE], t1[MUSE_ID_BUFSIZE], id[MUSE_ID_BUFSIZE];
    put_file("f.txt", "1\n2\n3\n4\n5\n6\n7\n8\n");
    CHECK_OK(muse_repository_add_all(repo, &as));
    CHECK_OK(muse_repository_commit(repo, "base", "alice", c1));
    CHECK_OK(muse_repository_create_branch(repo, "topic", NULL, NULL));
    CHECK_OK(muse_repository_checkout_branch(repo, "topic", false, false));
    put_file("f.txt", "1\ntwo\n3\n4\n5\n6\n7\n8\n");
    CHECK_OK(muse_repository_add_all(repo, &as));
    CHECK_OK(muse_repository_commit(repo, "topic two", "bob", t1));
    CHECK_OK(muse_repository_checkout_branch(repo, "main", false, false));
    put_file("f.txt", "1\n2\n3\n4\n5\n6\n7\neight\n");
    CHECK_OK(muse_repository_add_all(repo, &as));
    CHECK_OK(muse_repository_commit(repo, "main eight", "alice", c2));

    /* cherry-pick: line 2 comes over, line 8 stays */
    muse_merge_kind kind = MUSE_MERGE_CONFLICTS;
    muse_path_list *conflicts = NULL;
    CHECK_OK(muse_repository_cherry_pick(repo, "topic", &kind, id, &conflicts));
    CHECK(kind == MUSE_MERGE_MERGED);
    CHECK(muse_path_list_len(conflicts) == 0);
    muse_path_list_free(conflicts);
    check_file("f.txt", "1\ntwo\n3\n4\n5\n6\n7\neight\n");
    CHECK_OK(muse_repository_cherry_pick(repo, "topic", &kind, NULL, NULL));
    CHECK(kind == MUSE_MERGE_UP_TO_DATE);
    /* revert it again */
    CHECK_OK(muse_repository_revert(repo, "HEAD", "carol", &kind, id, NULL));
    CHECK(kind == MUSE_MERGE_MERGED);
    check_file("f.txt", "1\n2\n3\n4\n5\n6\n7\neight\n");
    CHECK_ERR(muse_repository_pick_continue(repo, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_cherry_pick(repo, "nope", &kind, NULL, NULL), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_cherry_pick(repo, "topic", NULL, NULL, NULL), MUSE_E_NULL_ARG);

    /* tags */
    CHECK_OK(muse_repository_create_tag(repo, "v1", "HEAD~2", false, id));
    CHECK_STR(id, c2);
    CHECK_ERR(muse_repository_create_tag(repo, "v1", NULL, false, NULL), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_create_tag(repo, "bad name", NULL, false, NULL), MUSE_E_INVALID_INPUT);
    muse_ref_list *tags = NULL;
    CHECK_OK(muse_repository_tags(repo, &tags));
    CHECK(muse_ref_list_len(tags) == 1);
    const char *tn = NULL, *tc = NULL;
    CHECK_OK(muse_ref_list_get(tags, 0, &tn, &tc));
    CHECK_STR(tn, "v1");
    CHECK_STR(tc, c2);
    muse_ref_list_free(tags);

    /* reset --hard to the tag, then a bad mode */
    CHECK_OK(muse_repository_reset(repo, "v1", MUSE_RESET_HARD, id));
    CHECK_STR(id, c2);
    check_file("f.txt", "1\n2\n3\n4\n5\n6\n7\neight\n");
    CHECK_ERR(muse_repository_reset(repo, NULL, 7, NULL), MUSE_E_INVALID_INPUT);
    CHECK_OK(muse_repository_reset(repo, c1, MUSE_RESET_SOFT, NULL));
    muse_status_list *st = NULL;
    CHECK_OK(muse_repository_status(repo, &st));
    CHECK_STATUS_ENTRY(st, "f.txt", MUSE_FILE_MODIFIED, MUSE_FILE_UNCHANGED);
    muse_status_list_free(st);
    CHECK_OK(muse_repository_delete_tag(repo, "v1", id));
    CHECK_STR(id, c2);
    CHECK_ERR(muse_repository_delete_tag(repo, "v1", NULL), MUSE_E_NOT_FOUND);

    /* show: the commit and its patch against the first parent */
    muse_diff_list *d = NULL;
    CHECK_OK(muse_repository_show(repo, "topic", id, &d));
    CHECK_STR(id, t1);
    CHECK(muse_diff_list_len(d) == 1);
    const char *patch = NULL;
    CHECK_OK(muse_diff_list_get_patch(d, 0, &patch, NULL));
    CHECK(patch != NULL && strstr(patch, "-2\n+two\n") != NULL);
    muse_diff_list_free(d);
    CHECK_ERR(muse_repository_show(repo, "nope", NULL, &d), MUSE_E_NOT_FOUND);

    /* stash: push, list, pop, drop */
    bool stashed = true;
    CHECK_OK(muse_repository_reset(repo, NULL, MUSE_RESET_HARD, NULL));
    CHECK_OK(muse_repository_stash(repo, NULL, &stashed, id));
    CHECK(!stashed);
    CHECK_STR(id, "");
    put_file("f.txt", "1\n2\n3\nfour\n5\n6\n7\neight\n");
    CHECK_OK(muse_repository_stash(repo, "mine", &stashed, id));
    CHECK(stashed);
    check_file("f.txt", "1\n2\n3\n4\n5\n6\n7\n8\n");
    muse_ref_list *sl = NULL;
    CHECK_OK(muse_repository_stash_list(repo, &sl));
    CHECK(muse_ref_list_len(sl) == 1);
    CHECK_OK(muse_ref_list_get(sl, 0, &tn, &tc));
    CHECK_STR(tn, "On main: mine");
    CHECK_STR(tc, id);
    muse_ref_list_free(sl);
    CHECK_OK(muse_repository_stash_apply(repo, 0, true, &kind, &conflicts));
    CHECK(kind == MUSE_MERGE_MERGED);
    muse_path_list_free(conflicts);
    check_file("f.txt", "1\n2\n3\nfour\n5\n6\n7\neight\n");
    CHECK_ERR(muse_repository_stash_drop(repo, 0, NULL), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_stash_apply(repo, 0, false, &kind, NULL), MUSE_E_NOT_FOUND);
    muse_repository_free(repo);
    free(g_root);
    g_root = saved;
}

int main(void) {
    g_tmp = make_tmpdir("repository");
    g_root = path_join(g_tmp, "work");
    test_workflow();
    test_open_and_discover();
    test_errors();
    test_history();
    rm_rf(g_tmp);
    free(g_root);
    free(g_tmp);
    return harness_finish("test_repository");
}
