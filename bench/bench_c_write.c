/*
 * bench_c_write: write_object x N through the C API (libmuse), the C twin
 * of bench/bench_store.py's "objects / muse fsync=off" row.
 *
 *     bench_c_write [N] [REPS]        (defaults: 10000, 3)
 *
 * Each repetition: a fresh repository in a fresh temp directory,
 * `[core] fsync = "off"`, N distinct 272-byte payloads (the seed suite's
 * "perf-obj-%08d" x 16) with their blob IDs computed before timing; the
 * timed loop is N calls of muse_object_write. Prints one line per
 * repetition and a summary line; with BENCH_JSON=1 the summary is JSON.
 */
#define _GNU_SOURCE 1
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "muse.h"

#define PAYLOAD_SIZE 272

static double clock_s(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of the process (user + system): less sensitive than wall time to
   other jobs competing for the cores and the disk. */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
static double g_last_cpu;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void die(muse_status st, const char *what) {
    fprintf(stderr, "bench_c_write: %s: %s: %s\n", what, muse_status_name(st), muse_last_error_message());
    exit(1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double one_rep(size_t n, unsigned char (*data)[PAYLOAD_SIZE], char (*ids)[MUSE_ID_BUFSIZE]) {
    const char *base = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/muse-bench-c-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    muse_repo *repo = NULL;
    muse_status st = muse_repo_init(dir, NULL, &repo);
    if (st != MUSE_OK) die(st, "muse_repo_init");
    /* the same config bench_store.py writes for fsync=off */
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/.muse/config.toml", dir);
    FILE *f = fopen(cfg, "w");
    if (!f) { perror(cfg); exit(1); }
    fputs("[core]\nfsync = \"off\"\n\n[limits]\nmax_ancestors = 50000\n", f);
    fclose(f);

    size_t written = 0;
    double c0 = cpu_now();
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        bool created = false;
        st = muse_object_write(repo, ids[i], data[i], PAYLOAD_SIZE, &created);
        if (st != MUSE_OK) die(st, "muse_object_write");
        written += created;
    }
    double secs = now() - t0;
    g_last_cpu = cpu_now() - c0;
    if (written != n) {
        fprintf(stderr, "bench_c_write: wrote %zu objects, expected %zu\n", written, n);
        exit(1);
    }
    muse_repo_free(repo);
    nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
    return secs;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (n == 0 || reps <= 0) {
        fprintf(stderr, "usage: %s [N] [REPS]\n", argv[0]);
        return 2;
    }
    unsigned char (*data)[PAYLOAD_SIZE] = malloc(n * sizeof *data);
    char (*ids)[MUSE_ID_BUFSIZE] = malloc(n * sizeof *ids);
    double *times = malloc((size_t)reps * sizeof *times);
    if (!data || !ids || !times) return 1;
    for (size_t i = 0; i < n; i++) {
        char label[32];
        snprintf(label, sizeof label, "perf-obj-%08zu", i); /* 17 bytes */
        for (int k = 0; k < 16; k++) memcpy(data[i] + 17 * k, label, 17);
        muse_status st = muse_blob_id(data[i], PAYLOAD_SIZE, ids[i]); /* untimed, as in Python */
        if (st != MUSE_OK) die(st, "muse_blob_id");
    }
    for (int r = 0; r < reps; r++) {
        times[r] = one_rep(n, data, ids);
        printf("rep %d: %zu x write_object: %.4f s (%.2f us/op), cpu %.4f s\n", r + 1, n, times[r],
               times[r] / (double)n * 1e6, g_last_cpu);
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    double best = times[0], median = times[reps / 2];
    if (getenv("BENCH_JSON")) {
        printf("{\"engine\": \"c\", \"n\": %zu, \"reps\": %d, \"best_s\": %.6f, \"median_s\": %.6f, "
               "\"best_us_per_op\": %.3f, \"median_us_per_op\": %.3f}\n",
               n, reps, best, median, best / (double)n * 1e6, median / (double)n * 1e6);
    } else {
        printf("C    write_object x%zu (272 B, fsync=off, libmuse %s): best %.4f s (%.2f us/op), median %.4f s "
               "(%.2f us/op)\n",
               n, muse_version(), best, best / (double)n * 1e6, median, median / (double)n * 1e6);
    }
    free(data);
    free(ids);
    free(times);
    return 0;
}
