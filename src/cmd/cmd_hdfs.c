/*
 * cmd/cmd_hdfs.c — the `--hdfs-user NAME` flag shared by load, stream, cat and dash.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"

/* Why the environment: every storage_open() of a command (the stream's base and staging
 * storage, the dashboard's reader, the loader) and the WebHDFS backend already take the user
 * from HADOOP_USER_NAME, the variable Hadoop's own clients use. Setting it once, before any
 * storage is opened and before any thread starts, gives the flag the same reach with no new
 * parameter threaded through storage_open(). The flag wins over an inherited variable. */
int cmd_apply_hdfs_user(const char *cmd, const char *user) {
    if (!user) return 0;
    if (!*user) {
        fprintf(stderr, "ecom %s: --hdfs-user needs a non-empty name\n", cmd);
        return 2;
    }
    if (setenv("HADOOP_USER_NAME", user, 1) != 0) {
        fprintf(stderr, "ecom %s: cannot set HADOOP_USER_NAME\n", cmd);
        return 1;
    }
    return 0;
}
