/*
 * check.h — the unit-test harness. A test file defines test functions and a main() that calls
 * RUN(fn) for each; every RUN prints "PASS name" or "FAIL name", which tests/run.sh counts.
 * CHECK(cond) records a failure with file:line and the expression, and the test goes on.
 */
#ifndef ECOM_CHECK_H
#define ECOM_CHECK_H

#include <stdio.h>
#include <string.h>

typedef struct {
    int failed_checks;   /* in the current test */
    int tests_failed;
    int tests_run;
} check_state;

#define CHECK_STATE(st) check_state *check_st_ = (st)

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stdout, "  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            check_st_->failed_checks++;                                                 \
        }                                                                               \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *ca_ = (a), *cb_ = (b);                                                         \
        if (!ca_ || !cb_ || strcmp(ca_, cb_)) {                                                    \
            fprintf(stdout, "  check failed %s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__,       \
                    __LINE__, #a, #b, ca_ ? ca_ : "(null)", cb_ ? cb_ : "(null)");                \
            check_st_->failed_checks++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_INTEQ(a, b)                                                                          \
    do {                                                                                           \
        long long ia_ = (long long)(a), ib_ = (long long)(b);                                      \
        if (ia_ != ib_) {                                                                          \
            fprintf(stdout, "  check failed %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, \
                    #a, #b, ia_, ib_);                                                             \
            check_st_->failed_checks++;                                                            \
        }                                                                                          \
    } while (0)

/* Runs one test function void fn(check_state *). */
#define RUN(st, fn)                                                     \
    do {                                                                \
        (st)->failed_checks = 0;                                        \
        fn(st);                                                         \
        (st)->tests_run++;                                              \
        if ((st)->failed_checks) (st)->tests_failed++;                  \
        printf("%s %s\n", (st)->failed_checks ? "FAIL" : "PASS", #fn);  \
        fflush(stdout);                                                 \
    } while (0)

#define CHECK_EXIT(st) ((st)->tests_failed ? 1 : 0)

#endif
