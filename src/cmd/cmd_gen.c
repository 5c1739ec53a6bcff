/* cmd_gen.c — placeholder until its issue lands: says so plainly and fails. */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_gen(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "ecom gen: not implemented yet\n");
    return 2;
}
