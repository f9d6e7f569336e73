/* The floor of a daemonless `tsm list`: the system calls it cannot avoid, and nothing else.
 *
 *   list_floor STATE_DIR        (STATE_DIR = $TETRA_DIR/tsm)
 *
 * One readdir of processes/, one read of the shared table, one open of each liveness file
 * (live/BLOCK, 64 IDs each), and per service: an lstat of its meta file (is the slot the
 * file's current version?), an lstat of its life lock file (is the lock the one the
 * supervisor took?), one F_GETLK of its liveness byte (who is its supervisor) and one read of
 * /proc/PID/stat (runs with its stamp, its parent, cpu and memory). The pid is taken from the
 * slot; the table and the stat lines are not parsed beyond that. It prints how many services
 * it found alive and supervised. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SLOT 1024

static char *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    size_t cap = (fstat(fd, &st) == 0 && st.st_size > 0) ? (size_t)st.st_size + 1 : 1 << 20;
    char *buf = malloc(cap);
    size_t n = 0;
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: list_floor STATE_DIR\n");
        return 64;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/processes", argv[1]);
    DIR *dir = opendir(path);
    if (!dir) return 66;
    size_t tlen = 0, llen = 0;
    snprintf(path, sizeof path, "%s/table", argv[1]);
    char *table = slurp(path, &tlen);
    (void)llen;
    int live = -1;
    long live_block = -1;
    struct dirent *d;
    long seen = 0, slot = 1;
    char stat_line[1024];
    while ((d = readdir(dir))) {
        size_t n = strlen(d->d_name);
        if (n < 6 || strcmp(d->d_name + n - 5, ".meta") != 0) continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/processes/%s", argv[1], d->d_name);
        lstat(path, &st);
        snprintf(path, sizeof path, "%s/pids/%.*s.lock", argv[1], (int)(n - 5), d->d_name);
        lstat(path, &st);
        long pid = 0, id = slot - 1;
        if (table && (size_t)(slot + 1) * SLOT <= tlen) {
            char *s = table + slot * SLOT;
            char *p = memmem(s, SLOT, " pid=", 5);
            if (p) pid = strtol(p + 5, NULL, 10);
        }
        slot++;
        if (id / 64 != live_block) {
            if (live >= 0) close(live);
            live_block = id / 64;
            snprintf(path, sizeof path, "%s/live/%ld", argv[1], live_block);
            live = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        }
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (1L << 40) + id, .l_len = 1};
        if (live < 0 || fcntl(live, F_GETLK, &lk) != 0 || lk.l_type == F_UNLCK) continue;
        if (pid > 0) {
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                if (read(fd, stat_line, sizeof stat_line) > 0) seen++;
                close(fd);
            }
        }
    }
    if (live >= 0) close(live);
    closedir(dir);
    printf("%ld\n", seen);
    return 0;
}
