/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c: libFuzzer target for the configuration loader
 * (core/config.c over libyaml, the key table of config_keys.c) and the
 * DEMI_* environment overrides, then demi-config's printing (config_print.c).
 *
 *     input := yaml ( '\0' env )*      at most FUZZ_ENV_MAX env parts
 *     env   := KEY '=' VALUE           set as DEMI_KEY=VALUE
 *
 * The YAML goes to a memfd the loader opens by its /proc/self/fd path, as it
 * would open CONFIG_PATH; the overrides are put in the environment from
 * static buffers (putenv: no allocation that could pile up over millions of
 * inputs) and removed after. tests/fuzz/fuzz_config.dict holds every key.
 *
 * Oracles, besides ASan/UBSan and libFuzzer's leak check on the loader:
 *   - an error comes with a message, terminated within CONFIG_ERR_MAX, and
 *     leaves nothing allocated in the struct (config.h promises it);
 *   - a success leaves every value as the table allows: integers in their
 *     bounds, strings terminated within their field and among their choices,
 *     at most CONFIG_EAL_ARGS_MAX EAL arguments (none past eal_argc), at most
 *     CONFIG_ARP_TABLE_MAX ARP entries, a bounded list of ignored keys;
 *   - the same input loads to the same printed configuration twice (no
 *     uninitialised byte, no state kept between loads);
 *   - config_free leaves nothing behind (leak check) and is idempotent.
 */
#include "fuzz_common.h"

#include "core/config.h"
#include "core/log.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#define die(...) FUZZ_DIE("fuzz_config", __VA_ARGS__)

#define FUZZ_ENV_MAX 4
#define FUZZ_ENV_LEN 256
#define FUZZ_IGNORED_MAX 8192 /* config.c's bound on the list of ignored keys */

static int yaml_fd = -1;
static char yaml_path[64];
static char env_buf[FUZZ_ENV_MAX][FUZZ_ENV_LEN];
static char print_a[1 << 16], print_b[1 << 16];

static void init_once(void)
{
    if (yaml_fd >= 0)
        return;
    log_set_level(LOG_ERROR);
    yaml_fd = memfd_create("fuzz_config.yaml", MFD_CLOEXEC);
    if (yaml_fd < 0)
        die("memfd_create: %s", strerror(errno));
    snprintf(yaml_path, sizeof(yaml_path), "/proc/self/fd/%d", yaml_fd);
}

static void yaml_write(const uint8_t *p, size_t n)
{
    if (ftruncate(yaml_fd, 0) != 0)
        die("ftruncate: %s", strerror(errno));
    while (n > 0) {
        ssize_t w = pwrite(yaml_fd, p, n, 0);
        if (w <= 0)
            die("pwrite: %s", strerror(errno));
        /* A memfd takes it all at once; pwrite at 0 again would be wrong. */
        if ((size_t)w != n)
            die("short write to the memfd");
        n = 0;
    }
}

/* DEMI_<KEY>=<VALUE> from one env part; false when it has no '=' or no key. */
static bool env_put(int i, const uint8_t *p, size_t n)
{
    char *b = env_buf[i];
    const uint8_t *eq = memchr(p, '=', n);
    size_t len;

    if (!eq || eq == p)
        return false;
    len = (size_t)snprintf(b, FUZZ_ENV_LEN, "DEMI_");
    if (n > FUZZ_ENV_LEN - 1 - len)
        n = FUZZ_ENV_LEN - 1 - len;
    memcpy(b + len, p, n);
    b[len + n] = '\0';
    if (!strchr(b, '='))
        return false; /* the '=' was cut off */
    if (putenv(b) != 0)
        die("putenv: %s", strerror(errno));
    return true;
}

static void env_remove(int i)
{
    char name[FUZZ_ENV_LEN];
    char *eq;

    snprintf(name, sizeof(name), "%s", env_buf[i]);
    eq = strchr(name, '=');
    if (eq)
        *eq = '\0';
    if (unsetenv(name) != 0)
        die("unsetenv: %s", strerror(errno));
    if (getenv(name))
        die("%s still set", name); /* a duplicate of it stayed: env grows */
}

FUZZ_NOCOV static void check_string(const struct config_key *k, const char *s)
{
    size_t len = strnlen(s, k->max);

    if (len == k->max)
        die("key %s: string not terminated within its %u bytes", k->key, k->max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            die("key %s: control character in the value", k->key);
    if (k->choices && len > 0) {
        const char *c = k->choices;
        for (;;) {
            size_t m = strcspn(c, "|");
            if (m == len && strncmp(c, s, m) == 0)
                break;
            if (!c[m])
                die("key %s: \"%s\" is none of %s", k->key, s, k->choices);
            c += m + 1;
        }
    }
}

FUZZ_NOCOV static void check_loaded(const struct demi_config *cfg)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        const char *f = (const char *)cfg + k->offset;

        switch (k->type) {
        case CONFIG_T_U32: {
            uint32_t v;
            memcpy(&v, f, sizeof(v));
            if (v < k->min || v > k->max)
                die("key %s: %u outside %u..%u", k->key, v, k->min, k->max);
            break;
        }
        case CONFIG_T_BOOL: {
            uint8_t v;
            memcpy(&v, f, 1);
            if (v > 1)
                die("key %s: a bool holding %u", k->key, v);
            break;
        }
        case CONFIG_T_STRING:
            check_string(k, f);
            break;
        default:
            break;
        }
    }
    if (cfg->eal_argc < 0 || cfg->eal_argc > CONFIG_EAL_ARGS_MAX)
        die("eal_argc %d", cfg->eal_argc);
    for (int i = 0; i < CONFIG_EAL_ARGS_MAX; i++)
        if ((i < cfg->eal_argc) != (cfg->eal_argv[i] != NULL))
            die("eal_argv[%d] %s with eal_argc %d", i, cfg->eal_argv[i] ? "set" : "NULL", cfg->eal_argc);
    if (cfg->arp_table_len < 0 || cfg->arp_table_len > CONFIG_ARP_TABLE_MAX)
        die("arp_table_len %d", cfg->arp_table_len);
    if (strnlen(cfg->path, sizeof(cfg->path)) == sizeof(cfg->path))
        die("path not terminated");
    if (cfg->ignored) {
        size_t n = strlen(cfg->ignored);
        if (n == 0 || n > FUZZ_IGNORED_MAX || cfg->ignored[n - 1] != '\n')
            die("ignored keys: %zu bytes, %s", n, n ? "no final newline" : "empty");
    }
}

FUZZ_NOCOV static void check_freed(const struct demi_config *cfg, const char *when)
{
    for (int i = 0; i < CONFIG_EAL_ARGS_MAX; i++)
        if (cfg->eal_argv[i])
            die("%s: eal_argv[%d] still allocated", when, i);
    if (cfg->ignored)
        die("%s: the list of ignored keys still allocated", when);
}

/* Load, check, print into @out; returns the loader's result. */
static int load_once(struct demi_config *cfg, char *out, size_t cap)
{
    char err[CONFIG_ERR_MAX];
    FILE *f;
    int ret;

    memset(err, 0x5a, sizeof(err));
    ret = config_load(cfg, yaml_path, err, sizeof(err));
    if (ret) {
        if (strnlen(err, sizeof(err)) == sizeof(err))
            die("error %d: message not terminated", ret);
        if (!err[0])
            die("error %d without a message", ret);
        if (ret != EINVAL && ret != ENOENT && ret != ENOMEM)
            die("error %d: not one config.h documents", ret);
        check_freed(cfg, "after an error");
        snprintf(out, cap, "error %d: %s", ret, err);
        return ret;
    }
    check_loaded(cfg);
    f = fmemopen(out, cap, "w");
    if (!f)
        die("fmemopen: %s", strerror(errno));
    config_print(f, cfg);
    if (ferror(f))
        die("config_print: write error");
    fclose(f);
    out[cap - 1] = '\0';
    config_free(cfg);
    check_freed(cfg, "after config_free");
    config_free(cfg); /* twice is harmless */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size, *p = data, *nul;
    bool set[FUZZ_ENV_MAX] = {false};
    struct demi_config cfg;
    int ra, rb;

    init_once();
    nul = memchr(p, '\0', size);
    yaml_write(p, nul ? (size_t)(nul - p) : size);
    for (int i = 0; nul && i < FUZZ_ENV_MAX; i++) {
        p = nul + 1;
        nul = memchr(p, '\0', (size_t)(end - p));
        set[i] = env_put(i, p, nul ? (size_t)(nul - p) : (size_t)(end - p));
    }
    memset(&cfg, 0, sizeof(cfg));
    ra = load_once(&cfg, print_a, sizeof(print_a));
    rb = load_once(&cfg, print_b, sizeof(print_b));
    if (ra != rb || strcmp(print_a, print_b) != 0)
        die("two loads of one input differ:\n%s\n---\n%s", print_a, print_b);
    for (int i = FUZZ_ENV_MAX - 1; i >= 0; i--)
        if (set[i])
            env_remove(i);
    return 0;
}
