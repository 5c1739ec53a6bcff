/*
 * cmd/cmd_hdfs.c — the --hdfs-* flags shared by load, stream, cat, dash and run (the flag specs are
 * CMD_HDFS_FLAGS in cmd.h), checked and turned into the storage options of storage.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

void cmd_hdfs_init(cmd_hdfs *h) {
    memset(h, 0, sizeof *h);
    h->retries = -1;
}

/* Why checked here and not only in the backend: a usage mistake (empty user, a keytab without
 * its principal, an unknown auth) is exit 2 with the flag's name, before any storage is opened
 * or thread started; the backend repeats the checks for callers that are not the CLI. */
int cmd_hdfs_opts(const char *cmd, const cmd_hdfs *h, storage_opts *o) {
    storage_opts_init(o);
    const char *bad = NULL;
    /* $HADOOP_USER_NAME (the Hadoop clients' variable, bound to --hdfs-user) is simple auth's user:
     * with Kerberos the ticket names the user, so the variable is ignored, not an error. */
    const char *env_user = getenv("HADOOP_USER_NAME");
    const char *user = h->user;
    if (user && env_user && !strcmp(user, env_user) && h->auth && !strcmp(h->auth, "kerberos")) user = NULL;
    if (user && !*user) bad = "--hdfs-user needs a non-empty name";
    else if (h->auth && strcmp(h->auth, "simple") && strcmp(h->auth, "kerberos"))
        bad = "--hdfs-auth must be simple or kerberos";
    else if ((h->keytab != NULL) != (h->principal != NULL))
        bad = "--hdfs-keytab and --hdfs-principal go together (log in as PRINCIPAL from the keytab FILE)";
    else if (h->keytab && (!h->auth || strcmp(h->auth, "kerberos")))
        bad = "--hdfs-keytab needs --hdfs-auth kerberos";
    else if (user && h->auth && !strcmp(h->auth, "kerberos"))
        bad = "--hdfs-user is for simple auth; with --hdfs-auth kerberos the ticket names the user";
    else if ((h->ca && !*h->ca) || (h->namenodes && !*h->namenodes))
        bad = "--hdfs-ca and --hdfs-namenodes need a value";
    if (bad) {
        fprintf(stderr, "ecom %s: %s\n", cmd, bad);
        return 2;
    }
    o->user = user;
    o->auth = h->auth;
    o->keytab = h->keytab;
    o->principal = h->principal;
    o->ca_file = h->ca;
    o->namenodes = h->namenodes;
    o->retries = (int)h->retries;
    o->io_timeout_ms = (long)(h->timeout_us / 1000);
    return 0;
}
