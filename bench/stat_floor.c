/*
 * stat_floor: the least work any warm walk of a working tree must do when it
 * checks every file with one lstat (the design of SPEC section 5 and of git's
 * index refresh): list every directory (readdir) and fstatat() every entry
 * relative to its open directory. Nothing is compared, cached, hashed,
 * allocated per file or printed per file.
 *
 *   stat_floor ROOT THREADS REPS
 *
 * Lists ROOT recursively on THREADS threads (a shared stack of directories;
 * `.muse` and `.git` at the root are skipped, as the walker and git skip
 * them), REPS times, and prints one JSON line:
 *   {"files": N, "dirs": D, "ms": [t1, t2, ...]}
 * with the wall time of each repetition in milliseconds (process start
 * excluded). Exit status 1 on a usage or I/O error (message on stderr).
 *
 * Used by bench_walk.py and bench_cli.py as the "stat floor" row: if this
 * program takes more than half of `git status`, no walker that lstats every
 * file can be at 0.5x git status on that machine.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char **items;
    size_t len, cap;
    size_t busy; /* threads currently listing a directory */
    int failed;
    long files, dirs;
};

static struct queue q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0};

static void push(char *path) {
    if (q.len == q.cap) {
        q.cap = q.cap ? q.cap * 2 : 1024;
        q.items = realloc(q.items, q.cap * sizeof(char *));
        if (!q.items) {
            perror("realloc");
            exit(1);
        }
    }
    q.items[q.len++] = path;
}

/* Lists one directory; pushes its subdirectories. Returns files stat'ed. */
static long list_one(const char *path, int is_root, long *ndirs) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "stat_floor: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    long files = 0;
    size_t plen = strlen(path);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
            continue;
        if (is_root && (strcmp(n, ".muse") == 0 || strcmp(n, ".git") == 0))
            continue;
        if (e->d_type == DT_DIR) {
            size_t nlen = strlen(n);
            char *sub = malloc(plen + nlen + 2);
            if (!sub)
                exit(1);
            memcpy(sub, path, plen);
            sub[plen] = '/';
            memcpy(sub + plen + 1, n, nlen + 1);
            pthread_mutex_lock(&q.lock);
            push(sub);
            pthread_cond_signal(&q.cond);
            pthread_mutex_unlock(&q.lock);
            (*ndirs)++;
        } else {
            struct stat st;
            if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                files++;
        }
    }
    closedir(d);
    return files;
}

static const char *root_path;

static void *worker(void *arg) {
    (void)arg;
    long files = 0, dirs = 0;
    pthread_mutex_lock(&q.lock);
    for (;;) {
        while (q.len == 0 && q.busy > 0 && !q.failed)
            pthread_cond_wait(&q.cond, &q.lock);
        if (q.len == 0 || q.failed)
            break;
        char *path = q.items[--q.len];
        q.busy++;
        pthread_mutex_unlock(&q.lock);
        long n = list_one(path, path == root_path, &dirs);
        if (path != root_path)
            free(path);
        pthread_mutex_lock(&q.lock);
        q.busy--;
        if (n < 0)
            q.failed = 1;
        else
            files += n;
        if (q.len == 0 && q.busy == 0)
            pthread_cond_broadcast(&q.cond);
    }
    q.files += files;
    q.dirs += dirs;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: stat_floor ROOT THREADS REPS\n");
        return 1;
    }
    root_path = argv[1];
    int threads = atoi(argv[2]), reps = atoi(argv[3]);
    if (threads < 1 || threads > 256 || reps < 1) {
        fprintf(stderr, "stat_floor: THREADS must be 1-256 and REPS >= 1\n");
        return 1;
    }
    pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
    printf("{\"ms\": [");
    for (int r = 0; r < reps; r++) {
        q.files = q.dirs = 0;
        q.len = 0;
        q.busy = 0;
        push((char *)root_path);
        double t0 = now_ms();
        for (int i = 0; i < threads; i++)
            pthread_create(&tids[i], NULL, worker, NULL);
        for (int i = 0; i < threads; i++)
            pthread_join(tids[i], NULL);
        double ms = now_ms() - t0;
        if (q.failed)
            return 1;
        printf("%s%.3f", r ? ", " : "", ms);
    }
    printf("], \"files\": %ld, \"dirs\": %ld}\n", q.files, q.dirs);
    free(tids);
    return 0;
}
