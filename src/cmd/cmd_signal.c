/*
 * cmd/cmd_signal.c — the signal setup shared by the long-running commands (see cmd.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

int cmd_signals_install_on(const int *sigs, size_t n, void (*stop_handler)(int), char *err, size_t errlen) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < n; i++)
        if (sigaction(sigs[i], &sa, NULL)) {
            snprintf(err, errlen, "cannot install the stop handler of signal %d (%s): %s", sigs[i],
                     strsignal(sigs[i]), strerror(errno));
            return -1;
        }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        snprintf(err, errlen, "cannot ignore SIGPIPE: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_signals_install(void (*stop_handler)(int), char *err, size_t errlen) {
    static const int stops[] = {SIGINT, SIGTERM};
    return cmd_signals_install_on(stops, sizeof stops / sizeof stops[0], stop_handler, err, errlen);
}
