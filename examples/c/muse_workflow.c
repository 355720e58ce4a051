/*
 * muse_workflow: the everyday porcelain of libmuse, from C.
 *
 *     muse_workflow DIR
 *
 * Creates a repository at DIR (which must not exist yet, or be empty and
 * outside any muse repository) and drives it the way a person at a shell
 * would: write files, add, commit, branch, checkout, edit, status, diff,
 * commit, checkout back, a merge that conflicts, its resolution (a commit
 * with two parents), the log, and revisions. Every step is printed; every
 * result is checked, and the program exits with status 1 (naming the
 * step) if one is not what git-like semantics promise.
 *
 * This file is meant to be copied: every call checks its status and
 * reports muse_last_error_message(). Build it with the Makefile beside it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "muse.h"

static const char *g_dir;

/* Prints the failed call with the library's message and exits. */
static void check(muse_status st, const char *what) {
    if (st != MUSE_OK) {
        fprintf(stderr, "muse_workflow: %s failed: %s: %s\n", what, muse_status_name(st),
                muse_last_error_message());
        exit(1);
    }
}

/* Exits when an expectation does not hold. */
static void expect(bool ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "muse_workflow: unexpected result: %s\n", what);
        exit(1);
    }
}

/* Expects `st` to be the error `want` (an error case of the API). */
static void expect_error(muse_status st, muse_status want, const char *what) {
    if (st != want) {
        fprintf(stderr, "muse_workflow: %s: got %s, expected %s (%s)\n", what, muse_status_name(st),
                muse_status_name(want), muse_last_error_message());
        exit(1);
    }
    printf("   expected error from %s: %s: %s\n", what, muse_status_name(st), muse_last_error_message());
}

static char *path_of(const char *rel) {
    size_t n = strlen(g_dir) + 1 + strlen(rel) + 1;
    char *p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%s", g_dir, rel);
    return p;
}

static void write_file(const char *rel, const char *text) {
    char *p = path_of(rel);
    FILE *f = fopen(p, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
    free(p);
}

/* True when the file `rel` holds exactly `text`. */
static bool file_is(const char *rel, const char *text) {
    char *p = path_of(rel);
    FILE *f = fopen(p, "rb");
    free(p);
    if (!f) return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static bool file_contains(const char *rel, const char *needle) {
    char *p = path_of(rel);
    FILE *f = fopen(p, "rb");
    free(p);
    if (!f) return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static const char *status_word(muse_file_status s) {
    switch (s) {
    case MUSE_FILE_UNCHANGED: return "-";
    case MUSE_FILE_ADDED: return "added";
    case MUSE_FILE_MODIFIED: return "modified";
    case MUSE_FILE_DELETED: return "deleted";
    case MUSE_FILE_UNTRACKED: return "untracked";
    }
    return "?";
}

/* Prints the status; returns the number of entries. */
static size_t print_status(const muse_repository *repo) {
    muse_status_list *st = NULL;
    check(muse_repository_status(repo, &st), "muse_repository_status");
    size_t n = muse_status_list_len(st);
    printf("   status: %zu path(s)\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *path = NULL;
        muse_file_status index, worktree;
        check(muse_status_list_get(st, i, &path, &index, &worktree), "muse_status_list_get");
        printf("     %-10s %-10s %s\n", status_word(index), status_word(worktree), path);
    }
    muse_status_list_free(st);
    return n;
}

/* The status of one path, or false when the path is clean. */
static bool status_of(const muse_repository *repo, const char *path, muse_file_status *index,
                      muse_file_status *worktree) {
    muse_status_list *st = NULL;
    check(muse_repository_status(repo, &st), "muse_repository_status");
    bool found = false;
    for (size_t i = 0; i < muse_status_list_len(st) && !found; i++) {
        const char *p = NULL;
        check(muse_status_list_get(st, i, &p, index, worktree), "muse_status_list_get");
        found = strcmp(p, path) == 0;
    }
    muse_status_list_free(st);
    return found;
}

static void add(const muse_repository *repo, const char *path) {
    const char *paths[] = {path};
    muse_add_stats stats;
    check(muse_repository_add(repo, paths, 1, &stats), "muse_repository_add");
    printf("$ add %s: %zu staged, %zu removed\n", path, stats.staged, stats.removed);
}

static void commit(const muse_repository *repo, const char *message, char id[MUSE_ID_BUFSIZE]) {
    check(muse_repository_commit(repo, message, "example <example@invalid>", id), "muse_repository_commit");
    printf("$ commit -m \"%s\": %.19s\n", message, id);
}

static void expect_head_branch(const muse_repository *repo, const char *want) {
    char branch[256];
    check(muse_repository_head_branch(repo, branch, sizeof branch, NULL), "muse_repository_head_branch");
    printf("   on branch %s\n", branch);
    expect(strcmp(branch, want) == 0, "HEAD is on the expected branch");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    muse_repository *repo = NULL;
    char c1[MUSE_ID_BUFSIZE], c2[MUSE_ID_BUFSIZE], c3[MUSE_ID_BUFSIZE], c4[MUSE_ID_BUFSIZE];
    char id[MUSE_ID_BUFSIZE];

    printf("$ init %s\n", g_dir);
    check(muse_repository_init(g_dir, NULL, &repo), "muse_repository_init");
    expect_head_branch(repo, "main");

    /* Write files, add, commit. */
    write_file("README", "hello\n");
    write_file("notes.txt", "notes\n");
    expect(print_status(repo) == 2, "two untracked files");
    add(repo, "README");
    add(repo, "notes.txt");
    commit(repo, "first", c1);
    expect(print_status(repo) == 0, "a clean tree after the commit");

    /* A branch, checked out; edit there, look at status and diff. */
    check(muse_repository_create_branch(repo, "feature", NULL, id), "muse_repository_create_branch");
    printf("$ branch feature: at %.19s\n", id);
    expect(strcmp(id, c1) == 0, "the new branch points at HEAD");
    check(muse_repository_checkout(repo, "feature", false), "muse_repository_checkout");
    printf("$ checkout feature\n");
    expect_head_branch(repo, "feature");
    write_file("README", "hello from feature\n");
    write_file("feature.txt", "feature\n");
    expect(print_status(repo) == 2, "one modified and one untracked file");
    muse_file_status index, worktree;
    expect(status_of(repo, "README", &index, &worktree) && index == MUSE_FILE_UNCHANGED &&
               worktree == MUSE_FILE_MODIFIED,
           "README is modified in the working tree");

    muse_diff_list *diff = NULL;
    check(muse_repository_diff(repo, NULL, NULL, &diff), "muse_repository_diff");
    printf("$ diff HEAD: %zu path(s)\n", muse_diff_list_len(diff));
    for (size_t i = 0; i < muse_diff_list_len(diff); i++) {
        const char *path = NULL, *old_id = NULL, *new_id = NULL;
        muse_file_status s;
        check(muse_diff_list_get(diff, i, &path, &s, &old_id, &new_id), "muse_diff_list_get");
        printf("     %-9s %s  %.19s -> %.19s\n", status_word(s), path, old_id ? old_id : "(none)",
               new_id ? new_id : "(none)");
    }
    expect(muse_diff_list_len(diff) == 2, "two changes against HEAD");
    muse_diff_list_free(diff);

    check(muse_repository_add_all(repo, NULL), "muse_repository_add_all");
    printf("$ add -A\n");
    commit(repo, "feature work", c2);

    /* Back to main: a diverging change to README. */
    check(muse_repository_checkout(repo, "main", false), "muse_repository_checkout");
    printf("$ checkout main\n");
    expect(file_is("README", "hello\n"), "README is main's again");
    write_file("README", "hello from main\n");
    add(repo, "README");
    commit(repo, "main work", c3);

    /* The merge conflicts on README. */
    muse_merge_kind kind;
    muse_path_list *conflicts = NULL;
    check(muse_repository_merge(repo, "feature", "example <example@invalid>", &kind, id, &conflicts),
          "muse_repository_merge");
    printf("$ merge feature: %s\n", kind == MUSE_MERGE_CONFLICTS ? "conflicts" : "no conflicts");
    expect(kind == MUSE_MERGE_CONFLICTS, "the merge conflicts");
    expect(muse_path_list_len(conflicts) == 1, "one conflicting path");
    const char *conflict = NULL;
    check(muse_path_list_get(conflicts, 0, &conflict), "muse_path_list_get");
    printf("   conflict: %s\n", conflict);
    expect(strcmp(conflict, "README") == 0, "README conflicts");
    muse_path_list_free(conflicts);
    expect(file_contains("README", "<<<<<<< HEAD\n"), "README holds conflict markers");
    expect(file_is("feature.txt", "feature\n"), "the clean part of the merge is in the tree");
    print_status(repo);

    /* Resolve, add, commit: a merge commit. */
    write_file("README", "hello from both\n");
    add(repo, "README");
    commit(repo, "merge feature", c4);

    /* The log by revision: the merge has two parents. */
    muse_commit_list *log = NULL;
    check(muse_repository_log(repo, "main", 0, &log), "muse_repository_log");
    printf("$ log main: %zu commit(s)\n", muse_commit_list_len(log));
    for (size_t i = 0; i < muse_commit_list_len(log); i++) {
        const muse_commit *c = NULL;
        check(muse_commit_list_get(log, i, &c), "muse_commit_list_get");
        printf("     %.19s  %-14s parents:", muse_commit_id(c), muse_commit_message(c));
        for (size_t k = 0; k < muse_commit_parent_count(c); k++) printf(" %.19s", muse_commit_parent(c, k));
        printf("\n");
    }
    expect(muse_commit_list_len(log) == 4, "four commits reachable from main");
    const muse_commit *head = NULL;
    check(muse_commit_list_get(log, 0, &head), "muse_commit_list_get");
    expect(strcmp(muse_commit_id(head), c4) == 0, "the newest commit is the merge");
    expect(muse_commit_parent_count(head) == 2, "the merge commit has two parents");
    expect(strcmp(muse_commit_parent(head, 0), c3) == 0 && strcmp(muse_commit_parent(head, 1), c2) == 0,
           "the merge's parents are main's and feature's commits");
    muse_commit_list_free(log);

    /* Revisions. */
    check(muse_repository_revparse(repo, "HEAD~1", id), "muse_repository_revparse");
    printf("$ rev-parse HEAD~1: %.19s\n", id);
    expect(strcmp(id, c3) == 0, "HEAD~1 is main's previous commit");
    check(muse_repository_revparse(repo, "HEAD^2", id), "muse_repository_revparse");
    printf("$ rev-parse HEAD^2: %.19s\n", id);
    expect(strcmp(id, c2) == 0, "HEAD^2 is feature's commit");

    /* Errors are statuses with a message. */
    expect_error(muse_repository_revparse(repo, "no-such-branch", id), MUSE_E_NOT_FOUND, "rev-parse no-such-branch");
    muse_repository *other = NULL;
    expect_error(muse_repository_open("/", &other), MUSE_E_NOT_A_REPOSITORY, "open /");
    expect_error(muse_repository_status(NULL, NULL), MUSE_E_NULL_ARG, "status(NULL)");

    muse_repository_free(repo);
    printf("ok\n");
    return 0;
}
