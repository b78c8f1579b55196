/* SPDX-License-Identifier: MIT */
/*
 * config_keys.c: every configuration key of libdemi, in the order demi-config
 * prints them: its type, where it lands in struct demi_config, its bounds or
 * choices, its default (defaults live only here) and a one-line help. The
 * loader (config.c) and demi-config read nothing else.
 */
#include "core/config.h"

#include "core/common.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Offset of field @f, checked at compile time to have type @T (after array
 * decay): a table entry pointing at the wrong kind of field does not build.
 */
/* clang-format off: one initializer per macro, as the table reads */
#define OFF(f, T) (offsetof(struct demi_config, f) + 0 * sizeof(_Generic(((struct demi_config *)0)->f, T : 1)))
#define FIELD_SIZE(f) sizeof(((struct demi_config *)0)->f)

#define KEY_BOOL(k, f, d, h)                                                                                 \
    {                                                                                                        \
        .key = k, .type = CONFIG_T_BOOL, .offset = OFF(f, bool), .has_offset = SIZE_MAX, .def = d, .help = h \
    }
#define KEY_U32(k, f, lo, hi, d, h)                                                                               \
    {                                                                                                             \
        .key = k, .type = CONFIG_T_U32, .offset = OFF(f, uint32_t), .has_offset = SIZE_MAX, .min = lo, .max = hi, \
        .def = d, .help = h                                                                                       \
    }
#define KEY_STRING(k, f, ch, d, h)                                                                                 \
    {                                                                                                              \
        .key = k, .type = CONFIG_T_STRING, .offset = OFF(f, char *), .has_offset = SIZE_MAX, .max = FIELD_SIZE(f), \
        .choices = ch, .def = d, .help = h                                                                         \
    }
#define KEY_IPV4(k, f, has, h)                                                                                     \
    {                                                                                                              \
        .key = k, .type = CONFIG_T_IPV4, .offset = OFF(f, struct in_addr), .has_offset = OFF(has, bool), .help = h \
    }
#define KEY_IPV6(k, f, has, h)                                                                                      \
    {                                                                                                               \
        .key = k, .type = CONFIG_T_IPV6, .offset = OFF(f, struct in6_addr), .has_offset = OFF(has, bool), .help = h \
    }
#define KEY_MAC(k, f, has, h)                                                                                \
    {                                                                                                        \
        .key = k, .type = CONFIG_T_MAC, .offset = OFF(f, uint8_t *), .has_offset = OFF(has, bool), .help = h \
    }
/* The two collection types are bound to their fields (and counts) below. */
#define KEY_STRLIST(k, h)                                                                                       \
    {                                                                                                           \
        .key = k, .type = CONFIG_T_STRLIST, .offset = OFF(eal_argv, char **), .has_offset = SIZE_MAX, .help = h \
    }
#define KEY_ARPMAP(k, h)                                                                        \
    {                                                                                           \
        .key = k, .type = CONFIG_T_ARPMAP, .offset = OFF(arp_table, struct config_arp_entry *), \
        .has_offset = SIZE_MAX, .help = h                                                       \
    }
/* clang-format on */

/* Table order is the order demi-config prints. Defaults live only here. */
const struct config_key config_keys[] = {
    KEY_IPV4("demikernel.local_ipv4_addr", local_ipv4, has_local_ipv4,
             "IPv4 address of this host on the kernel-bypass NIC (unset by default)"),
    KEY_IPV6("demikernel.local_ipv6_addr", local_ipv6, has_local_ipv6,
             "global IPv6 address of this host on that NIC, like fd00::2 (unset by default: link-local only)"),
    KEY_MAC("demikernel.local_link_addr", local_mac, has_local_mac,
            "MAC address of that NIC, like 02:00:00:00:00:01 (unset by default)"),
    KEY_STRING("raw_socket.linux_interface_name", linux_interface_name, NULL, NULL,
               "Linux interface for raw-socket libOSes, at most 15 characters"),
    KEY_STRING("raw_socket.mode", raw_socket_mode, "af_packet|af_xdp", "af_packet",
               "how LIBOS=catpowder reaches the interface: AF_PACKET rings or an AF_XDP socket"),
    KEY_U32("raw_socket.xdp_queue", xdp_queue, 0, 1023, "0",
            "raw_socket.mode af_xdp: the interface's receive queue the socket binds to"),
    KEY_STRING("raw_socket.xdp_bind", xdp_bind, "auto|zero_copy|copy", "auto",
               "raw_socket.mode af_xdp: zero_copy (driver support needed), copy, or auto "
               "(zero-copy when the driver offers it)"),
    KEY_STRLIST("dpdk.eal_init", "argv for rte_eal_init(), argv[0] included (environment: space-separated)"),
    KEY_U32("dpdk.link_wait_ms", dpdk_link_wait_ms, 0, 600000, "5000",
            "LIBOS=catnip: milliseconds demi_init waits for the port's link, 0 = no wait "
            "(a memif server, whose link comes up when its client connects)"),
    KEY_BOOL("tcp_socket_options.keepalive.enabled", keepalive_enabled, "false", "enable TCP keepalive on new sockets"),
    KEY_U32("tcp_socket_options.keepalive.time_millis", keepalive_time_ms, 0, UINT32_MAX, "0",
            "idle time before the first keepalive probe, in milliseconds; 0: tcp.keepalive_time_s"),
    KEY_U32("tcp_socket_options.keepalive.interval", keepalive_interval, 0, UINT32_MAX, "0",
            "time between keepalive probes, in seconds; 0: tcp.keepalive_intvl_s"),
    KEY_BOOL("tcp_socket_options.linger.enabled", linger_enabled, "false", "enable SO_LINGER on new sockets"),
    KEY_U32("tcp_socket_options.linger.time_seconds", linger_seconds, 0, UINT32_MAX, "0",
            "SO_LINGER timeout, in seconds"),
    KEY_BOOL("tcp_socket_options.nodelay", nodelay, "true", "set TCP_NODELAY (no Nagle delay) on new sockets"),
    KEY_U32("inetstack_config.mtu", mtu, 68, 9216, "1500", "link MTU, in bytes"),
    /* Demikernel's advertised MSS (its TcpConfig::advertised_mss); here it
     * also bounds what we send, as Linux's TCP_MAXSEG does. */
    KEY_U32("inetstack_config.mss", mss, 536, 9176, "1460",
            "TCP maximum segment size, bytes: the largest we advertise and send (the MTU less 40 "
            "bounds it too, and is the default with a jumbo MTU; timestamps take 12 of it)"),
    KEY_BOOL("inetstack_config.enable_jumbo_frames", enable_jumbo_frames, "false",
             "allow frames larger than 1514 bytes: needed for an mtu above 1500 (catnip then sizes "
             "its mbufs to hold a whole frame)"),
    KEY_BOOL("inetstack_config.udp_checksum_offload", udp_checksum_offload, "false",
             "let the NIC compute UDP checksums"),
    KEY_BOOL("inetstack_config.tcp_checksum_offload", tcp_checksum_offload, "false",
             "let the NIC compute TCP checksums"),
    KEY_BOOL("inetstack_config.tcp_segmentation_offload", tcp_segmentation_offload, "true",
             "let the NIC cut large TCP segments into MSS-sized ones (TSO), where it can: new data then "
             "goes to it in frames of up to 64 KiB"),
    KEY_ARPMAP("inetstack_config.arp_table", "static ARP entries \"MAC\": \"IPv4\" (environment: MAC=IPv4,MAC=IPv4)"),
    KEY_U32("inetstack_config.arp_request_retries", arp_request_retries, 0, 100, "5",
            "ARP requests sent before an address is declared unreachable"),
    /* Demikernel's sample file says 20 s; a 1 s retry (as Linux does) fails
     * an unreachable peer in seconds rather than minutes. */
    KEY_U32("inetstack_config.arp_request_timeout", arp_request_timeout_s, 1, 3600, "1",
            "seconds to wait for an ARP reply before retrying"),
    KEY_U32("inetstack_config.arp_cache_ttl", arp_cache_ttl_s, 1, 86400, "15",
            "seconds before a learned ARP entry is re-confirmed (in use) or dropped (idle)"),
    KEY_U32("inetstack_config.ipv4_prefix_len", ipv4_prefix_len, 0, 32, "0",
            "prefix length of our IPv4 subnet: packets from its broadcast address are dropped; "
            "0: subnet unknown"),
    KEY_U32("tcp.rcvbuf", tcp_rcvbuf, 4096, 1u << 30, "262144",
            "TCP receive buffer per connection, bytes: the largest window offered"),
    KEY_U32("tcp.sndbuf", tcp_sndbuf, 4096, 1u << 30, "262144",
            "TCP send queue per connection, bytes, before pushes wait"),
    KEY_U32("tcp.rto_initial_ms", tcp_rto_initial_ms, 1, 60000, "200",
            "retransmission timeout before any RTT sample, milliseconds"),
    KEY_U32("tcp.rto_min_us", tcp_rto_min_us, 1, 60000000, "2000",
            "lower bound of the retransmission timeout, microseconds"),
    KEY_U32("tcp.rto_max_ms", tcp_rto_max_ms, 1, 3600000, "60000",
            "upper bound of the retransmission timeout, milliseconds"),
    KEY_U32("tcp.max_retries", tcp_max_retries, 1, 100, "15",
            "retransmissions of a segment before the connection fails with ETIMEDOUT"),
    KEY_U32("tcp.syn_retries", tcp_syn_retries, 1, 100, "6",
            "SYN retransmissions before a connect fails with ETIMEDOUT"),
    KEY_U32("tcp.delayed_ack_us", tcp_delayed_ack_us, 0, 500000, "100",
            "delayed ACK timeout, microseconds (a reply within it carries the ACK)"),
    KEY_U32("tcp.quickack_segments", tcp_quickack_segments, 0, 255, "16",
            "data segments a new connection acknowledges at once before delaying ACKs (Linux's quick ACKs); "
            "0 = none"),
    KEY_U32("tcp.msl_ms", tcp_msl_ms, 1, 600000, "30000",
            "maximum segment lifetime, milliseconds; TIME_WAIT lasts twice this"),
    KEY_U32("tcp.syn_backlog", tcp_syn_backlog, 1, 1048576, "1024",
            "half-open connections per listener; beyond it SYN cookies answer (or the oldest is dropped)"),
    KEY_BOOL("tcp.syn_cookies", tcp_syn_cookies, "true",
             "answer SYNs with SYN cookies (RFC 4987) while a listener's SYN queue is full"),
    KEY_U32("tcp.user_timeout_ms", tcp_user_timeout_ms, 0, 86400000, "0",
            "fail a connection with ETIMEDOUT when sent data stays unacknowledged, or the peer's window "
            "stays closed, this long (RFC 5482's user timeout); 0: only tcp.max_retries bounds them"),
    KEY_U32("tcp.max_connections", tcp_max_connections, 1, 1048576, "65536",
            "TCP control blocks per stack (listeners, connections, TIME_WAIT), preallocated; when all "
            "are in use a SYN is dropped and a new socket fails with ENOBUFS (tcp_pcb_exhausted)"),
    KEY_U32("tcp.ooo_max", tcp_ooo_max, 1, 65536, "256",
            "out-of-order segments kept per connection for reassembly; more are dropped (counted in "
            "tcp_ooo_drop) and the peer resends them"),
    /* Linux's net.ipv4.tcp_keepalive_{time,intvl,probes}, with its defaults. */
    KEY_U32("tcp.keepalive_time_s", tcp_keepalive_time_s, 1, 32767, "7200",
            "idle seconds before the first keepalive probe, when tcp_socket_options.keepalive.time_millis "
            "is 0 (TCP_KEEPIDLE overrides it per socket)"),
    KEY_U32("tcp.keepalive_intvl_s", tcp_keepalive_intvl_s, 1, 32767, "75",
            "seconds between keepalive probes, when tcp_socket_options.keepalive.interval is 0 "
            "(TCP_KEEPINTVL overrides it per socket)"),
    KEY_U32("tcp.keepalive_probes", tcp_keepalive_probes, 1, 127, "9",
            "unanswered keepalive probes before the connection fails with ETIMEDOUT (TCP_KEEPCNT "
            "overrides it per socket)"),
    KEY_STRING("tcp.congestion_control", tcp_cc, "cubic|newreno", "cubic", "congestion control module"),
    KEY_BOOL("tcp.sack", tcp_sack, "true", "offer selective acknowledgments (RFC 2018)"),
    KEY_BOOL("tcp.rack", tcp_rack, "true",
             "RACK-TLP loss detection (RFC 8985): losses by time and tail loss probes, on SACK connections"),
    KEY_BOOL("tcp.timestamps", tcp_timestamps, "true", "offer timestamps (RFC 7323)"),
    KEY_BOOL("tcp.window_scaling", tcp_window_scaling, "true", "offer window scaling (RFC 7323)"),
    /* Fault injection on transmit, for tests against real peers (dev/fault.c). */
    KEY_U32("fault.seed", fault_seed, 0, UINT32_MAX, "1",
            "seed of the transmit fault injector; the same seed drops the same frames"),
    KEY_U32("fault.tx_loss_ppm", fault_loss_ppm, 0, 1000000, "0",
            "inet libOSes: frames dropped on transmit, parts per million (0 = off)"),
    KEY_U32("fault.tx_dup_ppm", fault_dup_ppm, 0, 1000000, "0",
            "inet libOSes: frames duplicated on transmit, parts per million"),
    KEY_U32("fault.tx_corrupt_ppm", fault_corrupt_ppm, 0, 1000000, "0",
            "inet libOSes: frames with a flipped byte on transmit, parts per million"),
    KEY_U32("fault.tx_reorder_ppm", fault_reorder_ppm, 0, 1000000, "0",
            "inet libOSes: frames held back behind the next one, parts per million"),
    /* Our keys in Demikernel's catmem section (its name_prefix is ignored). */
    KEY_U32("catmem.ring_size", catmem_ring_size, 4096, 1u << 30, "1048576",
            "bytes of each direction of a pipe this process creates, a power of two; the "
            "largest message is half of it (at most 1 MiB)"),
    KEY_U32("catmem.peer_check_us", catmem_peer_check_us, 0, 10000000, "1000",
            "while a pipe op waits, how often the peer's liveness is checked (one syscall), "
            "microseconds"),
    /* Our own section: storage queues. */
    KEY_BOOL("cattree.sqpoll", cattree_sqpoll, "false",
             "storage queues: a kernel thread polls io_uring's submission queue (IORING_SETUP_SQPOLL): "
             "no system call per write, one more busy core"),
    KEY_U32("cattree.ring_entries", cattree_ring_entries, 8, 4096, "256",
            "storage queues: io_uring submission queue entries, shared by all of them"),
    KEY_U32("cattree.prealloc_mib", cattree_prealloc_mib, 1, 65536, "64",
            "storage queues: a log grows by fallocate in steps of this many MiB, ahead of its writes"),
    KEY_BOOL("cattree.direct", cattree_direct, "true",
             "storage queues: O_DIRECT writes where the file system takes them (tmpfs does not: "
             "buffered writes with RWF_DSYNC there)"),
    KEY_STRING("cattree.zero_copy", cattree_zero_copy, "auto|on|off", "auto",
               "storage queues: write a whole demi_sgaalloc buffer of 8 KiB or more in place, as a record "
               "aligned to 512 bytes: on, off, or auto (on where the disk's physical block is 512 bytes; "
               "on a 4 KiB one the writes it splits cost more than the copy)"),
    KEY_U32("cattree.fault_write_eio", cattree_fault_write_eio, 0, UINT32_MAX, "0",
            "tests: the Nth write a process submits fails with EIO, as a failing disk's would (0: never)"),
    KEY_STRING("catloop.mode", catloop_mode, "process|host", "process",
               "LIBOS=catloop: process (the inet stack over an in-process loopback: one process "
               "talks to itself) or host (TCP over shared-memory pipes between processes of this "
               "host, docs/architecture.md)"),
    KEY_U32("libdemi.max_queues", max_queues, 16, 1048576, "65536", "queue descriptors (sockets, pipes) open at once"),
    KEY_U32("libdemi.max_ops", max_ops, 16, 16777216, "65536",
            "operations pending or completed but not yet waited for"),
    KEY_U32("libdemi.pool_small_count", pool_small_count, 0, 1048576, "8192",
            "small buffers preallocated: 2 KiB (catnip with jumbo frames: a whole frame each)"),
    KEY_U32("libdemi.pool_large_count", pool_large_count, 0, 65536, "1024", "64 KiB buffers preallocated"),
    KEY_U32("libdemi.pool_huge_count", pool_huge_count, 0, 4096, "16", "1 MiB buffers preallocated"),
    KEY_U32("libdemi.spin_us", spin_us, 0, 10000000, "100", "microseconds demi_wait* busy-polls before sleeping"),
    KEY_BOOL("libdemi.idle_yield", idle_yield, "true",
             "after libdemi.spin_us idle, a libOS that cannot sleep (catnip, catpowder, catmem) "
             "yields the CPU each poll round; false on a core of its own"),
    KEY_STRING("libdemi.log_level", log_level, "error|warn|info|debug|trace", "warn", "log verbosity"),
    KEY_BOOL("libdemi.stats", stats, "false",
             "print the stack's and the device's counters on stderr when the libOS shuts down"),
    KEY_BOOL("libdemi.clock_no_tsc", clock_no_tsc, "false",
             "read clock_gettime instead of the calibrated invariant TSC"),
    KEY_STRING("libdemi.pcap", pcap, NULL, NULL,
               "write every frame the stack sends and receives to this pcap file (inet libOSes); %p: the PID"),
    KEY_U32("libdemi.pcap_snaplen", pcap_snaplen, 64, 65535, "65535", "bytes of each frame libdemi.pcap keeps"),
    KEY_BOOL("libdemi.live_stats", live_stats, "true",
             "publish counters and connections in /dev/shm/demi-stats-PID for demi-stat (inet libOSes)"),
    KEY_U32("libdemi.pcap_max_mb", pcap_max_mb, 0, 1048576, "1024",
            "libdemi.pcap stops when the file reaches this many MiB; 0: no limit"),
};

const size_t config_nkeys = ARRAY_SIZE(config_keys);

/* Switches that were read with getenv() before they were keys. */
const struct config_alias config_aliases[] = {
    {.env = "DEMI_LOG", .key = "libdemi.log_level"},
    {.env = "DEMI_STATS", .key = "libdemi.stats", .presence = true},
    {.env = "DEMI_CLOCK_NO_TSC", .key = "libdemi.clock_no_tsc", .presence = true},
};

const size_t config_naliases = ARRAY_SIZE(config_aliases);

/*
 * Demikernel's keys (its src/rust/demikernel/config.rs and sample files)
 * in the sections libdemi shares with it, for drivers libdemi does not have
 * (XDP on Windows, its buffer rings) or names it does not need: a
 * Demikernel file loads with a warning listing them.
 */
const char *const config_foreign_keys[] = {
    "raw_socket.xdp_interface_index",
    "raw_socket.xdp_vf_interface_index",
    "raw_socket.xdp_always_poke_tx",
    "raw_socket.xdp_always_send_on_vf",
    "raw_socket.xdp_cohost_mode",
    "raw_socket.xdp_tcp_ports",
    "raw_socket.xdp_udp_ports",
    "raw_socket.xdp_reserved_port_count",
    "raw_socket.xdp_reserved_port_protocol",
    "raw_socket.xdp_rx_batch_size",
    "raw_socket.xdp_tx_batch_size",
    "raw_socket.xdp_buffer_provision_batch_size",
    "raw_socket.xdp_adaptive_batching",
    "raw_socket.xdp_buffer_overallocation_factor",
    "raw_socket.rx_buffer_count",
    "raw_socket.tx_buffer_count",
    "raw_socket.rx_ring_size",
    "raw_socket.tx_ring_size",
    "raw_socket.rx_fill_ring_size",
    "raw_socket.tx_fill_ring_size",
    "raw_socket.tx_completion_ring_size",
    "catmem.name_prefix",
};

const size_t config_nforeign_keys = ARRAY_SIZE(config_foreign_keys);

/* source[] is indexed by key. */
BUILD_BUG_ON(ARRAY_SIZE(config_keys) > CONFIG_KEYS_MAX);
