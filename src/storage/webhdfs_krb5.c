/*
 * webhdfs_krb5.c — Kerberos tickets for the WebHDFS backend's SPNEGO (see webhdfs_krb5.h), with
 * MIT libkrb5 (login from a keytab, reading a ticket cache) and its GSS-API (which cache libcurl's
 * Negotiate uses).
 */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/webhdfs_krb5.h"

#define KRB_MARGIN_S 60   /* log in again when less than this (or a quarter of its life) is left */

struct wh_krb {
    krb5_context ctx;
    krb5_ccache cc;
    char *ccname;            /* "MEMORY:..." or the default cache's full name */
    char *keytab;            /* NULL: ticket cache mode */
    krb5_principal princ;    /* keytab mode: who logs in */
    time_t start, end;       /* of the ticket-granting ticket in cc; end 0: none known */
    time_t renew_till;       /* cache mode: the TGT can be renewed until then (0: not renewable) */
};

static int krb_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int krb_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* krb5's own text for code (e.g. "Key table entry not found", "Preauthentication failed"). */
static void krb_msg(krb5_context ctx, krb5_error_code code, char *out, size_t outlen) {
    const char *m = krb5_get_error_message(ctx, code);
    snprintf(out, outlen, "%s", m ? m : "unknown Kerberos error");
    krb5_free_error_message(ctx, m);
}

static void krb_fmt_time(time_t t, char *out, size_t outlen) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, outlen, "%lld", (long long)t);
}

/* Finds the ticket-granting ticket (krbtgt/REALM@REALM of the cache's principal) in k->cc and
 * records its times. No such ticket: k->end = 0. */
static int krb_scan_tgt(wh_krb *k, char *err, size_t errlen) {
    krb5_principal who = NULL;
    krb5_cc_cursor cur;
    krb5_creds c;
    char m[256];
    krb5_error_code code = krb5_cc_get_principal(k->ctx, k->cc, &who);
    k->end = 0;
    if (code) {
        krb_msg(k->ctx, code, m, sizeof m);
        return krb_err(err, errlen, "no Kerberos ticket in %s (%s): run kinit PRINCIPAL, or give --hdfs-keytab FILE "
                       "--hdfs-principal PRINCIPAL", k->ccname, m);
    }
    if ((code = krb5_cc_start_seq_get(k->ctx, k->cc, &cur))) {
        krb5_free_principal(k->ctx, who);
        krb_msg(k->ctx, code, m, sizeof m);
        return krb_err(err, errlen, "cannot read the Kerberos ticket cache %s: %s", k->ccname, m);
    }
    while (!krb5_cc_next_cred(k->ctx, k->cc, &cur, &c)) {
        const krb5_data *r = krb5_princ_realm(k->ctx, who);
        if (krb5_princ_size(k->ctx, c.server) == 2 && krb5_princ_component(k->ctx, c.server, 0)->length == 6 &&
            !memcmp(krb5_princ_component(k->ctx, c.server, 0)->data, "krbtgt", 6) &&
            krb5_princ_component(k->ctx, c.server, 1)->length == r->length &&
            !memcmp(krb5_princ_component(k->ctx, c.server, 1)->data, r->data, r->length) &&
            (time_t)c.times.endtime > k->end) {
            k->start = (time_t)(c.times.starttime ? c.times.starttime : c.times.authtime);
            k->end = (time_t)c.times.endtime;
            k->renew_till = (c.ticket_flags & TKT_FLG_RENEWABLE) ? (time_t)c.times.renew_till : 0;
        }
        krb5_free_cred_contents(k->ctx, &c);
    }
    krb5_cc_end_seq_get(k->ctx, k->cc, &cur);
    krb5_free_principal(k->ctx, who);
    if (!k->end)
        return krb_err(err, errlen, "no ticket-granting ticket in %s: run kinit PRINCIPAL, or give --hdfs-keytab FILE "
                       "--hdfs-principal PRINCIPAL", k->ccname);
    return 0;
}

/* Keytab mode: a fresh login from the keytab into the private cache (replacing what it held). */
static int krb_login(wh_krb *k, char *err, size_t errlen) {
    krb5_keytab kt = NULL;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_creds c;
    char m[256], *pname = NULL;
    int rc = -1;
    memset(&c, 0, sizeof c);
    krb5_unparse_name(k->ctx, k->princ, &pname);
    krb5_error_code code = krb5_kt_resolve(k->ctx, k->keytab, &kt);
    if (!code) code = krb5_get_init_creds_opt_alloc(k->ctx, &opt);
    if (!code) code = krb5_get_init_creds_keytab(k->ctx, &c, k->princ, kt, 0, NULL, opt);
    if (code) {
        /* A key that no longer decrypts: the principal was re-keyed after the keytab was made. */
        bool stale = code == KRB5KRB_AP_ERR_BAD_INTEGRITY || code == KRB5KDC_ERR_PREAUTH_FAILED;
        krb_msg(k->ctx, code, m, sizeof m);
        krb_err(err, errlen, "Kerberos login as %s from keytab %s failed: %s (%s: klist -kt %s lists the keytab's "
                "principals)", pname ? pname : "?", k->keytab, m,
                stale ? "the keytab's key is not the principal's current one: get a fresh keytab for --hdfs-keytab"
                      : "check --hdfs-keytab and --hdfs-principal", k->keytab);
        goto done;
    }
    if ((code = krb5_cc_initialize(k->ctx, k->cc, k->princ)) || (code = krb5_cc_store_cred(k->ctx, k->cc, &c))) {
        krb_msg(k->ctx, code, m, sizeof m);
        krb_err(err, errlen, "cannot store the Kerberos ticket in %s: %s", k->ccname, m);
        goto done;
    }
    k->start = (time_t)(c.times.starttime ? c.times.starttime : c.times.authtime);
    k->end = (time_t)c.times.endtime;
    rc = 0;
done:
    krb5_free_cred_contents(k->ctx, &c);
    if (opt) krb5_get_init_creds_opt_free(k->ctx, opt);
    if (kt) krb5_kt_close(k->ctx, kt);
    krb5_free_unparsed_name(k->ctx, pname);
    return rc;
}

wh_krb *wh_krb_open(const char *keytab, const char *principal, char *err, size_t errlen) {
    wh_krb *k = calloc(1, sizeof *k);
    char m[256], *name = NULL;
    krb5_error_code code;
    if (!k) return krb_err(err, errlen, "out of memory"), NULL;
    if ((code = krb5_init_context(&k->ctx))) {
        krb_err(err, errlen, "cannot start Kerberos (krb5_init_context: error %d; check KRB5_CONFIG / /etc/krb5.conf)",
                (int)code);
        free(k);
        return NULL;
    }
    if (keytab) {
        if (!principal || !*principal) {
            krb_err(err, errlen, "--hdfs-keytab needs --hdfs-principal (the principal to log in as)");
            goto fail;
        }
        if (!(k->keytab = strdup(keytab))) goto oom;
        code = krb5_parse_name(k->ctx, principal, &k->princ);
        if (!code) code = krb5_cc_new_unique(k->ctx, "MEMORY", NULL, &k->cc);
    } else {
        code = krb5_cc_default(k->ctx, &k->cc);
    }
    if (!code) code = krb5_cc_get_full_name(k->ctx, k->cc, &name);
    if (code) {
        krb_msg(k->ctx, code, m, sizeof m);
        krb_err(err, errlen, "Kerberos setup failed: %s", m);
        goto fail;
    }
    k->ccname = strdup(name);
    krb5_free_string(k->ctx, name);
    if (!k->ccname) goto oom;
    if (keytab ? krb_login(k, err, errlen) : wh_krb_ready(k, err, errlen)) goto fail;
    return k;
oom:
    krb_err(err, errlen, "out of memory");
fail:
    wh_krb_close(k);
    return NULL;
}

/* Cache mode: renews the TGT in the user's cache as `kinit -R` would (a TGS request, no
 * password), so a long run outlives the ticket's lifetime up to its renewable life. Best
 * effort: on failure the ticket is used until it expires, then wh_krb_ready says so. */
static void krb_renew_cache(wh_krb *k) {
    krb5_principal who = NULL;
    krb5_creds c;
    memset(&c, 0, sizeof c);
    if (krb5_cc_get_principal(k->ctx, k->cc, &who)) return;
    if (!krb5_get_renewed_creds(k->ctx, &c, who, k->cc, NULL) && !krb5_cc_initialize(k->ctx, k->cc, who) &&
        !krb5_cc_store_cred(k->ctx, k->cc, &c)) {
        k->start = (time_t)(c.times.starttime ? c.times.starttime : c.times.authtime);
        k->end = (time_t)c.times.endtime;
        k->renew_till = (time_t)c.times.renew_till;
    } else {
        k->renew_till = 0;   /* do not try again on every request */
    }
    krb5_free_cred_contents(k->ctx, &c);
    krb5_free_principal(k->ctx, who);
}

int wh_krb_ready(wh_krb *k, char *err, size_t errlen) {
    time_t now = time(NULL);
    if (k->keytab) {
        time_t life = k->end - k->start, margin = life / 4 < KRB_MARGIN_S ? life / 4 : KRB_MARGIN_S;
        if (now + margin < k->end && now < k->start + life / 2) return 0;
        return krb_login(k, err, errlen);
    }
    if (k->end && now < k->end) {
        if (k->renew_till > now && now >= k->start + (k->end - k->start) / 2) krb_renew_cache(k);
        return 0;
    }
    if (krb_scan_tgt(k, err, errlen)) return -1;
    if (now >= k->end) {
        char t[40];
        krb_fmt_time(k->end, t, sizeof t);
        return krb_err(err, errlen, "the Kerberos ticket in %s expired at %s: run kinit again, or give --hdfs-keytab "
                       "FILE --hdfs-principal PRINCIPAL", k->ccname, t);
    }
    return 0;
}

int wh_krb_select(wh_krb *k, char *err, size_t errlen) {
    OM_uint32 minor = 0;
    if (gss_krb5_ccache_name(&minor, k->ccname, NULL) != GSS_S_COMPLETE)
        return krb_err(err, errlen, "GSS-API cannot use the ticket cache %s (minor %u)", k->ccname, (unsigned)minor);
    return 0;
}

void wh_krb_close(wh_krb *k) {
    if (!k) return;
    if (k->cc) {
        if (k->keytab) krb5_cc_destroy(k->ctx, k->cc);   /* ours: forget the private tickets */
        else krb5_cc_close(k->ctx, k->cc);
    }
    if (k->princ) krb5_free_principal(k->ctx, k->princ);
    krb5_free_context(k->ctx);
    free(k->ccname);
    free(k->keytab);
    free(k);
}
