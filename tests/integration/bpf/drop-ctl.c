/* SPDX-License-Identifier: MIT */
/*
 * drop-ctl: set the drop rate of drop.bpf.c and read its counters, for
 * loss.sh (bpftool is often not installed). The program is named by the id
 * "tc filter show" prints for it; its drop_cfg map is found through it.
 *
 *   drop-ctl PROG_ID set PPM [shot|stolen]   also zeroes the counters
 *   drop-ctl PROG_ID show     prints "seen N dropped N ppm N"
 */
#include <bpf/bpf.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CFG_PPM, CFG_STOLEN, CFG_SEEN, CFG_DROPPED, CFG_N };

static int die(const char *what, int err)
{
    fprintf(stderr, "drop-ctl: %s: %s\n", what, strerror(err));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: drop-ctl PROG_ID set PPM [shot|stolen]\n"
                    "       drop-ctl PROG_ID show\n");
    return 2;
}

/* The fd of the program's map named drop_cfg, or -errno. */
static int find_map(uint32_t prog_id)
{
    uint32_t ids[16];
    struct bpf_prog_info pi;
    uint32_t len = sizeof(pi);
    int pfd, fd = -ENOENT;

    pfd = bpf_prog_get_fd_by_id(prog_id);
    if (pfd < 0)
        return -errno;
    memset(&pi, 0, sizeof(pi));
    pi.nr_map_ids = 16;
    pi.map_ids = (uint64_t)(uintptr_t)ids;
    if (bpf_obj_get_info_by_fd(pfd, &pi, &len) < 0) {
        fd = -errno;
        close(pfd);
        return fd;
    }
    close(pfd);
    for (uint32_t i = 0; i < pi.nr_map_ids && i < 16; i++) {
        struct bpf_map_info mi;
        uint32_t mlen = sizeof(mi);
        int mfd = bpf_map_get_fd_by_id(ids[i]);

        if (mfd < 0)
            continue;
        memset(&mi, 0, sizeof(mi));
        if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) == 0 && strcmp(mi.name, "drop_cfg") == 0 &&
            mi.value_size == sizeof(uint64_t) && mi.max_entries >= CFG_N)
            return mfd;
        close(mfd);
    }
    return fd;
}

int main(int argc, char **argv)
{
    uint64_t v[CFG_N];
    char *end;
    unsigned long id;
    int fd;

    if (argc < 3)
        return usage();
    id = strtoul(argv[1], &end, 10);
    if (*end || id == 0 || id > UINT32_MAX)
        return usage();
    fd = find_map((uint32_t)id);
    if (fd < 0)
        return die("no drop_cfg map on that program", -fd);
    if (strcmp(argv[2], "set") == 0 && (argc == 4 || argc == 5)) {
        uint64_t ppm = strtoull(argv[3], &end, 10);
        uint64_t stolen = argc == 5 && strcmp(argv[4], "stolen") == 0;
        uint64_t zero = 0;
        uint32_t k;

        if (*end || ppm > 1000000 || (argc == 5 && !stolen && strcmp(argv[4], "shot") != 0))
            return usage();
        k = CFG_STOLEN;
        if (bpf_map_update_elem(fd, &k, &stolen, BPF_ANY) < 0)
            return die("update", errno);
        for (k = CFG_SEEN; k <= CFG_DROPPED; k++)
            if (bpf_map_update_elem(fd, &k, &zero, BPF_ANY) < 0)
                return die("update", errno);
        k = CFG_PPM;
        if (bpf_map_update_elem(fd, &k, &ppm, BPF_ANY) < 0)
            return die("update", errno);
        return 0;
    }
    if (strcmp(argv[2], "show") == 0 && argc == 3) {
        for (uint32_t k = 0; k < CFG_N; k++)
            if (bpf_map_lookup_elem(fd, &k, &v[k]) < 0)
                return die("lookup", errno);
        printf("seen %llu dropped %llu ppm %llu\n", (unsigned long long)v[CFG_SEEN], (unsigned long long)v[CFG_DROPPED],
               (unsigned long long)v[CFG_PPM]);
        return 0;
    }
    return usage();
}
