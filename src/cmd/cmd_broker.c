/* cmd_broker.c — placeholder until its issue lands: says so plainly and fails. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_broker(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ecom broker: not implemented yet\n");
    return 2;
}
