/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk_unmap_guard: libdemi's munmap() (src/dev/dpdk_unmap_guard.c),
 * which keeps net_memif's control thread from unmapping a peer's rings
 * under a burst in progress: it is the munmap the process binds (as a
 * dlopen'ed DPDK driver would), it passes through while unarmed, and once
 * armed a munmap from another thread waits for the burst to end, while the
 * bursting thread's own does not wait, nor a child forked during a burst.
 * Every mapping is really gone after.
 */
#include "dev/dpdk_unmap_guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define HOLD_MS 100

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *map_page(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    *(volatile char *)p = 1;
    return p;
}

/* Gone: mincore() on an unmapped page fails with ENOMEM. */
static void assert_unmapped(void *p)
{
    unsigned char vec;
    assert_int_equal(mincore(p, 4096, &vec), -1);
    assert_int_equal(errno, ENOMEM);
}

static void test_munmap_is_libdemis(void **state)
{
    (void)state;
    /* What a driver loaded with dlopen binds to: the global scope's first. */
    assert_ptr_equal(dlsym(RTLD_DEFAULT, "munmap"), (void *)munmap);
}

static void test_unarmed_passes_through(void **state)
{
    void *p = map_page();
    bool entered;

    (void)state;
    assert_false(atomic_load(&dpdk_unmap_guard_armed));
    entered = dpdk_burst_enter();
    assert_false(entered); /* free while unarmed */
    assert_int_equal(munmap(p, 4096), 0);
    dpdk_burst_exit(entered);
    assert_unmapped(p);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool in_burst;

static void *burst_thread(void *arg)
{
    bool entered = dpdk_burst_enter();

    (void)arg;
    pthread_mutex_lock(&lock);
    in_burst = entered;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    usleep(HOLD_MS * 1000); /* a burst whose thread was descheduled */
    dpdk_burst_exit(entered);
    return NULL;
}

/* Armed, another thread inside a burst for HOLD_MS: its thread. */
static pthread_t start_burst_elsewhere(void)
{
    pthread_t t;

    dpdk_unmap_guard_arm();
    in_burst = false;
    assert_int_equal(pthread_create(&t, NULL, burst_thread, NULL), 0);
    pthread_mutex_lock(&lock);
    while (!in_burst)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return t;
}

static void test_armed_waits_for_another_threads_burst(void **state)
{
    void *p = map_page();
    pthread_t t;
    uint64_t t0, waited;

    (void)state;
    t = start_burst_elsewhere();
    t0 = now_ms();
    assert_int_equal(munmap(p, 4096), 0);
    waited = now_ms() - t0;
    pthread_join(t, NULL);
    printf("# munmap waited %llu ms for a burst held %d ms\n", (unsigned long long)waited, HOLD_MS);
    assert_true(waited >= HOLD_MS / 2);
    assert_unmapped(p);
    assert_int_equal(atomic_load(&dpdk_unmap_guard_bursts), 0);
}

static void test_bursting_thread_does_not_wait_for_itself(void **state)
{
    void *p = map_page();
    uint64_t t0;
    bool entered;

    (void)state;
    dpdk_unmap_guard_arm();
    entered = dpdk_burst_enter();
    assert_true(entered);
    t0 = now_ms();
    assert_int_equal(munmap(p, 4096), 0);
    assert_true(now_ms() - t0 < HOLD_MS / 2);
    dpdk_burst_exit(entered);
    assert_unmapped(p);
    /* Bad arguments still get the kernel's answer. */
    assert_int_equal(munmap((void *)1, 4096), -1);
    assert_int_equal(errno, EINVAL);
}

/* A child forked while another thread of the parent is inside a burst has
 * no such burst: its munmap must not wait for it (forever). */
static void test_child_forked_during_a_burst_does_not_wait(void **state)
{
    pthread_t t;
    pid_t pid;
    int st = 0;

    (void)state;
    t = start_burst_elsewhere();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(2); /* a child that waits forever dies of SIGALRM */
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint64_t t0 = now_ms();
        int ret = p == MAP_FAILED ? -1 : munmap(p, 4096);
        _exit(ret == 0 && now_ms() - t0 < HOLD_MS / 2 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    pthread_join(t, NULL);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    if (!dpdk_unmap_guard_built()) {
        printf("# SKIP libdemi's munmap is not built under AddressSanitizer (it would replace ASan's interceptor)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_munmap_is_libdemis),
        cmocka_unit_test(test_unarmed_passes_through),
        cmocka_unit_test(test_armed_waits_for_another_threads_burst),
        cmocka_unit_test(test_bursting_thread_does_not_wait_for_itself),
        cmocka_unit_test(test_child_forked_during_a_burst_does_not_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
