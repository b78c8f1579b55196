/* SPDX-License-Identifier: MIT */
/*
 * demi-config: print every libdemi tunable with its value, where the value
 * came from (default, file or environment) and a line of help, exactly as
 * demi_init() would load them.
 */
#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: demi-config [--file PATH] [--help]\n"
            "\n"
            "Print every libdemi tunable, its value, its source and a line of help.\n"
            "\n"
            "  --file PATH  YAML file to read (Demikernel's format plus a libdemi:\n"
            "               section); default: $CONFIG_PATH as demi_init() uses it,\n"
            "               or no file when unset. --file \"\" reads no file.\n"
            "  --help       show this text\n"
            "\n"
            "Each key can be overridden by the environment variable DEMI_<KEY>, KEY\n"
            "upper-cased with '.' turned into '_' (inetstack_config.mtu is\n"
            "DEMI_INETSTACK_CONFIG_MTU). Exits 1 when the configuration is invalid.\n");
}

int main(int argc, char **argv)
{
    /* Same default as demi_init(), so the output is what an application sees. */
    const char *path = getenv("CONFIG_PATH");
    char err[CONFIG_ERR_MAX];
    struct demi_config cfg;
    int ret;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--file") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "demi-config: --file needs a PATH\n");
                return 2;
            }
            path = argv[++i];
        } else if (strncmp(argv[i], "--file=", 7) == 0) {
            path = argv[i] + 7;
        } else {
            fprintf(stderr, "demi-config: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

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
