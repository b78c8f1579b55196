/* SPDX-License-Identifier: MIT */
/*
 * demi-config: print every libdemi tunable with its value, where the value
 * came from (default, file or environment) and a line of help, exactly as
 * demi_init() would load them. With --clean-shm, remove the shared memory
 * pipes (/dev/shm/demi-pipe-*) that processes killed without closing left.
 */
#include "core/config.h"
#include "libos/catloop.h"
#include "libos/catmem.h"

#include <demi/version.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: demi-config [--file PATH] [--help] [--version]\n"
                 "       demi-config --clean-shm [--dry-run] [--prefix NAME]\n"
                 "\n"
                 "Print every libdemi tunable, its value, its source and a line of help.\n"
                 "\n"
                 "  --file PATH  YAML file to read (Demikernel's format plus a libdemi:\n"
                 "               section); default: $CONFIG_PATH as demi_init() uses it,\n"
                 "               or no file when unset. --file \"\" reads no file.\n"
                 "  --help       show this text\n"
                 "  --version    print libdemi's version (the library this runs with)\n"
                 "\n"
                 "Each key can be overridden by the environment variable DEMI_<KEY>, KEY\n"
                 "upper-cased with '.' turned into '_' (inetstack_config.mtu is\n"
                 "DEMI_INETSTACK_CONFIG_MTU). Exits 1 when the configuration is invalid.\n"
                 "\n"
                 "  --clean-shm  remove the stale pipes (<demi/pipe.h>) left in /dev/shm:\n"
                 "               objects /dev/shm/demi-pipe-NAME that no live process\n"
                 "               holds (their creator and their opener are dead: killed,\n"
                 "               crashed, exited without demi_close), and temporary\n"
                 "               demi-pipe-NAME~PID~N ones whose creator PID died while\n"
                 "               making them. Never touches a pipe a live process holds,\n"
                 "               nor anything that is not a libdemi pipe of this version.\n"
                 "               One line per object: \"removed\", \"would remove\", \"kept\"\n"
                 "               or \"FAILED\", its path and why; then a summary. Exits 0,\n"
                 "               or 1 when /dev/shm cannot be read or a stale object\n"
                 "               cannot be removed.\n"
                 "               Also the objects /dev/shm/demi-catloop-IP-PORT of\n"
                 "               catloop listeners (catloop.mode host) whose process died.\n"
                 "  --dry-run    with --clean-shm: list, remove nothing\n"
                 "  --prefix NAME  with --clean-shm: only pipes whose name starts with NAME\n"
                 "               (catloop listeners are left alone)\n");
}

/* Stale pipes, then (without --prefix) stale catloop listeners
 * (/dev/shm/demi-catloop-IP-PORT of a dead process); one summary. */
static int clean_shm(const char *prefix, bool dry_run)
{
    struct catmem_clean res, lres;
    int ret = catmem_shm_clean(prefix, dry_run, stdout, &res);

    if (!ret && !prefix && (ret = catloop_shm_clean(dry_run, stdout, &lres)) == 0) {
        res.stale += lres.stale;
        res.removed += lres.removed;
        res.failed += lres.failed;
        res.live += lres.live;
        res.foreign += lres.foreign;
    }
    if (ret) {
        fprintf(stderr, "demi-config: cannot read %s: %s\n", CATMEM_SHM_DIR, strerror(ret));
        return 1;
    }
    if (dry_run)
        printf("demi-config --clean-shm --dry-run: %u stale (nothing removed), %u in use, %u not libdemi's\n",
               res.stale, res.live, res.foreign);
    else
        printf("demi-config --clean-shm: %u removed, %u failed, %u in use, %u not libdemi's\n", res.removed, res.failed,
               res.live, res.foreign);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("demi-config: stdout");
        return 1;
    }
    return res.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* Same default as demi_init(), so the output is what an application sees. */
    const char *path = getenv("CONFIG_PATH");
    const char *prefix = NULL;
    char err[CONFIG_ERR_MAX];
    struct demi_config cfg;
    bool clean = false, dry_run = false;
    int ret;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("libdemi %s\n", demi_version());
            return 0;
        } else if (strcmp(argv[i], "--file") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "demi-config: --file needs a PATH\n");
                return 2;
            }
            path = argv[++i];
        } else if (strncmp(argv[i], "--file=", 7) == 0) {
            path = argv[i] + 7;
        } else if (strcmp(argv[i], "--clean-shm") == 0) {
            clean = true;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = true;
        } else if (strcmp(argv[i], "--prefix") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "demi-config: --prefix needs a NAME\n");
                return 2;
            }
            prefix = argv[++i];
        } else if (strncmp(argv[i], "--prefix=", 9) == 0) {
            prefix = argv[i] + 9;
        } else {
            fprintf(stderr, "demi-config: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    if ((dry_run || prefix) && !clean) {
        fprintf(stderr, "demi-config: --dry-run and --prefix go with --clean-shm\n");
        return 2;
    }
    if (clean)
        return clean_shm(prefix, dry_run);

    ret = config_load(&cfg, path, err, sizeof(err));
    if (ret) {
        fprintf(stderr, "demi-config: %s\n", err);
        return 1;
    }
    config_print(stdout, &cfg);
    config_free(&cfg);
    /* A full disk or closed pipe must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("demi-config: stdout");
        return 1;
    }
    return 0;
}
