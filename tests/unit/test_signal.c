/* test_signal.c — cmd_signals_install (src/cmd/cmd_signal.c): the stop handler of the
 * long-running commands is installed, SIGPIPE ignored, and a sigaction that fails is an error
 * with why (the command then refuses to run), never ignored. */
#include <signal.h>
#include <string.h>

#include "check.h"
#include "cmd/cmd.h"

static volatile sig_atomic_t caught;

static void on_stop(int sig) { caught = sig; }

static void test_installs(check_state *st) {
    CHECK_STATE(st);
    char err[200] = "";
    CHECK(cmd_signals_install(on_stop, err, sizeof err) == 0);
    struct sigaction cur;
    CHECK(sigaction(SIGTERM, NULL, &cur) == 0 && cur.sa_handler == on_stop);
    CHECK(sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler == on_stop);
    CHECK(sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN);
    const int usr[] = {SIGUSR1};
    CHECK(cmd_signals_install_on(usr, 1, on_stop, err, sizeof err) == 0);
    caught = 0;
    CHECK(raise(SIGUSR1) == 0);
    CHECK_INTEQ(caught, SIGUSR1);
}

/* SIGKILL cannot be caught: sigaction fails (EINVAL), and so must the install, saying which. */
static void test_failure_is_reported(check_state *st) {
    CHECK_STATE(st);
    char err[200] = "";
    const int sigs[] = {SIGUSR2, SIGKILL};
    CHECK(cmd_signals_install_on(sigs, 2, on_stop, err, sizeof err) == -1);
    CHECK(strstr(err, "signal 9") != NULL);
    CHECK(strstr(err, "Invalid argument") != NULL);
}

int main(void) {
    check_state st = {0};
    RUN(&st, test_installs);
    RUN(&st, test_failure_is_reported);
    return CHECK_EXIT(&st);
}
