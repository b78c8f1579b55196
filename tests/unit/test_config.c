/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: config_load() from defaults, YAML files and the environment,
 * its error messages (unknown keys and variables with the closest key), the
 * aliases, the warning about ignored keys (also as demi_init prints it),
 * config_free() and config_print().
 */
#include "core/config.h"
#include "libos/runtime.h"
#include "net/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "tests" /* built by hand from the top of the tree */
#endif

#define FIXTURE TEST_SRCDIR "/unit/data/demikernel.yaml"

static char tmpdir[64];
static char tmpfile_path[128];

/* The environment name of @key, spelt out again here so a change of rule
 * in config.c breaks the test. */
static void env_of(const char *key, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "DEMI_");

    for (; *key && o + 1 < size; key++)
        buf[o++] = *key == '.' ? '_' : (char)((*key >= 'a' && *key <= 'z') ? *key - 32 : *key);
    buf[o] = '\0';
}

extern char **environ;

/* Every test starts from an environment without DEMI_* variables: keys,
 * aliases, and whatever the caller's shell had (now an error). */
static void clear_env(void)
{
    for (;;) {
        char **e = environ, *name;

        while (*e && strncmp(*e, "DEMI_", 5) != 0)
            e++;
        if (!*e)
            break;
        name = strndup(*e, strcspn(*e, "="));
        assert_non_null(name);
        assert_int_equal(unsetenv(name), 0);
        free(name);
    }
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(tmpfile_path, sizeof(tmpfile_path), "%s/case.yaml", tmpdir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    unlink(tmpfile_path);
    return 0;
}

/* Writes @len bytes of @text to the per-test file and returns its path. */
static const char *write_yaml_len(const char *text, size_t len)
{
    FILE *f = fopen(tmpfile_path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return tmpfile_path;
}

static const char *write_yaml(const char *text)
{
    return write_yaml_len(text, strlen(text));
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("message \"%s\" lacks \"%s\"", hay, needle);
}

static int key_index(const char *key)
{
    for (size_t i = 0; i < config_nkeys; i++)
        if (strcmp(config_keys[i].key, key) == 0)
            return (int)i;
    fail_msg("no key %s", key);
    return -1;
}

static enum config_source source_of(const struct demi_config *cfg, const char *key)
{
    return (enum config_source)cfg->source[key_index(key)];
}

static void assert_ip(struct in_addr ip, const char *text)
{
    char buf[INET_ADDRSTRLEN];

    assert_string_equal(inet_ntop(AF_INET, &ip, buf, sizeof(buf)), text);
}

static void assert_mac(const uint8_t *mac, uint8_t last)
{
    const uint8_t want[6] = {0x02, 0, 0, 0, 0, last};

    assert_memory_equal(mac, want, 6);
}

static void assert_defaults(const struct demi_config *cfg)
{
    assert_false(cfg->has_local_ipv4);
    assert_false(cfg->has_local_mac);
    assert_string_equal(cfg->linux_interface_name, "");
    assert_int_equal(cfg->eal_argc, 0);
    assert_null(cfg->eal_argv[0]);
    assert_false(cfg->keepalive_enabled);
    assert_int_equal(cfg->keepalive_time_ms, 0);
    assert_int_equal(cfg->keepalive_interval, 0);
    assert_false(cfg->linger_enabled);
    assert_int_equal(cfg->linger_seconds, 0);
    assert_true(cfg->nodelay);
    assert_false(cfg->tcp_options_from_file);
    assert_int_equal(cfg->mtu, 1500);
    assert_int_equal(cfg->mss, 1460);
    assert_false(cfg->enable_jumbo_frames);
    assert_false(cfg->udp_checksum_offload);
    assert_false(cfg->tcp_checksum_offload);
    assert_int_equal(cfg->arp_table_len, 0);
    assert_int_equal(cfg->arp_request_retries, 5);
    assert_int_equal(cfg->arp_request_timeout_s, 1);
    assert_int_equal(cfg->arp_cache_ttl_s, 15);
    assert_int_equal(cfg->max_queues, 65536);
    assert_int_equal(cfg->max_ops, 65536);
    assert_int_equal(cfg->pool_small_count, 8192);
    assert_int_equal(cfg->pool_large_count, 1024);
    assert_int_equal(cfg->pool_huge_count, 16);
    assert_int_equal(cfg->spin_us, 100);
    assert_string_equal(cfg->log_level, "warn");
}

/* ---- the key table ---- */

static void test_table_is_sane(void **state)
{
    char a[128], b[128];

    (void)state;
    assert_true(config_nkeys > 0);
    assert_true(config_nkeys <= CONFIG_KEYS_MAX);
    for (size_t i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];

        assert_non_null(k->key);
        assert_non_null(k->help);
        assert_true(k->help[0] != '\0');
        assert_true(k->offset < sizeof(struct demi_config));
        if (k->type == CONFIG_T_U32) {
            uint32_t def;
            assert_true(k->min <= k->max);
            assert_non_null(k->def);
            def = (uint32_t)strtoul(k->def, NULL, 10);
            assert_true(def >= k->min && def <= k->max);
        }
        if (k->type == CONFIG_T_STRING)
            assert_true(k->max > 1);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(k->key, config_keys[j].key);
            /* Two keys must not collapse onto one environment variable. */
            env_of(k->key, a, sizeof(a));
            env_of(config_keys[j].key, b, sizeof(b));
            assert_string_not_equal(a, b);
        }
    }
    /* An alias names a key (a boolean one when set-means-on), and is no
     * key's own variable. */
    for (size_t i = 0; i < config_naliases; i++) {
        const struct config_alias *al = &config_aliases[i];
        int k = key_index(al->key);

        assert_true(strncmp(al->env, "DEMI_", 5) == 0);
        if (al->presence)
            assert_int_equal(config_keys[k].type, CONFIG_T_BOOL);
        for (size_t j = 0; j < config_nkeys; j++) {
            env_of(config_keys[j].key, a, sizeof(a));
            assert_string_not_equal(al->env, a);
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(al->env, config_aliases[j].env);
    }
    /* Demikernel's keys we ignore are in our sections and none of ours. */
    for (size_t i = 0; i < config_nforeign_keys; i++) {
        const char *f = config_foreign_keys[i];
        size_t sect = strcspn(f, ".");
        bool in_ours = false;

        assert_true(f[sect] == '.');
        for (size_t j = 0; j < config_nkeys; j++) {
            assert_string_not_equal(f, config_keys[j].key);
            in_ours |= strncmp(config_keys[j].key, f, sect + 1) == 0;
        }
        assert_true(in_ours);
    }
}

/* ---- defaults ---- */

static void test_defaults_null_path(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.path, "");
    assert_defaults(&cfg);
    for (size_t i = 0; i < config_nkeys; i++)
        assert_int_equal(cfg.source[i], CONFIG_SRC_DEFAULT);
    assert_null(cfg.ignored);
    config_free(&cfg);
}

static void test_defaults_empty_path(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    assert_int_equal(config_load(&cfg, "", err, sizeof(err)), 0);
    assert_string_equal(cfg.path, "");
    assert_defaults(&cfg);
    config_free(&cfg);
}

/* config_defaults(): the table's defaults only, whatever the environment
 * says; what stacks built by hand start from (inet_params_default). The
 * TCP keys that were once numbers hidden in tcp_subr.c, with Linux's values. */
static void test_defaults_only(void **state)
{
    struct demi_config cfg;

    (void)state;
    setenv("DEMI_TCP_OOO_MAX", "7", 1);
    assert_int_equal(config_defaults(&cfg), 0);
    unsetenv("DEMI_TCP_OOO_MAX");
    assert_defaults(&cfg);
    assert_int_equal(cfg.tcp_ooo_max, 256);
    assert_int_equal(cfg.tcp_keepalive_time_s, 7200);
    assert_int_equal(cfg.tcp_keepalive_intvl_s, 75);
    assert_int_equal(cfg.tcp_keepalive_probes, 9);
    assert_int_equal(cfg.tcp_max_connections, 65536);
    assert_int_equal(cfg.mss, 1460);
    config_free(&cfg);
}

static void test_empty_and_comment_only_files(void **state)
{
    static const char *const texts[] = {"", "# nothing here\n", "---\n", "~\n"};
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *path = write_yaml(texts[i]);
        assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
        assert_string_equal(cfg.path, path);
        assert_defaults(&cfg);
        config_free(&cfg);
    }
}

static void test_empty_sections_are_fine(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("tcp_socket_options:\n"
                                  "  # keepalive:\n"
                                  "  #   enabled: true\n"
                                  "inetstack_config: ~\n"
                                  "dpdk:\n"
                                  "  eal_init:\n");

    (void)state;
    assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
    assert_defaults(&cfg);
    config_free(&cfg);
}

/* ---- a full Demikernel file ---- */

static void test_full_demikernel_file(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    if (config_load(&cfg, FIXTURE, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.path, FIXTURE);

    assert_true(cfg.has_local_ipv4);
    assert_ip(cfg.local_ipv4, "192.168.1.2");
    assert_true(cfg.has_local_mac);
    assert_mac(cfg.local_mac, 1);
    assert_string_equal(cfg.linux_interface_name, "eth1");

    assert_int_equal(cfg.eal_argc, 3);
    assert_string_equal(cfg.eal_argv[0], "");
    assert_string_equal(cfg.eal_argv[1], "--no-huge");
    assert_string_equal(cfg.eal_argv[2], "--vdev=net_memif");
    assert_null(cfg.eal_argv[3]);

    assert_true(cfg.keepalive_enabled);
    assert_int_equal(cfg.keepalive_time_ms, 7200000);
    assert_int_equal(cfg.keepalive_interval, 75);
    assert_true(cfg.linger_enabled);
    assert_int_equal(cfg.linger_seconds, 10);
    assert_false(cfg.nodelay);
    assert_true(cfg.tcp_options_from_file);

    assert_int_equal(cfg.mtu, 9000);
    assert_int_equal(cfg.mss, 8960);
    assert_true(cfg.enable_jumbo_frames);
    assert_true(cfg.udp_checksum_offload);
    assert_true(cfg.tcp_checksum_offload);
    assert_int_equal(cfg.arp_table_len, 2);
    assert_mac(cfg.arp_table[0].mac, 3);
    assert_ip(cfg.arp_table[0].ip, "192.168.1.3");
    assert_mac(cfg.arp_table[1].mac, 4);
    assert_ip(cfg.arp_table[1].ip, "192.168.1.4");
    assert_int_equal(cfg.arp_request_retries, 7);
    assert_int_equal(cfg.arp_request_timeout_s, 20);
    assert_int_equal(cfg.arp_cache_ttl_s, 600);

    /* Not in the file: defaults. */
    assert_int_equal(cfg.max_queues, 65536);
    assert_string_equal(cfg.log_level, "warn");

    for (size_t i = 0; i < config_nkeys; i++) {
        const char *k = config_keys[i].key;
        /* libdemi's own keys, which Demikernel's file does not have. */
        bool ours =
            strncmp(k, "libdemi.", 8) == 0 || strncmp(k, "tcp.", 4) == 0 || strncmp(k, "fault.", 6) == 0 ||
            strncmp(k, "raw_socket.xdp_", 15) == 0 || strncmp(k, "catmem.", 7) == 0 || strncmp(k, "catloop.", 8) == 0 ||
            strncmp(k, "cattree.", 8) == 0 || strcmp(k, "inetstack_config.ipv4_prefix_len") == 0 ||
            strcmp(k, "demikernel.local_ipv6_addr") == 0 || strcmp(k, "inetstack_config.tcp_segmentation_offload") == 0;
        assert_int_equal(cfg.source[i], ours ? CONFIG_SRC_DEFAULT : CONFIG_SRC_FILE);
    }

    /* Demikernel's other keys are ignored, and listed. */
    assert_non_null(cfg.ignored);
    assert_contains(cfg.ignored, "client\n");
    assert_contains(cfg.ignored, "raw_socket.xdp_interface_index\n");
    assert_contains(cfg.ignored, "raw_socket.xdp_cohost_mode\n");
    assert_contains(cfg.ignored, "catmem.name_prefix\n");
    config_free(&cfg);
}

static void test_libdemi_section(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("libdemi:\n"
                                  "  max_queues: 16\n"
                                  "  max_ops: \"16777216\"\n" /* quoted numbers are fine */
                                  "  pool_small_count: 0\n"
                                  "  pool_large_count: 65536\n"
                                  "  pool_huge_count: 4096\n"
                                  "  spin_us: 0\n"
                                  "  log_level: DEBUG\n");

    (void)state;
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.max_queues, 16);
    assert_int_equal(cfg.max_ops, 16777216);
    assert_int_equal(cfg.pool_small_count, 0);
    assert_int_equal(cfg.pool_large_count, 65536);
    assert_int_equal(cfg.pool_huge_count, 4096);
    assert_int_equal(cfg.spin_us, 0);
    assert_string_equal(cfg.log_level, "debug"); /* stored as the table spells it */
    assert_int_equal(source_of(&cfg, "libdemi.spin_us"), CONFIG_SRC_FILE);
    assert_int_equal(source_of(&cfg, "inetstack_config.mtu"), CONFIG_SRC_DEFAULT);
    assert_false(cfg.tcp_options_from_file);
    config_free(&cfg);
}

static void test_bool_spellings(void **state)
{
    static const struct {
        const char *text;
        bool value;
    } cases[] = {
        {"true", true},   {"True", true},   {"YES", true}, {"on", true},  {"On", true},
        {"false", false}, {"FALSE", false}, {"no", false}, {"No", false}, {"off", false},
    };
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], text[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "inetstack_config:\n  enable_jumbo_frames: %s\n", cases[i].text);
        if (config_load(&cfg, write_yaml(text), err, sizeof(err)) != 0)
            fail_msg("%s: %s", cases[i].text, err);
        assert_int_equal(cfg.enable_jumbo_frames, cases[i].value);
        config_free(&cfg);
    }
}

static void test_bounds_inclusive(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("inetstack_config:\n"
                                  "  mtu: 68\n"
                                  "  mss: 9176\n"
                                  "  arp_request_retries: 0\n"
                                  "  arp_request_timeout: 3600\n"
                                  "  arp_cache_ttl: 1\n"
                                  "tcp_socket_options:\n"
                                  "  keepalive:\n"
                                  "    time_millis: 4294967295\n");

    (void)state;
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.mtu, 68);
    assert_int_equal(cfg.mss, 9176);
    assert_int_equal(cfg.arp_request_retries, 0);
    assert_int_equal(cfg.arp_request_timeout_s, 3600);
    assert_int_equal(cfg.arp_cache_ttl_s, 1);
    assert_int_equal(cfg.keepalive_time_ms, UINT32_MAX);
    assert_true(cfg.tcp_options_from_file);
    config_free(&cfg);
}

/* Sections that are not ours, and Demikernel's keys in ours, are listed;
 * a top-level name close to one of our sections says so. */
static void test_unknown_keys_ignored(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("server:\n"
                                  "  bind: {host: 1.2.3.4, port: 80}\n"
                                  "libdemi:\n"
                                  "  spin_us: 7\n"
                                  "raw_socket:\n"
                                  "  xdp_tcp_ports: [80, 443]\n"
                                  "  rx_ring_size: 128\n"
                                  "catpowder: {}\n"
                                  "libdemi_:\n"
                                  "  spin_us: 8\n"
                                  "? [complex, key]\n"
                                  ": 1\n");

    (void)state;
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.spin_us, 7);
    assert_string_equal(cfg.ignored, "server\n"
                                     "raw_socket.xdp_tcp_ports\n"
                                     "raw_socket.rx_ring_size\n"
                                     "catpowder\n"
                                     "libdemi_ (did you mean libdemi?)\n"
                                     "(a sequence as key)\n");
    config_free(&cfg);
}

/* ---- names that are not keys: the error names the closest key ---- */

struct unknown_case {
    const char *yaml;
    const char *tail; /* the message after "config PATH: " */
};

static void test_unknown_file_key(void **state)
{
    const struct unknown_case *c = *state;
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];
    const char *path = write_yaml(c->yaml);

    assert_int_equal(config_load(&cfg, path, err, sizeof(err)), EINVAL);
    snprintf(want, sizeof(want), "config %s: %s", path, c->tail);
    assert_string_equal(err, want);
    assert_null(cfg.ignored);
    assert_int_equal(cfg.eal_argc, 0);
    config_free(&cfg);
}

static const struct unknown_case unknown_misspelt = {
    "libdemi:\n  max_queues: 16\n  spn_us: 3\n",
    "key libdemi.spn_us: no such key (line 3); did you mean libdemi.spin_us?"};
static const struct unknown_case unknown_swapped = {
    "inetstack_config:\n  mut: 9000\n",
    "key inetstack_config.mut: no such key (line 2); did you mean inetstack_config.mtu?"};
static const struct unknown_case unknown_nested = {
    "tcp_socket_options:\n  keepalive:\n    enable: true\n",
    "key tcp_socket_options.keepalive.enable: no such key (line 3); did you mean "
    "tcp_socket_options.keepalive.enabled?"};
static const struct unknown_case unknown_subsection = {
    "tcp_socket_options:\n  keepalve:\n    enabled: true\n",
    "key tcp_socket_options.keepalve: no such key (line 2); did you mean tcp_socket_options.keepalive?"};
static const struct unknown_case unknown_wrong_section = {
    "libdemi:\n  mtu: 9000\n", "key libdemi.mtu: no such key (line 2); did you mean inetstack_config.mtu?"};
static const struct unknown_case unknown_flat = {"tcp.sak: false\n",
                                                 "key tcp.sak: no such key (line 1); did you mean tcp.sack?"};
static const struct unknown_case unknown_far = {
    "dpdk:\n  eal_init: []\ninetstack_config:\n  future_knob: [1, 2]\n",
    "key inetstack_config.future_knob: no such key (line 4); demi-config lists every key"};
static const struct unknown_case unknown_demikernel_typo = {
    "raw_socket:\n  xdp_cohost_mod: false\n",
    "key raw_socket.xdp_cohost_mod: no such key (line 2); demi-config lists every key"};
static const struct unknown_case unknown_complex = {
    "libdemi:\n  ? [a]\n  : 1\n", "key libdemi: expected names inside, got a sequence as key (line 2)"};

/* clang-format off */
#define UNKNOWN(c) {"file_" #c, test_unknown_file_key, setup, teardown, (void *)&c}
/* clang-format on */

struct unknown_env {
    const char *var;
    const char *msg; /* the whole message */
};

static void test_unknown_env(void **state)
{
    const struct unknown_env *c = *state;
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    setenv("DEMI_LIBDEMI_SPIN_US", "5", 1); /* a good one beside */
    setenv(c->var, "1", 1);
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), EINVAL);
    assert_string_equal(err, c->msg);
    assert_int_equal(cfg.eal_argc, 0);
    assert_null(cfg.ignored);
    /* demi-config shows the same: it loads the same way. */
    unsetenv(c->var);
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), 0);
    config_free(&cfg);
}

static const struct unknown_env env_misspelt = {
    "DEMI_LIBDEMI_SPN_US",
    "environment DEMI_LIBDEMI_SPN_US: not a libdemi variable; did you mean DEMI_LIBDEMI_SPIN_US (key "
    "libdemi.spin_us)?"};
static const struct unknown_env env_case = {
    "DEMI_tcp_sack", "environment DEMI_tcp_sack: not a libdemi variable; did you mean DEMI_TCP_SACK (key tcp.sack)?"};
static const struct unknown_env env_no_section = {
    "DEMI_SPIN_US",
    "environment DEMI_SPIN_US: not a libdemi variable; did you mean DEMI_LIBDEMI_SPIN_US (key libdemi.spin_us)?"};
static const struct unknown_env env_alias_typo = {
    "DEMI_STAT", "environment DEMI_STAT: not a libdemi variable; did you mean DEMI_STATS (alias of libdemi.stats)?"};
static const struct unknown_env env_far = {
    "DEMI_FOO", "environment DEMI_FOO: not a libdemi variable: a DEMI_* variable is DEMI_<KEY> for a key "
                "demi-config lists, or one of DEMI_LOG, DEMI_STATS, DEMI_CLOCK_NO_TSC"};

/* clang-format off */
#define UNKNOWN_ENV(c) {"unknown_" #c, test_unknown_env, setup, teardown, (void *)&c}
/* clang-format on */

/* DEMI_SHIM and DEMI_SHIM_* belong to the preload shim (demirun): the
 * loader leaves them alone, and only them. */
static void test_shim_env(void **state)
{
    static const char *const shim_vars[] = {"DEMI_SHIM", "DEMI_SHIM_SPIN_US", "DEMI_SHIM_KERNEL",
                                            "DEMI_SHIM_KERNEL_POLL_US"};
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(shim_vars) / sizeof(shim_vars[0]); i++)
        setenv(shim_vars[i], "1", 1);
    if (config_load(&cfg, FIXTURE, err, sizeof(err)) != 0)
        fail_msg("with the shim's variables: %s", err);
    config_free(&cfg);
    setenv("DEMI_SHIMMY", "1", 1);
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), EINVAL);
    unsetenv("DEMI_SHIMMY");
    for (size_t i = 0; i < sizeof(shim_vars) / sizeof(shim_vars[0]); i++)
        unsetenv(shim_vars[i]);
}

/* The variables read with getenv() before they were keys still work. */
static void test_aliases(void **state)
{
    static const struct {
        const char *var, *value;
        bool stats;
    } stats_cases[] = {
        {"DEMI_STATS", "1", true},   {"DEMI_STATS", "", true},     {"DEMI_STATS", "0", false},
        {"DEMI_STATS", "yes", true}, {"DEMI_STATS", "off", false}, {"DEMI_LIBDEMI_STATS", "true", true},
    };
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(stats_cases) / sizeof(stats_cases[0]); i++) {
        setenv(stats_cases[i].var, stats_cases[i].value, 1);
        if (config_load(&cfg, NULL, err, sizeof(err)) != 0)
            fail_msg("%s=%s: %s", stats_cases[i].var, stats_cases[i].value, err);
        assert_int_equal(cfg.stats, stats_cases[i].stats);
        assert_int_equal(source_of(&cfg, "libdemi.stats"),
                         stats_cases[i].var[5] == 'S' ? CONFIG_SRC_ALIAS : CONFIG_SRC_ENV);
        config_free(&cfg);
        unsetenv(stats_cases[i].var);
    }

    setenv("DEMI_CLOCK_NO_TSC", "1", 1);
    setenv("DEMI_LOG", "debug", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    assert_true(cfg.clock_no_tsc);
    assert_int_equal(source_of(&cfg, "libdemi.clock_no_tsc"), CONFIG_SRC_ALIAS);
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(source_of(&cfg, "libdemi.log_level"), CONFIG_SRC_ALIAS);
    config_free(&cfg);

    /* DEMI_LOG wins over the key's own variable, as it always did. */
    setenv("DEMI_LIBDEMI_LOG_LEVEL", "error", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.log_level, "debug");
    config_free(&cfg);
    unsetenv("DEMI_LOG");
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.log_level, "error");
    assert_int_equal(source_of(&cfg, "libdemi.log_level"), CONFIG_SRC_ENV);
    config_free(&cfg);

    /* A bad value names the variable and the key it sets. */
    setenv("DEMI_LOG", "loud", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), EINVAL);
    assert_string_equal(err, "environment DEMI_LOG (alias of libdemi.log_level): expected one of "
                             "error|warn|info|debug|trace, got \"loud\"");
    unsetenv("DEMI_LOG");
    setenv("DEMI_STATS", "2", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), EINVAL);
    assert_string_equal(err, "environment DEMI_STATS (alias of libdemi.stats): expected 1, 0 or a boolean "
                             "(true/false, yes/no or on/off), got \"2\"");
}

/* ---- the warning about what is ignored ---- */

static void test_ignored_warning(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], buf[512], want[512], *text;
    size_t size = 64 + 300 * 8, o = 0;
    bool ok;

    (void)state;
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), 0);
    assert_true(config_ignored_warning(&cfg, buf, sizeof(buf)));
    snprintf(want, sizeof(want),
             "libdemi ignores these keys of %s: client, raw_socket.xdp_interface_index, "
             "raw_socket.xdp_cohost_mode, catmem.name_prefix",
             FIXTURE);
    assert_string_equal(buf, want);
    config_free(&cfg);

    /* Nothing ignored, nothing to say. */
    assert_int_equal(config_load(&cfg, write_yaml("libdemi: {spin_us: 1}\n"), err, sizeof(err)), 0);
    assert_false(config_ignored_warning(&cfg, buf, sizeof(buf)));
    config_free(&cfg);

    /* Too many for one line: cut at a name, with how many more. */
    text = malloc(size);
    assert_non_null(text);
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(text + o, size - o, "s%03d: 1\n", i);
    assert_int_equal(config_load(&cfg, write_yaml(text), err, sizeof(err)), 0);
    free(text);
    ok = config_ignored_warning(&cfg, buf, 200);
    assert_true(ok);
    assert_true(strlen(buf) < 200);
    assert_contains(buf, ": s000, s001, ");
    assert_contains(buf, " more (demi-config lists them)");
    config_free(&cfg);
}

/* Runs rt_init(catnap, @path) with stderr in a file; returns its result and
 * what it printed (malloc'd) in @out. */
static int init_capture(const char *path, char **out)
{
    char log_path[160];
    int saved, fd, ret;
    FILE *f;
    long len;

    snprintf(log_path, sizeof(log_path), "%s/stderr.txt", tmpdir);
    fflush(stderr);
    saved = dup(2);
    fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    ret = rt_init("catnap", path);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (ret == 0)
        rt_shutdown();

    f = fopen(log_path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    *out = calloc(1, (size_t)len + 1);
    assert_non_null(*out);
    assert_int_equal(fread(*out, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    unlink(log_path);
    return ret;
}

/* demi_init's side: one warning for what is ignored, the error for a typo. */
static void test_init_warns_and_fails(void **state)
{
    char want[512], *out;
    const char *path;

    (void)state;
    path = write_yaml("client:\n  connect_to: {host: 10.0.0.1, port: 80}\n"
                      "raw_socket:\n  xdp_cohost_mode: false\n"
                      "libdemi:\n  spin_us: 0\n");
    assert_int_equal(init_capture(path, &out), 0);
    snprintf(want, sizeof(want), "libdemi warn: libdemi ignores these keys of %s: client, raw_socket.xdp_cohost_mode\n",
             path);
    assert_string_equal(out, want);
    free(out);

    /* At DEMI_LOG=error it is quiet. */
    setenv("DEMI_LOG", "error", 1);
    assert_int_equal(init_capture(path, &out), 0);
    assert_string_equal(out, "");
    free(out);
    unsetenv("DEMI_LOG");

    path = write_yaml("libdemi:\n  spin_su: 0\n");
    assert_int_equal(init_capture(path, &out), EINVAL);
    snprintf(want, sizeof(want),
             "libdemi error: config %s: key libdemi.spin_su: no such key (line 2); did you mean "
             "libdemi.spin_us?\n",
             path);
    assert_string_equal(out, want);
    free(out);

    setenv("DEMI_TCP_SAC", "off", 1);
    assert_int_equal(init_capture(NULL, &out), EINVAL);
    assert_string_equal(out, "libdemi error: environment DEMI_TCP_SAC: not a libdemi variable; did you mean "
                             "DEMI_TCP_SACK (key tcp.sack)?\n");
    free(out);
}

/* An alias may point at an enclosing mapping; the walk must still end (on
 * the first name of the top level found inside our section). */
static void test_alias_cycle_terminates(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("&root\n"
                                  "inetstack_config: *root\n"
                                  "libdemi: {spin_us: 3}\n");

    (void)state;
    assert_int_equal(config_load(&cfg, path, err, sizeof(err)), EINVAL);
    assert_contains(err, "key inetstack_config.inetstack_config: no such key (line 2)");
    assert_null(cfg.ignored);
}

/* ---- malformed files: EINVAL and a message naming file, key and form ---- */

struct bad_case {
    const char *yaml;
    size_t len;           /* 0: strlen(yaml) */
    const char *key;      /* must be in the message, or NULL */
    const char *expected; /* the expected form, must be in the message */
    const char *got;      /* the offending value as shown, or NULL */
};

static void test_bad_file(void **state)
{
    const struct bad_case *c = *state;
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml_len(c->yaml, c->len ? c->len : strlen(c->yaml));

    assert_int_equal(config_load(&cfg, path, err, sizeof(err)), EINVAL);
    assert_contains(err, "config ");
    assert_contains(err, path);
    if (c->key) {
        char keypart[128];
        snprintf(keypart, sizeof(keypart), "key %s:", c->key);
        assert_contains(err, keypart);
    }
    assert_contains(err, c->expected);
    if (c->got)
        assert_contains(err, c->got);
    /* Nothing stays allocated after an error. */
    assert_int_equal(cfg.eal_argc, 0);
    assert_null(cfg.eal_argv[0]);
    assert_null(cfg.ignored);
    config_free(&cfg);
}

static const struct bad_case bad_int = {"inetstack_config:\n  mtu: abc\n", 0, "inetstack_config.mtu",
                                        "expected an integer in 68..9216, got \"abc\" (line 2)", NULL};
static const struct bad_case bad_int_low = {"inetstack_config:\n  mtu: 67\n", 0, "inetstack_config.mtu",
                                            "expected an integer in 68..9216", "\"67\""};
/* A jumbo MTU only with enable_jumbo_frames (test_jumbo_mtu: with it). */
static const struct bad_case bad_jumbo_mtu = {"inetstack_config:\n  mtu: 9000\n", 0, NULL,
                                              "inetstack_config.mtu 9000 is a jumbo MTU (above 1500): set "
                                              "inetstack_config.enable_jumbo_frames: true as well",
                                              NULL};
static const struct bad_case bad_int_high = {"inetstack_config:\n  mss: 9177\n", 0, "inetstack_config.mss",
                                             "expected an integer in 536..9176", "\"9177\""};
static const struct bad_case bad_int_overflow = {"libdemi:\n  max_ops: 99999999999999999999\n", 0, "libdemi.max_ops",
                                                 "expected an integer in 16..16777216", "\"99999999999999999999\""};
static const struct bad_case bad_int_u32_wrap = {"tcp_socket_options:\n  linger:\n    time_seconds: 4294967296\n", 0,
                                                 "tcp_socket_options.linger.time_seconds",
                                                 "expected an integer in 0..4294967295", NULL};
static const struct bad_case bad_int_hex = {"libdemi:\n  spin_us: 0x10\n", 0, "libdemi.spin_us",
                                            "expected an integer in 0..10000000", "\"0x10\""};
static const struct bad_case bad_int_negative = {"inetstack_config:\n  arp_request_retries: -1\n", 0,
                                                 "inetstack_config.arp_request_retries",
                                                 "expected an integer in 0..100", "\"-1\""};
static const struct bad_case bad_int_empty = {"inetstack_config:\n  mtu:\n", 0, "inetstack_config.mtu",
                                              "expected an integer in 68..9216", "got \"\""};
static const struct bad_case bad_int_nul = {"inetstack_config:\n  mtu: \"15\\0\"\n", 0, "inetstack_config.mtu",
                                            "expected an integer", NULL};
static const struct bad_case bad_int_mapping = {"inetstack_config:\n  mtu: {a: 1}\n", 0, "inetstack_config.mtu",
                                                "expected an integer in 68..9216", "got a mapping"};
static const struct bad_case bad_bool = {"tcp_socket_options:\n  nodelay: maybe\n", 0, "tcp_socket_options.nodelay",
                                         "expected a boolean (true/false, yes/no or on/off)", "\"maybe\""};
static const struct bad_case bad_bool_digit = {"tcp_socket_options:\n  keepalive:\n    enabled: 1\n", 0,
                                               "tcp_socket_options.keepalive.enabled", "expected a boolean", "\"1\""};
static const struct bad_case bad_ipv4 = {"demikernel:\n  local_ipv4_addr: 192.168.1.300\n", 0,
                                         "demikernel.local_ipv4_addr", "expected an IPv4 address like 192.168.1.2",
                                         "\"192.168.1.300\""};
static const struct bad_case bad_ipv4_template = {"demikernel:\n  local_ipv4_addr: XX.XX.XX.XX\n", 0,
                                                  "demikernel.local_ipv4_addr", "expected an IPv4 address",
                                                  "\"XX.XX.XX.XX\""};
static const struct bad_case bad_ipv6 = {"demikernel:\n  local_ipv6_addr: fd00::1::2\n", 0,
                                         "demikernel.local_ipv6_addr", "expected a unicast IPv6 address like fd00::2",
                                         "\"fd00::1::2\""};
/* Link-local is made from the MAC; a group, ::, ::1 are no host's. */
static const struct bad_case bad_ipv6_linklocal = {"demikernel:\n  local_ipv6_addr: fe80::1\n", 0,
                                                   "demikernel.local_ipv6_addr", "not link-local", "\"fe80::1\""};
static const struct bad_case bad_ipv6_group = {"demikernel:\n  local_ipv6_addr: ff02::1\n", 0,
                                               "demikernel.local_ipv6_addr", "expected a unicast IPv6", "\"ff02::1\""};
static const struct bad_case bad_ipv6_v4 = {"demikernel:\n  local_ipv6_addr: 10.0.0.1\n", 0,
                                            "demikernel.local_ipv6_addr", "expected a unicast IPv6", "\"10.0.0.1\""};
static const struct bad_case bad_mac = {"demikernel:\n  local_link_addr: zz\n", 0, "demikernel.local_link_addr",
                                        "expected a MAC address like 02:00:00:00:00:01, got \"zz\"", NULL};
static const struct bad_case bad_mac_short = {"demikernel:\n  local_link_addr: \"02:00:00:00:00\"\n", 0,
                                              "demikernel.local_link_addr", "expected a MAC address", NULL};
static const struct bad_case bad_eal_scalar = {"dpdk:\n  eal_init: \"--no-huge\"\n", 0, "dpdk.eal_init",
                                               "expected a sequence of at most 64 strings",
                                               "got the scalar \"--no-huge\""};
static const struct bad_case bad_eal_mapping = {"dpdk:\n  eal_init: {a: b}\n", 0, "dpdk.eal_init",
                                                "expected a sequence", "got a mapping"};
static const struct bad_case bad_eal_item = {"dpdk:\n  eal_init: [\"\", [\"-c\"]]\n", 0, "dpdk.eal_init",
                                             "expected a sequence", "a sequence as item 1"};
/* The first, valid, eal_init is allocated before the error: no leak. */
static const struct bad_case bad_after_eal = {
    "dpdk:\n  eal_init: [\"\", \"--no-huge\"]\ninetstack_config:\n  mtu: big\n", 0, "inetstack_config.mtu",
    "expected an integer", "(line 4)"};
static const struct bad_case bad_arp_mac = {
    "inetstack_config:\n  arp_table:\n    \"zz\": \"192.168.1.3\"\n", 0, "inetstack_config.arp_table",
    "expected a mapping of at most 64 \"MAC\": \"IPv4\" entries", "got \"zz\": \"192.168.1.3\" (line 3)"};
static const struct bad_case bad_arp_ip = {
    "inetstack_config:\n  arp_table:\n    \"02:00:00:00:00:03\": \"192.168.1\"\n", 0, "inetstack_config.arp_table",
    "entries like \"02:00:00:00:00:01\": \"192.168.1.2\"", "\"192.168.1\""};
static const struct bad_case bad_arp_sequence = {"inetstack_config:\n  arp_table: [\"02:00:00:00:00:03\"]\n", 0,
                                                 "inetstack_config.arp_table", "expected a mapping", "got a sequence"};
static const struct bad_case bad_arp_nested = {"inetstack_config:\n  arp_table:\n    \"02:00:00:00:00:03\": [1]\n", 0,
                                               "inetstack_config.arp_table", "expected a mapping", "a sequence"};
static const struct bad_case bad_section_scalar = {"inetstack_config: 5\n", 0, "inetstack_config",
                                                   "expected a mapping (a section), got a scalar", NULL};
static const struct bad_case bad_subsection = {"tcp_socket_options:\n  keepalive: [1]\n", 0,
                                               "tcp_socket_options.keepalive",
                                               "expected a mapping (a section), got a sequence", NULL};
static const struct bad_case bad_log_level = {"libdemi:\n  log_level: loud\n", 0, "libdemi.log_level",
                                              "expected one of error|warn|info|debug|trace", "\"loud\""};
static const struct bad_case bad_ifname = {"raw_socket:\n  linux_interface_name: \"0123456789abcdef\"\n", 0,
                                           "raw_socket.linux_interface_name",
                                           "expected a string of at most 15 characters", NULL};
static const struct bad_case bad_syntax = {"inetstack_config:\n  mtu: 1500\n  mss: 1460: 3\n", 0, NULL,
                                           ":3:", "invalid YAML: mapping values"};
static const struct bad_case bad_syntax_unclosed = {"libdemi:\n  spin_us: 1\ndpdk:\n  eal_init: [\"a\", \"b\"\n", 0,
                                                    NULL, "invalid YAML", NULL};
static const struct bad_case bad_top_sequence = {"- a\n- b\n", 0, NULL,
                                                 "expected a mapping of sections at the top, got a sequence", NULL};
static const struct bad_case bad_two_documents = {"libdemi: {spin_us: 1}\n---\nlibdemi: {spin_us: 2}\n", 0, NULL,
                                                  "expected a single YAML document", "line 3"};
static const struct bad_case bad_utf8 = {"libdemi:\n  log_level: \"\xff\xfe\"\n", 0, NULL, "invalid YAML input",
                                         "at byte"};

#define BAD(c)                                                     \
    {                                                              \
        "bad_file_" #c, test_bad_file, setup, teardown, (void *)&c \
    }

/* Builds a file with @n eal_init items, or @n arp_table entries. */
static char *many_items(bool arp, int n)
{
    size_t size = 64 + (size_t)n * 48;
    char *s = malloc(size);
    size_t o;

    assert_non_null(s);
    o = (size_t)snprintf(s, size, arp ? "inetstack_config:\n  arp_table:\n" : "dpdk:\n  eal_init:\n");
    for (int i = 0; i < n; i++) {
        if (arp)
            o += (size_t)snprintf(s + o, size - o, "    \"02:00:00:00:00:%02x\": \"10.0.0.%d\"\n", i, i);
        else
            o += (size_t)snprintf(s + o, size - o, "    - \"-%d\"\n", i);
    }
    return s;
}

static void test_eal_at_most_max(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    char *text = many_items(false, CONFIG_EAL_ARGS_MAX);
    int ret;

    (void)state;
    ret = config_load(&cfg, write_yaml(text), err, sizeof(err));
    free(text);
    if (ret)
        fail_msg("%s", err);
    assert_int_equal(cfg.eal_argc, CONFIG_EAL_ARGS_MAX);
    assert_string_equal(cfg.eal_argv[CONFIG_EAL_ARGS_MAX - 1], "-63");
    config_free(&cfg);

    text = many_items(false, CONFIG_EAL_ARGS_MAX + 1);
    ret = config_load(&cfg, write_yaml(text), err, sizeof(err));
    free(text);
    assert_int_equal(ret, EINVAL);
    assert_contains(err, tmpfile_path);
    assert_contains(err, "key dpdk.eal_init: expected a sequence of at most 64 strings");
    assert_contains(err, "got 65 strings");
    assert_int_equal(cfg.eal_argc, 0);
}

static void test_arp_at_most_max(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    char *text = many_items(true, CONFIG_ARP_TABLE_MAX);
    int ret;

    (void)state;
    ret = config_load(&cfg, write_yaml(text), err, sizeof(err));
    free(text);
    if (ret)
        fail_msg("%s", err);
    assert_int_equal(cfg.arp_table_len, CONFIG_ARP_TABLE_MAX);
    assert_ip(cfg.arp_table[CONFIG_ARP_TABLE_MAX - 1].ip, "10.0.0.63");
    config_free(&cfg);

    text = many_items(true, CONFIG_ARP_TABLE_MAX + 1);
    ret = config_load(&cfg, write_yaml(text), err, sizeof(err));
    free(text);
    assert_int_equal(ret, EINVAL);
    assert_contains(err, tmpfile_path);
    assert_contains(err, "key inetstack_config.arp_table: expected a mapping of at most 64");
    assert_contains(err, "got 65 entries");
}

static void test_missing_file(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];
    char path[160];

    (void)state;
    snprintf(path, sizeof(path), "%s/does-not-exist.yaml", tmpdir);
    assert_int_equal(config_load(&cfg, path, err, sizeof(err)), ENOENT);
    assert_contains(err, path);
    assert_contains(err, "cannot open: No such file or directory");
}

static void test_directory_is_not_a_file(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    assert_int_equal(config_load(&cfg, tmpdir, err, sizeof(err)), EINVAL);
    assert_contains(err, tmpdir);
    assert_contains(err, "cannot open");
}

/* A NULL or short err buffer still gets the error code, and no overflow. */
static void test_error_buffer_optional(void **state)
{
    struct demi_config cfg;
    char small[8];
    const char *path = write_yaml("inetstack_config:\n  mtu: abc\n");

    (void)state;
    assert_int_equal(config_load(&cfg, path, NULL, 0), EINVAL);
    assert_int_equal(config_load(&cfg, path, small, sizeof(small)), EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ---- environment ---- */

/* A jumbo MTU: TCP's MSS follows it unless the user set one (the stack's
 * parameters, as inet_params_from_config makes them from the config). */
static void test_jumbo_mss(void **state)
{
    struct demi_config cfg;
    struct inet_params p;
    char err[CONFIG_ERR_MAX];
    const char *path = write_yaml("inetstack_config:\n  mtu: 9000\n  enable_jumbo_frames: true\n");

    (void)state;
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(config_key_source(&cfg, "inetstack_config.mtu"), CONFIG_SRC_FILE);
    assert_int_equal(config_key_source(&cfg, "inetstack_config.mss"), CONFIG_SRC_DEFAULT);
    assert_int_equal(config_key_source(&cfg, "no.such_key"), CONFIG_SRC_DEFAULT);
    inet_params_from_config(&cfg, &p);
    assert_int_equal(p.tcp.mss, 8960);
    config_free(&cfg);

    setenv("DEMI_INETSTACK_CONFIG_MSS", "4000", 1);
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    unsetenv("DEMI_INETSTACK_CONFIG_MSS");
    inet_params_from_config(&cfg, &p);
    assert_int_equal(p.tcp.mss, 4000); /* the user's */
    config_free(&cfg);

    path = write_yaml("inetstack_config:\n  mtu: 1400\n");
    if (config_load(&cfg, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    inet_params_from_config(&cfg, &p);
    assert_int_equal(p.tcp.mss, 1460); /* the default: the MTU bounds it at run time */
    config_free(&cfg);
}

static void test_env_overrides_file(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    setenv("DEMI_INETSTACK_CONFIG_MTU", "1400", 1);
    setenv("DEMI_LIBDEMI_SPIN_US", "0", 1);
    setenv("DEMI_DPDK_EAL_INIT", "demi  -l 0-3\t--no-pci", 1);
    setenv("DEMI_INETSTACK_CONFIG_ARP_TABLE", "02:00:00:00:00:09=10.0.0.9, 02:00:00:00:00:0a=10.0.0.10", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.0.0.1", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR", "fd00::1", 1);
    setenv("DEMI_LIBDEMI_LOG_LEVEL", "trace", 1);
    if (config_load(&cfg, FIXTURE, err, sizeof(err)) != 0)
        fail_msg("%s", err);

    assert_int_equal(cfg.mtu, 1400); /* the file says 9000 */
    assert_int_equal(source_of(&cfg, "inetstack_config.mtu"), CONFIG_SRC_ENV);
    assert_int_equal(cfg.mss, 8960); /* file, untouched */
    assert_int_equal(source_of(&cfg, "inetstack_config.mss"), CONFIG_SRC_FILE);
    assert_int_equal(cfg.spin_us, 0);
    assert_int_equal(source_of(&cfg, "libdemi.spin_us"), CONFIG_SRC_ENV);
    assert_int_equal(source_of(&cfg, "libdemi.max_ops"), CONFIG_SRC_DEFAULT);
    assert_string_equal(cfg.log_level, "trace");

    assert_int_equal(cfg.eal_argc, 4);
    assert_string_equal(cfg.eal_argv[0], "demi");
    assert_string_equal(cfg.eal_argv[1], "-l");
    assert_string_equal(cfg.eal_argv[2], "0-3");
    assert_string_equal(cfg.eal_argv[3], "--no-pci");
    assert_null(cfg.eal_argv[4]);

    assert_int_equal(cfg.arp_table_len, 2);
    assert_ip(cfg.arp_table[0].ip, "10.0.0.9");
    assert_ip(cfg.arp_table[1].ip, "10.0.0.10");
    assert_int_equal(cfg.arp_table[1].mac[5], 0x0a);

    assert_ip(cfg.local_ipv4, "10.0.0.1");
    assert_int_equal(source_of(&cfg, "demikernel.local_ipv4_addr"), CONFIG_SRC_ENV);
    assert_true(cfg.has_local_ipv6);
    {
        struct in6_addr want;
        assert_int_equal(inet_pton(AF_INET6, "fd00::1", &want), 1);
        assert_memory_equal(&cfg.local_ipv6, &want, sizeof(want));
    }
    assert_int_equal(source_of(&cfg, "demikernel.local_ipv6_addr"), CONFIG_SRC_ENV);
    config_free(&cfg);
}

static void test_env_without_file(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    setenv("DEMI_DEMIKERNEL_LOCAL_LINK_ADDR", "02:00:00:00:00:05", 1);
    setenv("DEMI_DPDK_EAL_INIT", "", 1);
    if (config_load(&cfg, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(cfg.has_local_mac);
    assert_mac(cfg.local_mac, 5);
    assert_int_equal(source_of(&cfg, "demikernel.local_link_addr"), CONFIG_SRC_ENV);
    assert_int_equal(cfg.eal_argc, 0);
    assert_false(cfg.tcp_options_from_file);
    config_free(&cfg);
}

static void test_env_tcp_option_sets_flag(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    setenv("DEMI_TCP_SOCKET_OPTIONS_NODELAY", "off", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    assert_false(cfg.nodelay);
    assert_true(cfg.tcp_options_from_file);
    config_free(&cfg);
}

struct bad_env {
    const char *var, *value, *expected;
};

static void test_bad_env(void **state)
{
    const struct bad_env *c = *state;
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], want[256];

    setenv(c->var, c->value, 1);
    /* With a file too: the file's eal_init is freed on the error path. */
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), EINVAL);
    snprintf(want, sizeof(want), "environment %s: ", c->var);
    assert_contains(err, want);
    assert_contains(err, c->expected);
    assert_int_equal(cfg.eal_argc, 0);
    assert_null(cfg.eal_argv[0]);
}

static const struct bad_env env_bad_int = {"DEMI_INETSTACK_CONFIG_MTU", "x",
                                           "expected an integer in 68..9216, got \"x\""};
static const struct bad_env env_bad_range = {"DEMI_LIBDEMI_MAX_QUEUES", "15", "expected an integer in 16..1048576"};
static const struct bad_env env_bad_bool = {"DEMI_INETSTACK_CONFIG_ENABLE_JUMBO_FRAMES", "yep", "expected a boolean"};
static const struct bad_env env_bad_mac = {"DEMI_DEMIKERNEL_LOCAL_LINK_ADDR", "02-00-00-00-00-01",
                                           "expected a MAC address like 02:00:00:00:00:01"};
static const struct bad_env env_bad_arp = {"DEMI_INETSTACK_CONFIG_ARP_TABLE", "02:00:00:00:00:01:10.0.0.1",
                                           "expected at most 64 comma-separated MAC=IPv4 entries"};
static const struct bad_env env_bad_level = {"DEMI_LIBDEMI_LOG_LEVEL", "", "expected one of error|warn"};

#define BAD_ENV(c)                                           \
    {                                                        \
        "bad_" #c, test_bad_env, setup, teardown, (void *)&c \
    }

static void test_env_too_many_eal_args(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], value[CONFIG_EAL_ARGS_MAX * 4 + 8] = "";

    (void)state;
    for (int i = 0; i <= CONFIG_EAL_ARGS_MAX; i++)
        strcat(value, "-x ");
    setenv("DEMI_DPDK_EAL_INIT", value, 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), EINVAL);
    assert_contains(err, "environment DEMI_DPDK_EAL_INIT: expected at most 64 space-separated arguments");
}

/* ---- config_free, config_print ---- */

static void test_free_twice_and_zeroed(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    config_free(&cfg);
    config_free(NULL);

    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), 0);
    assert_int_equal(cfg.eal_argc, 3);
    config_free(&cfg);
    assert_int_equal(cfg.eal_argc, 0);
    assert_null(cfg.eal_argv[1]);
    assert_null(cfg.ignored);
    config_free(&cfg);

    /* And the struct can be loaded again, even from its own path field. */
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), 0);
    config_free(&cfg);
    assert_int_equal(config_load(&cfg, cfg.path, err, sizeof(err)), 0);
    assert_string_equal(cfg.path, FIXTURE);
    assert_int_equal(cfg.mtu, 9000);
    config_free(&cfg);
}

static void test_print_lists_every_key(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], *text = NULL, line_start[160];
    size_t size = 0;
    const char *prev = NULL;
    FILE *out;

    (void)state;
    setenv("DEMI_LIBDEMI_SPIN_US", "42", 1);
    assert_int_equal(config_load(&cfg, FIXTURE, err, sizeof(err)), 0);
    out = open_memstream(&text, &size);
    assert_non_null(out);
    config_print(out, &cfg);
    assert_int_equal(fclose(out), 0);

    /* Every key, at the start of a line, in table order, with its help. */
    for (size_t i = 0; i < config_nkeys; i++) {
        const char *at;
        snprintf(line_start, sizeof(line_start), "\n%s:", config_keys[i].key);
        at = strstr(text, line_start);
        if (!at)
            fail_msg("key %s not printed in:\n%s", config_keys[i].key, text);
        assert_true(prev == NULL || at > prev);
        prev = at;
        assert_contains(at, config_keys[i].help);
    }
    assert_contains(text, FIXTURE);
    assert_contains(text, "\nlibdemi.spin_us:");
    assert_true(strstr(text, "42") != NULL);
    assert_contains(text, "# env ");
    assert_contains(text, "# file ");
    assert_contains(text, "# default ");
    assert_contains(text, "[\"\", \"--no-huge\", \"--vdev=net_memif\"]");
    assert_contains(text, "{\"02:00:00:00:00:03\": \"192.168.1.3\", \"02:00:00:00:00:04\": \"192.168.1.4\"}");
    assert_contains(text, "192.168.1.2");
    assert_contains(text, "02:00:00:00:00:01");
    assert_contains(text, "#   raw_socket.xdp_cohost_mode\n");
    free(text);
    config_free(&cfg);
}

static void test_print_unset_values(void **state)
{
    struct demi_config cfg;
    char err[CONFIG_ERR_MAX], *text = NULL;
    size_t size = 0;
    FILE *out;

    (void)state;
    assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
    out = open_memstream(&text, &size);
    assert_non_null(out);
    config_print(out, &cfg);
    assert_int_equal(fclose(out), 0);
    assert_contains(text, "file: (none)");
    assert_contains(text, "\ndemikernel.local_ipv4_addr:");
    assert_contains(text, "\ninetstack_config.mtu:");
    assert_contains(text, " 1500 ");
    assert_contains(text, "\"warn\"");
    assert_true(strstr(text, "# file ") == NULL);
    free(text);
    config_free(&cfg);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_table_is_sane),
        T(test_defaults_null_path),
        T(test_defaults_empty_path),
        T(test_defaults_only),
        T(test_empty_and_comment_only_files),
        T(test_empty_sections_are_fine),
        T(test_full_demikernel_file),
        T(test_libdemi_section),
        T(test_bool_spellings),
        T(test_bounds_inclusive),
        T(test_unknown_keys_ignored),
        UNKNOWN(unknown_misspelt),
        UNKNOWN(unknown_swapped),
        UNKNOWN(unknown_nested),
        UNKNOWN(unknown_subsection),
        UNKNOWN(unknown_wrong_section),
        UNKNOWN(unknown_flat),
        UNKNOWN(unknown_far),
        UNKNOWN(unknown_demikernel_typo),
        UNKNOWN(unknown_complex),
        UNKNOWN_ENV(env_misspelt),
        UNKNOWN_ENV(env_case),
        UNKNOWN_ENV(env_no_section),
        UNKNOWN_ENV(env_alias_typo),
        UNKNOWN_ENV(env_far),
        cmocka_unit_test(test_shim_env),
        T(test_aliases),
        T(test_ignored_warning),
        T(test_init_warns_and_fails),
        T(test_alias_cycle_terminates),
        BAD(bad_int),
        BAD(bad_int_low),
        BAD(bad_jumbo_mtu),
        BAD(bad_int_high),
        BAD(bad_int_overflow),
        BAD(bad_int_u32_wrap),
        BAD(bad_int_hex),
        BAD(bad_int_negative),
        BAD(bad_int_empty),
        BAD(bad_int_nul),
        BAD(bad_int_mapping),
        BAD(bad_bool),
        BAD(bad_bool_digit),
        BAD(bad_ipv4),
        BAD(bad_ipv6),
        BAD(bad_ipv6_linklocal),
        BAD(bad_ipv6_group),
        BAD(bad_ipv6_v4),
        BAD(bad_ipv4_template),
        BAD(bad_mac),
        BAD(bad_mac_short),
        BAD(bad_eal_scalar),
        BAD(bad_eal_mapping),
        BAD(bad_eal_item),
        BAD(bad_after_eal),
        BAD(bad_arp_mac),
        BAD(bad_arp_ip),
        BAD(bad_arp_sequence),
        BAD(bad_arp_nested),
        BAD(bad_section_scalar),
        BAD(bad_subsection),
        BAD(bad_log_level),
        BAD(bad_ifname),
        BAD(bad_syntax),
        BAD(bad_syntax_unclosed),
        BAD(bad_top_sequence),
        BAD(bad_two_documents),
        BAD(bad_utf8),
        T(test_eal_at_most_max),
        T(test_arp_at_most_max),
        T(test_missing_file),
        T(test_directory_is_not_a_file),
        T(test_error_buffer_optional),
        T(test_env_overrides_file),
        T(test_jumbo_mss),
        T(test_env_without_file),
        T(test_env_tcp_option_sets_flag),
        BAD_ENV(env_bad_int),
        BAD_ENV(env_bad_range),
        BAD_ENV(env_bad_bool),
        BAD_ENV(env_bad_mac),
        BAD_ENV(env_bad_arp),
        BAD_ENV(env_bad_level),
        T(test_env_too_many_eal_args),
        T(test_free_twice_and_zeroed),
        T(test_print_lists_every_key),
        T(test_print_unset_values),
    };

    return cmocka_run_group_tests_name("config", tests, group_setup, group_teardown);
}
