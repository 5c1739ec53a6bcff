/*
 * cmd/cmd_signal.c — the signal setup shared by the long-running commands (see cmd.h).
 */
#include <signal.h>
#include <string.h>

#include "cmd/cmd.h"

void cmd_signals_install(void (*stop_handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
