/* SPDX-License-Identifier: MIT */
/*
 * log.h: levelled logging to stderr. The level comes from DEMI_LOG
 * (error|warn|info|debug|trace, default warn) or libdemi.log_level.
 * Private header.
 */
#ifndef DEMI_CORE_LOG_H
#define DEMI_CORE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

extern enum log_level log_threshold;

/* Parse a level name; returns -1 when unknown. */
int log_level_parse(const char *name);

void log_set_level(enum log_level level);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                      \
    do {                                     \
        if ((level) <= log_threshold)        \
            log_write((level), __VA_ARGS__); \
    } while (0)

#define log_err(...) LOG(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) LOG(LOG_TRACE, __VA_ARGS__)

#endif /* DEMI_CORE_LOG_H */
