/* SPDX-License-Identifier: MIT */
/* tcp_sim.c: two inetstacks over a simlink in virtual time (tcp_sim.h). */
#include "tcp_sim.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

const uint8_t tcp_sim_mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t tcp_sim_mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
const struct in6_addr tcp_sim_ip6_a = {.s6_addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
const struct in6_addr tcp_sim_ip6_b = {.s6_addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};

void tcp_sim_start(struct tcp_sim *s, const struct fault_params *f, const struct inet_params *p, uint32_t mtu,
                   tcp_sim_wrap_fn wrap, void *wrap_arg)
{
    struct inet_params ip = *p;
    struct netdev *pa, *pb;

    memset(s, 0, sizeof(*s));
    s->f = *f;
    clock_set_virtual(SEC);
    assert_int_equal(mem_init(&s->mem, 65536, 256, 0), 0);
    s->link = simlink_create(&s->mem, &s->f, 8192);
    assert_non_null(s->link);
    pa = simlink_port(s->link, tcp_sim_mac_a, mtu);
    pb = simlink_port(s->link, tcp_sim_mac_b, mtu);
    if (wrap) {
        pa = wrap(s, 0, pa, wrap_arg);
        pb = wrap(s, 1, pb, wrap_arg);
    }
    if (!ip.tcp.isn_key_seed)
        ip.tcp.isn_key_seed = f->seed | 1; /* the same sequence numbers every run */
    ip.ip6_dad_transmits = 0;              /* usable at once; nothing sent until used */
    ip.ip = inet_addr("10.0.0.1");
    ip.ip6 = &tcp_sim_ip6_a;
    assert_int_equal(inet_stack_init(&s->a, pa, &s->mem, &ip), 0);
    ip.ip = inet_addr("10.0.0.2");
    ip.ip6 = &tcp_sim_ip6_b;
    assert_int_equal(inet_stack_init(&s->b, pb, &s->mem, &ip), 0);
    arp_add_static(&s->a, inet_addr("10.0.0.2"), tcp_sim_mac_b);
    arp_add_static(&s->b, inet_addr("10.0.0.1"), tcp_sim_mac_a);
}

void tcp_sim_stop(struct tcp_sim *s)
{
    inet_stack_fini(&s->a);
    inet_stack_fini(&s->b);
    assert_int_equal(s->a.tcp.npcbs, 0);
    assert_int_equal(s->b.tcp.npcbs, 0);
    simlink_destroy(s->link);
    assert_int_equal(mem_in_use(&s->mem), 0);
    mem_fini(&s->mem);
    clock_set_real();
}

void tcp_sim_step(struct tcp_sim *s)
{
    uint64_t next;

    if (inet_stack_poll(&s->a) + inet_stack_poll(&s->b) > 0)
        return;
    next = MIN(timer_wheel_next(&s->a.timers), timer_wheel_next(&s->b.timers));
    next = MIN(next, simlink_next_delivery(s->link));
    next = MIN(next, clock_now_ns() + SEC);
    clock_advance(next > clock_now_ns() ? next - clock_now_ns() : US);
}

void tcp_sim_connect(struct tcp_sim *s, uint16_t port, tcp_upcall_fn upcall, void *owner_a, void *owner_b,
                     struct tcp_pcb **pa, struct tcp_pcb **pb)
{
    struct tcp_pcb *l = tcp_pcb_new(&s->b, NULL, NULL);

    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(port)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    *pa = tcp_pcb_new(&s->a, owner_a, upcall);
    assert_non_null(*pa);
    assert_int_equal(tcp_connect(*pa, inet_addr("10.0.0.2"), htons(port)), 0);
    *pb = NULL;
    for (int i = 0; !*pb || (*pa)->state != TCPS_ESTABLISHED; i++) {
        assert_true(i < 1000000);
        tcp_sim_step(s);
        if (!*pb)
            *pb = tcp_accept(l, owner_b, upcall);
    }
    tcp_close(l);
}

void tcp_sim_blackhole(struct tcp_sim *s, bool on)
{
    s->f.loss_ppm = on ? 1000000 : 0;
    simlink_set_faults(s->link, &s->f);
}
