/*
 * muse_commit_dir: commit a directory with libmuse, then print its log.
 *
 *     muse_commit_dir DIR [MESSAGE]
 *
 * Opens the muse repository that holds DIR (or creates one at DIR),
 * snapshots the working tree, stores the blobs of every file, writes the
 * snapshot and a commit on the current branch, moves the branch with a
 * compare-and-swap, and prints the first-parent history.
 *
 * This file is meant to be copied: every call checks its status and
 * reports muse_last_error_message(). Build it with the Makefile beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muse.h"

/* Prints the failed call with the library's message and exits. */
static void check(muse_status st, const char *what) {
    if (st != MUSE_OK) {
        fprintf(stderr, "muse_commit_dir: %s failed: %s: %s\n", what, muse_status_name(st),
                muse_last_error_message());
        exit(1);
    }
}

/* Reads a whole file into memory; the caller frees *data. */
static int read_whole_file(const char *path, unsigned char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    int err = ferror(f) || !buf;
    fclose(f);
    if (err) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DIR [MESSAGE]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    const char *message = argc == 3 ? argv[2] : "snapshot";
    printf("libmuse %s\n", muse_version());

    /* 1. Open the repository holding DIR, or create one there. */
    muse_repo *repo = NULL;
    muse_status st = muse_repo_open(dir, &repo);
    if (st == MUSE_E_NOT_A_REPOSITORY) {
        check(muse_repo_init(dir, NULL, &repo), "muse_repo_init");
        printf("initialized a repository in %s\n", muse_repo_root(repo));
    } else {
        check(st, "muse_repo_open");
    }
    const char *root = muse_repo_root(repo);

    /* 2. Snapshot the working tree: {path: blob id} of every file. */
    muse_manifest *manifest = NULL;
    check(muse_build_snapshot_manifest(repo, &manifest), "muse_build_snapshot_manifest");
    size_t count = muse_manifest_len(manifest);

    /* 3. Store the content of every file under its blob id. */
    size_t written = 0;
    for (size_t i = 0; i < count; i++) {
        const char *path, *blob_id;
        check(muse_manifest_get(manifest, i, &path, &blob_id), "muse_manifest_get");
        size_t full_len = strlen(root) + 1 + strlen(path) + 1;
        char *full = malloc(full_len);
        if (!full) return 1;
        snprintf(full, full_len, "%s/%s", root, path);
        unsigned char *data = NULL;
        size_t len = 0;
        if (read_whole_file(full, &data, &len) != 0) {
            perror(full);
            return 1;
        }
        bool created = false;
        /* MUSE_E_INTEGRITY here means the file changed since the walk. */
        check(muse_object_write(repo, blob_id, data, len, &created), "muse_object_write");
        written += created;
        free(data);
        free(full);
    }

    /* 4. Write the snapshot record. */
    char snapshot_id[MUSE_ID_BUFSIZE];
    check(muse_snapshot_write_from_manifest(repo, manifest, snapshot_id), "muse_snapshot_write_from_manifest");
    muse_manifest_free(manifest);
    printf("snapshot %s: %zu files, %zu new blobs\n", snapshot_id, count, written);

    /* 5. Commit on the current branch, on top of its tip (if any). */
    size_t needed = 0;
    st = muse_head_branch(repo, NULL, 0, &needed); /* size query */
    if (st != MUSE_E_BUFFER_TOO_SMALL) check(st, "muse_head_branch");
    char *branch = malloc(needed);
    if (!branch) return 1;
    check(muse_head_branch(repo, branch, needed, NULL), "muse_head_branch");
    char parent[MUSE_ID_BUFSIZE];
    bool has_parent = false;
    check(muse_ref_read(repo, branch, parent, &has_parent), "muse_ref_read");
    const char *author = getenv("USER") ? getenv("USER") : "";
    char commit_id[MUSE_ID_BUFSIZE];
    check(muse_commit_create(repo, branch, snapshot_id, message, author, has_parent ? parent : NULL, commit_id),
          "muse_commit_create");

    /* 6. Move the branch, unless somebody else moved it meanwhile. */
    st = muse_ref_compare_and_swap(repo, branch, has_parent ? parent : NULL, commit_id);
    if (st == MUSE_E_CONFLICT) {
        fprintf(stderr, "branch %s moved concurrently; commit %s left unreferenced: %s\n", branch, commit_id,
                muse_last_error_message());
        return 1;
    }
    check(st, "muse_ref_compare_and_swap");
    printf("[%s %.19s] %s\n", branch, commit_id, message);
    free(branch);

    /* 7. Read the history back, newest first. */
    muse_log_iter *it = NULL;
    check(muse_log_iter_new(repo, NULL, &it), "muse_log_iter_new");
    for (;;) {
        muse_commit *c = NULL;
        bool done = false;
        check(muse_log_iter_next(it, &c, &done), "muse_log_iter_next");
        if (done) break;
        printf("commit %s\n  date:   %s\n  author: %s\n  %s\n", muse_commit_id(c), muse_commit_committed_at(c),
               muse_commit_author(c), muse_commit_message(c));
        muse_commit_free(c);
    }
    muse_log_iter_free(it);
    muse_repo_free(repo);
    return 0;
}
