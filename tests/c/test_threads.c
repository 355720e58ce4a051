/*
 * libmuse from several threads: the last-error message is per thread, one
 * muse_repo handle is shared, concurrent compare-and-swap updates lose
 * nothing, concurrent writes of the same objects are safe.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define THREADS 4
#define COMMITS_PER_THREAD 8
#define OBJECTS 64

static muse_repo *g_repo;
static char g_snap[MUSE_ID_BUFSIZE];
static pthread_barrier_t g_barrier;
static atomic_int g_thread_failures;
static atomic_int g_conflicts;

#define T_CHECK(cond)                                                            \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: thread FAIL: %s (last error: %s)\n",         \
                    __FILE__, __LINE__, #cond, muse_last_error_message());       \
            atomic_fetch_add(&g_thread_failures, 1);                             \
        }                                                                        \
    } while (0)

static void *error_worker(void *arg) {
    int n = (int)(intptr_t)arg;
    char bad[32];
    snprintf(bad, sizeof bad, "bad-id-of-thread-%d", n);
    T_CHECK(muse_id_validate(bad) == MUSE_E_INVALID_INPUT);
    pthread_barrier_wait(&g_barrier);
    /* every thread has failed now; each still sees its own message */
    for (int i = 0; i < 200; i++) {
        T_CHECK(strstr(muse_last_error_message(), bad) != NULL);
        size_t needed = 0;
        T_CHECK(muse_last_error_copy(NULL, 0, &needed) == MUSE_E_BUFFER_TOO_SMALL);
        T_CHECK(needed == strlen(muse_last_error_message()) + 1);
    }
    pthread_barrier_wait(&g_barrier);
    /* a success on this thread clears only this thread's message */
    if (n % 2 == 0) T_CHECK(muse_id_validate(g_snap) == MUSE_OK);
    pthread_barrier_wait(&g_barrier);
    if (n % 2 == 0)
        T_CHECK(muse_last_error_message()[0] == '\0');
    else
        T_CHECK(strstr(muse_last_error_message(), bad) != NULL);
    return NULL;
}

static void *commit_worker(void *arg) {
    int n = (int)(intptr_t)arg;
    pthread_barrier_wait(&g_barrier);
    for (int k = 0; k < COMMITS_PER_THREAD; k++) {
        char msg[64];
        snprintf(msg, sizeof msg, "thread %d commit %d", n, k);
        for (int attempt = 0; attempt < 1000; attempt++) {
            char tip[MUSE_ID_BUFSIZE], id[MUSE_ID_BUFSIZE];
            bool exists = false;
            T_CHECK(muse_ref_read(g_repo, "main", tip, &exists) == MUSE_OK);
            T_CHECK(muse_commit_create(g_repo, "main", g_snap, msg, "t", exists ? tip : NULL, id) == MUSE_OK);
            muse_status st = muse_ref_compare_and_swap(g_repo, "main", exists ? tip : NULL, id);
            if (st == MUSE_OK) break;
            T_CHECK(st == MUSE_E_CONFLICT);
            atomic_fetch_add(&g_conflicts, 1);
        }
    }
    return NULL;
}

static void *object_worker(void *arg) {
    (void)arg;
    pthread_barrier_wait(&g_barrier);
    for (int i = 0; i < OBJECTS; i++) {
        char data[32], id[MUSE_ID_BUFSIZE];
        int len = snprintf(data, sizeof data, "object %d", i);
        T_CHECK(muse_blob_id((const uint8_t *)data, (size_t)len, id) == MUSE_OK);
        T_CHECK(muse_object_write(g_repo, id, (const uint8_t *)data, (size_t)len, NULL) == MUSE_OK);
        muse_bytes *b = NULL;
        T_CHECK(muse_object_read(g_repo, id, &b) == MUSE_OK);
        T_CHECK(b && muse_bytes_len(b) == (size_t)len && memcmp(muse_bytes_data(b), data, (size_t)len) == 0);
        muse_bytes_free(b);
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *)) {
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
}

int main(void) {
    char *tmp = make_tmpdir("threads");
    char *root = path_join(tmp, "repo");
    CHECK_OK(muse_repo_init(root, NULL, &g_repo));
    muse_manifest *m = NULL;
    char oid[MUSE_ID_BUFSIZE];
    CHECK_OK(muse_blob_id((const uint8_t *)"x", 1, oid));
    CHECK_OK(muse_object_write(g_repo, oid, (const uint8_t *)"x", 1, NULL));
    CHECK_OK(muse_manifest_new(&m));
    CHECK_OK(muse_manifest_insert(m, "x", oid));
    CHECK_OK(muse_snapshot_write_from_manifest(g_repo, m, g_snap));
    muse_manifest_free(m);

    pthread_barrier_init(&g_barrier, NULL, THREADS);
    run_threads(error_worker);
    run_threads(object_worker);
    run_threads(commit_worker);
    pthread_barrier_destroy(&g_barrier);
    CHECK(atomic_load(&g_thread_failures) == 0);

    /* no update was lost: the first-parent chain holds every commit */
    muse_log_iter *it = NULL;
    CHECK_OK(muse_log_iter_new(g_repo, NULL, &it));
    int n = 0;
    for (;;) {
        muse_commit *c = NULL;
        bool done = false;
        CHECK_OK(muse_log_iter_next(it, &c, &done));
        if (done || !c) break;
        n++;
        muse_commit_free(c);
    }
    muse_log_iter_free(it);
    CHECK(n == THREADS * COMMITS_PER_THREAD);
    printf("test_threads: %d commits in the chain, %d CAS conflicts retried\n", n, atomic_load(&g_conflicts));

    muse_repo_free(g_repo);
    rm_rf(tmp);
    free(root);
    free(tmp);
    return harness_finish("test_threads");
}
