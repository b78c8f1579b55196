/* SPDX-License-Identifier: MIT */
/*
 * list.h: intrusive circular doubly-linked list. O(1) insert and unlink, no
 * allocation: the node lives in the object (ops, sockets, timers).
 * Private header.
 */
#ifndef DEMI_CORE_LIST_H
#define DEMI_CORE_LIST_H

#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>

struct list_node {
    struct list_node *prev, *next;
};

static inline void list_init(struct list_node *head)
{
    head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
    return head->next == head;
}

/* A node not on any list points at itself, so unlink twice is harmless. */
static inline bool list_linked(const struct list_node *n)
{
    return n->next != n && n->next != NULL;
}

static inline void list_add_tail(struct list_node *head, struct list_node *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static inline void list_add_head(struct list_node *head, struct list_node *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

static inline void list_del(struct list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static inline struct list_node *list_first(const struct list_node *head)
{
    return list_empty(head) ? NULL : head->next;
}

#define list_entry(node, type, member) container_of(node, type, member)

/* Safe against unlinking the current node. */
#define list_for_each_safe(pos, tmp, head) \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif /* DEMI_CORE_LIST_H */
