/* SPDX-License-Identifier: MIT */
/*
 * config.h: every tunable of libdemi, with its default, in one place.
 *
 * Sources, later ones winning: built-in defaults (config_keys[] in config.c),
 * the YAML file named by CONFIG_PATH (Demikernel's keys plus our own), then
 * environment variables DEMI_<KEY> where KEY is the dotted key upper-cased
 * with '.' replaced by '_' (inetstack_config.mtu -> DEMI_INETSTACK_CONFIG_MTU),
 * or a few older names kept as aliases (config_aliases[]: DEMI_LOG,
 * DEMI_STATS, DEMI_CLOCK_NO_TSC).
 *
 * Nothing is dropped silently: an unknown key in a section libdemi owns (the
 * first component of any key: libdemi, tcp, inetstack_config, ...) or an
 * unknown DEMI_* variable is an error naming the closest key; Demikernel's
 * keys libdemi does not use (config_foreign_keys[], whole sections such as
 * catnip or client) are collected in cfg->ignored for one warning at init.
 * Private header.
 */
#ifndef DEMI_CORE_CONFIG_H
#define DEMI_CORE_CONFIG_H

#include "core/limits.h" /* CONFIG_ARP_TABLE_MAX */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 4096
#define CONFIG_IFNAME_MAX 16 /* IFNAMSIZ */
#define CONFIG_EAL_ARGS_MAX 64
#define CONFIG_ERR_MAX 512
#define CONFIG_KEYS_MAX 96
/* The largest MTU without inetstack_config.enable_jumbo_frames (frames of
 * 1514 bytes). */
#define CONFIG_MTU_STANDARD 1500u

struct config_arp_entry {
    uint8_t mac[6];
    struct in_addr ip;
};

/* Where a value came from; printed by demi-config. ALIAS: an old variable
 * name of the key (config_aliases[]). */
enum config_source { CONFIG_SRC_DEFAULT = 0, CONFIG_SRC_FILE, CONFIG_SRC_ENV, CONFIG_SRC_ALIAS };

struct demi_config {
    char path[CONFIG_PATH_MAX]; /* file read, "" if none */

    /* demikernel.* */
    struct in_addr local_ipv4; /* demikernel.local_ipv4_addr */
    bool has_local_ipv4;
    struct in6_addr local_ipv6; /* demikernel.local_ipv6_addr */
    bool has_local_ipv6;
    uint8_t local_mac[6]; /* demikernel.local_link_addr */
    bool has_local_mac;

    /* raw_socket.* */
    char linux_interface_name[CONFIG_IFNAME_MAX];
    char raw_socket_mode[16]; /* raw_socket.mode: af_packet | af_xdp (catpowder) */
    uint32_t xdp_queue;       /* raw_socket.xdp_queue */
    char xdp_bind[16];        /* raw_socket.xdp_bind: auto | zero_copy | copy */

    /* dpdk.* : eal_init is argv for rte_eal_init(), argv[0] included */
    int eal_argc;
    char *eal_argv[CONFIG_EAL_ARGS_MAX]; /* owned, freed by config_free() */
    uint32_t dpdk_link_wait_ms;          /* dpdk.link_wait_ms: 0 = do not wait for the link */

    /* tcp_socket_options.* */
    bool keepalive_enabled;
    uint32_t keepalive_time_ms;  /* keepalive.time_millis */
    uint32_t keepalive_interval; /* keepalive.interval (seconds) */
    bool linger_enabled;
    uint32_t linger_seconds; /* linger.time_seconds */
    bool nodelay;
    bool tcp_options_from_file; /* any tcp_socket_options.* key was given */

    /* inetstack_config.* */
    uint32_t mtu;
    uint32_t mss;
    bool enable_jumbo_frames; /* allows mtu > CONFIG_MTU_STANDARD */
    bool udp_checksum_offload;
    bool tcp_checksum_offload;
    bool tcp_segmentation_offload;
    int arp_table_len;
    struct config_arp_entry arp_table[CONFIG_ARP_TABLE_MAX];
    uint32_t arp_request_retries;
    uint32_t arp_request_timeout_s; /* arp_request_timeout */
    uint32_t arp_cache_ttl_s;       /* arp_cache_ttl */
    uint32_t ipv4_prefix_len;       /* ipv4_prefix_len: 0 = subnet unknown */

    /* tcp.* : libdemi's TCP (inet libOSes) */
    uint32_t tcp_rcvbuf;            /* tcp.rcvbuf: receive buffer, bytes */
    uint32_t tcp_sndbuf;            /* tcp.sndbuf: send queue, bytes */
    uint32_t tcp_rto_initial_ms;    /* tcp.rto_initial_ms */
    uint32_t tcp_rto_min_us;        /* tcp.rto_min_us */
    uint32_t tcp_rto_max_ms;        /* tcp.rto_max_ms */
    uint32_t tcp_max_retries;       /* tcp.max_retries */
    uint32_t tcp_syn_retries;       /* tcp.syn_retries */
    uint32_t tcp_delayed_ack_us;    /* tcp.delayed_ack_us */
    uint32_t tcp_quickack_segments; /* tcp.quickack_segments */
    uint32_t tcp_msl_ms;            /* tcp.msl_ms: TIME_WAIT lasts twice this */
    uint32_t tcp_syn_backlog;       /* tcp.syn_backlog */
    bool tcp_syn_cookies;           /* tcp.syn_cookies */
    bool tcp_rack;                  /* tcp.rack */
    uint32_t tcp_user_timeout_ms;   /* tcp.user_timeout_ms: 0 = none */
    uint32_t tcp_max_connections;   /* tcp.max_connections: the pcb pool */
    uint32_t tcp_ooo_max;           /* tcp.ooo_max: out-of-order segments kept */
    uint32_t tcp_keepalive_time_s;  /* tcp.keepalive_time_s */
    uint32_t tcp_keepalive_intvl_s; /* tcp.keepalive_intvl_s */
    uint32_t tcp_keepalive_probes;  /* tcp.keepalive_probes */
    char tcp_cc[16];                /* tcp.congestion_control */
    bool tcp_sack;                  /* tcp.sack */
    bool tcp_timestamps;            /* tcp.timestamps */
    bool tcp_window_scaling;        /* tcp.window_scaling */

    /* fault.* : transmit fault injection (0 ppm everywhere = off) */
    uint32_t fault_seed;
    uint32_t fault_loss_ppm;
    uint32_t fault_dup_ppm;
    uint32_t fault_corrupt_ppm;
    uint32_t fault_reorder_ppm;

    /* catmem.* : shared-memory pipes (<demi/pipe.h>) */
    uint32_t catmem_ring_size;     /* catmem.ring_size: bytes per direction */
    uint32_t catmem_peer_check_us; /* catmem.peer_check_us: liveness check period */

    /* cattree.* : storage queues (<demi/storage.h>) */
    bool cattree_sqpoll;              /* cattree.sqpoll: a kernel thread submits */
    uint32_t cattree_ring_entries;    /* cattree.ring_entries: io_uring size */
    uint32_t cattree_prealloc_mib;    /* cattree.prealloc_mib: file growth step */
    bool cattree_direct;              /* cattree.direct: O_DIRECT where the file system has it */
    char cattree_zero_copy[8];        /* cattree.zero_copy: auto | on | off */
    uint32_t cattree_fault_write_eio; /* cattree.fault_write_eio: tests: the Nth write fails */

    /* catloop.* : LIBOS=catloop */
    char catloop_mode[16]; /* catloop.mode: process | host */

    /* libdemi.* : our own runtime tunables */
    uint32_t max_queues;       /* libdemi.max_queues: queue descriptors */
    uint32_t max_ops;          /* libdemi.max_ops: pending + unconsumed ops */
    uint32_t pool_small_count; /* libdemi.pool_small_count: 2 KiB buffers */
    uint32_t pool_large_count; /* libdemi.pool_large_count: 64 KiB buffers */
    uint32_t pool_huge_count;  /* libdemi.pool_huge_count: 1 MiB buffers */
    uint32_t spin_us;          /* libdemi.spin_us: busy-poll before sleeping */
    bool idle_yield;           /* libdemi.idle_yield: sched_yield when idle and unable to sleep */
    char log_level[16];        /* libdemi.log_level (alias DEMI_LOG, which wins) */
    bool stats;                /* libdemi.stats: counters on stderr at exit (alias DEMI_STATS) */
    bool clock_no_tsc;         /* libdemi.clock_no_tsc (alias DEMI_CLOCK_NO_TSC) */
    char pcap[256];            /* libdemi.pcap: capture file, "" = off */
    uint32_t pcap_snaplen;     /* libdemi.pcap_snaplen */
    uint32_t pcap_max_mb;      /* libdemi.pcap_max_mb: 0 = no limit */
    bool live_stats;           /* libdemi.live_stats: /dev/shm/demi-stats-PID */

    uint8_t source[CONFIG_KEYS_MAX]; /* enum config_source, by config_keys[] index */

    /* Keys of the file that libdemi does not use, '\n'-separated, or NULL:
     * whole sections not ours (client, catnip, ...) and Demikernel's keys in
     * ours (config_foreign_keys[]). Owned, freed by config_free(); listed by
     * config_print() and in the warning of config_ignored_warning(). */
    char *ignored;
};

/* Descriptor of one key, exposed for demi-config and tests. */
enum config_type {
    CONFIG_T_BOOL,
    CONFIG_T_U32,
    CONFIG_T_STRING, /* fixed char array */
    CONFIG_T_IPV4,
    CONFIG_T_IPV6, /* a global (or unique-local) unicast address */
    CONFIG_T_MAC,
    CONFIG_T_STRLIST, /* dpdk.eal_init */
    CONFIG_T_ARPMAP,  /* inetstack_config.arp_table */
};

struct config_key {
    const char *key; /* dotted path, e.g. "inetstack_config.mtu" */
    enum config_type type;
    size_t offset;       /* of the value in struct demi_config */
    size_t has_offset;   /* of a bool "given" flag, or SIZE_MAX */
    uint32_t min, max;   /* CONFIG_T_U32 bounds; CONFIG_T_STRING: max = size */
    const char *def;     /* default as text, NULL = unset */
    const char *help;    /* one line */
    const char *choices; /* CONFIG_T_STRING: allowed values "a|b|c", or NULL */
};

extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/*
 * An older environment variable still honoured for a key: its value goes
 * through the key's validator and wins over DEMI_<KEY> (DEMI_LOG always
 * did). @presence: the variable used to switch something on by merely being
 * set, so an empty value and "1" mean true, "0" false (then the boolean
 * spellings).
 */
struct config_alias {
    const char *env; /* "DEMI_STATS" */
    const char *key; /* "libdemi.stats", a CONFIG_T_BOOL key when @presence */
    bool presence;
};

extern const struct config_alias config_aliases[];
extern const size_t config_naliases;

/* Demikernel's keys in sections libdemi owns that libdemi does not use
 * ("raw_socket.xdp_cohost_mode", ...): ignored with a warning, where any
 * other unknown key of those sections is an error. */
extern const char *const config_foreign_keys[];
extern const size_t config_nforeign_keys;

/* Fill @cfg with the built-in defaults only (no file, no environment): what
 * stacks built by hand start from (inet_params_default()). 0, or EINVAL
 * when a default of the table is invalid (a bug: test_config checks). */
int config_defaults(struct demi_config *cfg);

/* Fill @cfg with defaults, then the file at @path (NULL or "" = no file),
 * then the environment. On error returns EINVAL (ENOENT for a missing file)
 * and writes a message naming the file, the key and the expected form into
 * @err (CONFIG_ERR_MAX bytes; @err may be NULL). An unknown key in one of
 * our sections, or an unknown DEMI_* variable, is EINVAL with the closest
 * valid key suggested when one is close. Sections that are not ours and
 * Demikernel's keys we do not use are not errors: they are listed in
 * cfg->ignored. On error nothing stays allocated. @cfg is overwritten, so
 * config_free() a loaded one before loading into it again. */
int config_load(struct demi_config *cfg, const char *path, char *err, size_t errlen);

/* The one warning about cfg->ignored, "libdemi ignores these keys of FILE:
 * a, b, c" (shortened to fit @size, with how many more), into @buf. Returns
 * false, and writes nothing, when nothing was ignored. */
bool config_ignored_warning(const struct demi_config *cfg, char *buf, size_t size);

/* Where the value of @key (e.g. "inetstack_config.mss") came from;
 * CONFIG_SRC_DEFAULT for a name that is no key. */
enum config_source config_key_source(const struct demi_config *cfg, const char *key);

/* Release what config_load() allocated. Safe on a zeroed struct. */
void config_free(struct demi_config *cfg);

/* Print every key, its value and where it came from, as YAML-ish text. */
void config_print(FILE *out, const struct demi_config *cfg);

#endif /* DEMI_CORE_CONFIG_H */
