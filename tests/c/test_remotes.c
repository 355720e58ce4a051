/*
 * Remotes from C (SPEC section 13): clone a local repository, commit,
 * push (refused to the checked-out branch of a repository that is not
 * bare, then accepted once it is bare), fetch, pull (fast-forward and
 * merge), a rejected non-fast-forward push and a forced one, the
 * configured remotes, and the error cases (unknown remote, unsupported
 * URL, unreachable URL, NULL arguments). Results are checked against
 * independent facts: file bytes on disk, IDs returned by earlier calls,
 * the server's refs read through its own handle.
 */
#include "harness.h"

static char *g_tmp;

static void put(const char *root, const char *rel, const char *text) {
    char *p = path_join(root, rel);
    write_text(p, text);
    free(p);
}

static void check_file(const char *root, const char *rel, const char *want) {
    char *p = path_join(root, rel);
    size_t len = 0;
    unsigned char *data = read_file(p, &len);
    free(p);
    char *got = NULL;
    if (data) {
        got = malloc(len + 1);
        if (!got) abort();
        memcpy(got, data, len);
        got[len] = '\0';
        free(data);
    }
    CHECK_STR(got, want);
    free(got);
}

/* Commits every change of the working tree as `msg`; the ID goes to `id`. */
static void commit_all(muse_repository *repo, const char *msg, char id[MUSE_ID_BUFSIZE]) {
    CHECK_OK(muse_repository_add_all(repo, NULL));
    CHECK_OK(muse_repository_commit(repo, msg, "tester", id));
}

static void check_rev(const muse_repository *repo, const char *rev, const char *want) {
    char id[MUSE_ID_BUFSIZE] = "";
    CHECK_OK(muse_repository_revparse(repo, rev, id));
    CHECK_STR(id, want);
}

/* Sets `[core] bare = true` in the repository's config.toml (git's
 * core.bare): a push may then move its checked-out branch. */
static void make_bare(const char *root) {
    char *cfg = path_join(root, ".muse/config.toml");
    size_t len = 0;
    unsigned char *data = read_file(cfg, &len);
    if (!data) abort();
    const char *head = "[core]\n";
    CHECK(len >= strlen(head) && memcmp(data, head, strlen(head)) == 0);
    FILE *f = fopen(cfg, "wb");
    if (!f) abort();
    fputs("[core]\nbare = true\n", f);
    fwrite(data + strlen(head), 1, len - strlen(head), f);
    fclose(f);
    free(data);
    free(cfg);
}

/* Checks entry `i` of a ref update list. */
static void check_update(const muse_ref_update_list *list, size_t i, const char *name, const char *old_id,
                         const char *new_id, muse_ref_change change) {
    const char *n = NULL, *o = NULL, *w = NULL;
    muse_ref_change c = MUSE_REF_DELETED;
    CHECK_OK(muse_ref_update_list_get(list, i, &n, &o, &w, &c));
    CHECK_STR(n, name);
    CHECK_STR(o, old_id);
    CHECK_STR(w, new_id);
    CHECK(c == change);
}

static void test_clone_push_fetch_pull(void) {
    char *server = path_join(g_tmp, "server");
    char *a_root = path_join(g_tmp, "a");
    char *b_root = path_join(g_tmp, "b");

    /* The server: one commit on main. */
    muse_repository *srv = NULL;
    CHECK_OK(muse_repository_init(server, NULL, &srv));
    put(server, "f.txt", "f1\n");
    put(server, "g.txt", "g1\n");
    char c1[MUSE_ID_BUFSIZE] = "";
    commit_all(srv, "first", c1);

    /* Two clones: the remote's HEAD branch, and main named explicitly. */
    muse_repository *a = NULL, *b = NULL;
    CHECK_OK(muse_repository_clone(server, a_root, NULL, &a));
    CHECK_OK(muse_repository_clone(server, b_root, "main", &b));
    if (!a || !b) abort();
    check_file(a_root, "f.txt", "f1\n");
    check_file(b_root, "g.txt", "g1\n");
    check_rev(a, "HEAD", c1);
    check_rev(a, "origin/main", c1);
    char branch[64] = "";
    CHECK_OK(muse_head_branch(a, branch, sizeof branch, NULL));
    CHECK_STR(branch, "main");

    /* The configured remote. */
    muse_remote_list *remotes = NULL;
    CHECK_OK(muse_repository_remotes(a, &remotes));
    CHECK(muse_remote_list_len(remotes) == 1);
    const char *name = NULL, *url = NULL;
    CHECK_OK(muse_remote_list_get(remotes, 0, &name, &url));
    CHECK_STR(name, "origin");
    CHECK_STR(url, server);
    CHECK_ERR(muse_remote_list_get(remotes, 1, &name, &url), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_remote_list_get(remotes, 0, NULL, &url), MUSE_E_NULL_ARG);
    muse_remote_list_free(remotes);

    /* A commits; the push is refused while the server is not bare (its
     * checked-out branch), accepted once it is. */
    put(a_root, "f.txt", "f2\n");
    char c2[MUSE_ID_BUFSIZE] = "";
    commit_all(a, "second", c2);
    CHECK_ERR(muse_repository_push(a, NULL, NULL, 0, false, NULL, NULL), MUSE_E_REJECTED);
    CHECK(strstr(muse_last_error_message(), "checked-out branch") != NULL);
    check_rev(srv, "main", c1);
    make_bare(server);

    muse_mpack_stats stats;
    memset(&stats, 0xff, sizeof stats);
    muse_ref_update_list *updates = NULL;
    CHECK_OK(muse_repository_push(a, NULL, NULL, 0, false, &stats, &updates));
    CHECK(stats.commits_written == 1 && stats.snapshots_written == 1 && stats.blobs_written == 1);
    CHECK(muse_ref_update_list_len(updates) == 1);
    check_update(updates, 0, "main", c1, c2, MUSE_REF_FAST_FORWARD);
    CHECK_ERR(muse_ref_update_list_get(updates, 1, &name, NULL, NULL, NULL), MUSE_E_INVALID_INPUT);
    muse_ref_update_list_free(updates);
    check_rev(srv, "main", c2);
    check_rev(a, "origin/main", c2);
    /* Nothing left to push: an empty list. */
    const char *main_branch[] = {"main"};
    CHECK_OK(muse_repository_push(a, "origin", main_branch, 1, false, &stats, &updates));
    CHECK(muse_ref_update_list_len(updates) == 0 && stats.commits_written == 0);
    muse_ref_update_list_free(updates);

    /* B fetches: only its remote-tracking ref moves. */
    muse_ref_update_list *refs = NULL;
    memset(&stats, 0xff, sizeof stats);
    CHECK_OK(muse_repository_fetch(b, NULL, false, &stats, &refs));
    CHECK(stats.commits_written == 1 && stats.blobs_written == 1 && stats.blobs_skipped == 0);
    CHECK(muse_ref_update_list_len(refs) == 1);
    check_update(refs, 0, "origin/main", c1, c2, MUSE_REF_FAST_FORWARD);
    muse_ref_update_list_free(refs);
    check_rev(b, "HEAD", c1);
    check_rev(b, "origin/main", c2);
    check_file(b_root, "f.txt", "f1\n");
    CHECK_OK(muse_repository_fetch(b, "origin", false, &stats, &refs));
    CHECK(stats.commits_written == 0);
    check_update(refs, 0, "origin/main", c2, c2, MUSE_REF_UP_TO_DATE);
    muse_ref_update_list_free(refs);
    CHECK_OK(muse_repository_fetch(b, NULL, true, NULL, NULL)); /* optional outputs */

    /* B commits on the old base: its push is not a fast-forward. */
    put(b_root, "g.txt", "g2\n");
    char c3[MUSE_ID_BUFSIZE] = "";
    commit_all(b, "b changes g", c3);
    CHECK_ERR(muse_repository_push(b, NULL, main_branch, 1, false, NULL, NULL), MUSE_E_REJECTED);
    CHECK(strstr(muse_last_error_message(), "non-fast-forward") != NULL);
    check_rev(srv, "main", c2);

    /* B pulls: a merge commit (two parents), then its push goes through. */
    muse_merge_kind kind = MUSE_MERGE_CONFLICTS;
    char merged[MUSE_ID_BUFSIZE] = "";
    muse_path_list *conflicts = NULL;
    CHECK_OK(muse_repository_pull(b, NULL, NULL, "bob", &kind, merged, &conflicts, &stats));
    CHECK(kind == MUSE_MERGE_MERGED);
    CHECK(muse_path_list_len(conflicts) == 0);
    muse_path_list_free(conflicts);
    CHECK(stats.commits_written == 0); /* fetched above */
    check_file(b_root, "f.txt", "f2\n");
    check_file(b_root, "g.txt", "g2\n");
    muse_commit *mc = NULL;
    CHECK_OK(muse_commit_read(b, merged, &mc));
    if (mc) {
        CHECK(muse_commit_parent_count(mc) == 2);
        CHECK_STR(muse_commit_parent(mc, 0), c3);
        CHECK_STR(muse_commit_parent(mc, 1), c2);
        CHECK_STR(muse_commit_author(mc), "bob");
        muse_commit_free(mc);
    }
    CHECK_OK(muse_repository_push(b, NULL, NULL, 0, false, NULL, NULL));
    check_rev(srv, "main", merged);

    /* A pulls: a fast-forward to the merge; again: up to date. */
    char got[MUSE_ID_BUFSIZE] = "x";
    CHECK_OK(muse_repository_pull(a, "origin", "main", NULL, &kind, got, NULL, NULL));
    CHECK(kind == MUSE_MERGE_FAST_FORWARD);
    CHECK_STR(got, merged);
    check_file(a_root, "g.txt", "g2\n");
    CHECK_OK(muse_repository_pull(a, NULL, NULL, NULL, &kind, got, NULL, NULL));
    CHECK(kind == MUSE_MERGE_UP_TO_DATE);
    CHECK_STR(got, "");

    /* A and B both commit; A pushes; B forces its own history over it. */
    put(a_root, "f.txt", "from a\n");
    char ca[MUSE_ID_BUFSIZE] = "";
    commit_all(a, "a", ca);
    CHECK_OK(muse_repository_push(a, NULL, NULL, 0, false, NULL, NULL));
    put(b_root, "f.txt", "from b\n");
    char cb[MUSE_ID_BUFSIZE] = "";
    commit_all(b, "b", cb);
    CHECK_ERR(muse_repository_push(b, NULL, NULL, 0, false, NULL, NULL), MUSE_E_REJECTED);
    CHECK_OK(muse_repository_push(b, NULL, NULL, 0, true, NULL, &updates));
    check_update(updates, 0, "main", ca, cb, MUSE_REF_FORCED);
    muse_ref_update_list_free(updates);
    check_rev(srv, "main", cb);

    /* Pulling the rewritten branch into A conflicts on f.txt. */
    CHECK_OK(muse_repository_pull(a, NULL, NULL, NULL, &kind, NULL, &conflicts, NULL));
    CHECK(kind == MUSE_MERGE_CONFLICTS);
    CHECK(muse_path_list_len(conflicts) == 1);
    const char *path = NULL;
    CHECK_OK(muse_path_list_get(conflicts, 0, &path));
    CHECK_STR(path, "f.txt");
    muse_path_list_free(conflicts);
    CHECK_OK(muse_repository_merge_abort(a));
    check_file(a_root, "f.txt", "from a\n");

    muse_repository_free(a);
    muse_repository_free(b);
    muse_repository_free(srv);
    free(server);
    free(a_root);
    free(b_root);
}

static void test_errors(void) {
    char *server = path_join(g_tmp, "server2");
    char *root = path_join(g_tmp, "clone2");
    muse_repository *srv = NULL, *repo = NULL;
    CHECK_OK(muse_repository_init(server, NULL, &srv));
    CHECK_OK(muse_repository_clone(server, root, NULL, &repo)); /* an empty remote */
    if (!repo) abort();

    /* Remotes: add, duplicates, bad names and URLs, remove. */
    CHECK_OK(muse_repository_remote_add(repo, "web", "http://127.0.0.1:1/alice/repo"));
    CHECK_ERR(muse_repository_remote_add(repo, "web", server), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_remote_add(repo, "ftp", "ftp://example.invalid/x"), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_remote_add(repo, "bad name", server), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_remote_add(repo, "x", NULL), MUSE_E_NULL_ARG);
    muse_remote_list *remotes = NULL;
    CHECK_OK(muse_repository_remotes(repo, &remotes));
    CHECK(muse_remote_list_len(remotes) == 2);
    const char *name = NULL, *url = NULL;
    CHECK_OK(muse_remote_list_get(remotes, 1, &name, &url));
    CHECK_STR(name, "web");
    CHECK_STR(url, "http://127.0.0.1:1/alice/repo");
    muse_remote_list_free(remotes);

    /* Nothing listens on port 1: a remote error. */
    CHECK_ERR(muse_repository_fetch(repo, "web", false, NULL, NULL), MUSE_E_REMOTE);
    CHECK(strstr(muse_last_error_message(), "127.0.0.1:1") != NULL);
    CHECK_ERR(muse_repository_fetch(repo, "nope", false, NULL, NULL), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_push(repo, "nope", NULL, 0, false, NULL, NULL), MUSE_E_NOT_FOUND);
    muse_merge_kind kind;
    CHECK_ERR(muse_repository_pull(repo, "nope", NULL, NULL, &kind, NULL, NULL, NULL), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_pull(repo, NULL, NULL, NULL, NULL, NULL, NULL, NULL), MUSE_E_NULL_ARG);
    const char *ghost[] = {"ghost"};
    CHECK_ERR(muse_repository_push(repo, NULL, ghost, 1, false, NULL, NULL), MUSE_E_NOT_FOUND);
    CHECK_ERR(muse_repository_push(repo, NULL, NULL, 1, false, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_fetch(NULL, NULL, false, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK_OK(muse_repository_remote_remove(repo, "web"));
    CHECK_ERR(muse_repository_remote_remove(repo, "web"), MUSE_E_NOT_FOUND);

    /* Clone: a destination that is not empty, a source that is not a
     * repository, an unsupported or unreachable URL, NULL arguments. */
    muse_repository *out = NULL;
    CHECK_ERR(muse_repository_clone(server, root, NULL, &out), MUSE_E_INVALID_INPUT);
    char *nothing = path_join(g_tmp, "nothing");
    char *dest = path_join(g_tmp, "dest");
    CHECK_ERR(muse_repository_clone(nothing, dest, NULL, &out), MUSE_E_NOT_A_REPOSITORY);
    CHECK_ERR(muse_repository_clone("ftp://example.invalid/x", dest, NULL, &out), MUSE_E_INVALID_INPUT);
    CHECK_ERR(muse_repository_clone("http://127.0.0.1:1/alice/repo", dest, NULL, &out), MUSE_E_REMOTE);
    CHECK_ERR(muse_repository_clone(server, dest, "nope", &out), MUSE_E_NOT_FOUND);
    CHECK(access(dest, F_OK) != 0); /* removed again: this call made it */
    CHECK_ERR(muse_repository_clone(NULL, dest, NULL, &out), MUSE_E_NULL_ARG);
    CHECK_ERR(muse_repository_clone(server, dest, NULL, NULL), MUSE_E_NULL_ARG);
    CHECK(out == NULL);

    /* The status codes of the remotes. */
    CHECK_STR(muse_status_name(MUSE_E_REJECTED), "MUSE_E_REJECTED");
    CHECK_STR(muse_status_name(MUSE_E_REMOTE), "MUSE_E_REMOTE");
    CHECK(MUSE_E_REJECTED == 12 && MUSE_E_REMOTE == 13);

    /* NULL lists. */
    CHECK(muse_remote_list_len(NULL) == 0);
    CHECK(muse_ref_update_list_len(NULL) == 0);
    muse_remote_list_free(NULL);
    muse_ref_update_list_free(NULL);

    muse_repository_free(repo);
    muse_repository_free(srv);
    free(nothing);
    free(dest);
    free(server);
    free(root);
}

int main(void) {
    g_tmp = make_tmpdir("remotes");
    test_clone_push_fetch_pull();
    test_errors();
    rm_rf(g_tmp);
    free(g_tmp);
    return harness_finish("test_remotes");
}
