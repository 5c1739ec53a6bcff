/*
 * webhdfs_krb5 — the Kerberos side of the WebHDFS backend (private to src/storage): which ticket
 * libcurl's SPNEGO (CURLAUTH_NEGOTIATE, through GSS-API) presents, and keeping it valid.
 *
 * Contract
 *   - Two modes. Ticket cache (keytab NULL): the user's default cache ($KRB5CCNAME, else the
 *     system default), filled by kinit; it must hold a ticket-granting ticket that has not
 *     expired, else wh_krb_open/wh_krb_ready fail with a message saying to run kinit. A
 *     renewable ticket is renewed in that cache (as kinit -R does) once half its life has passed.
 *     Keytab (keytab and principal given): logs in from the keytab into a private in-memory
 *     cache of this process (MEMORY:...), never touching the user's cache, and logs in again
 *     once half of the ticket's lifetime has passed or less than a minute (or a quarter of its
 *     lifetime) is left, so a long
 *     run never presents an expired ticket.
 *   - wh_krb_select() points the calling thread's GSS-API at that cache (gss_krb5_ccache_name
 *     is per thread): call it right before each curl_easy_perform() that may negotiate.
 *   - Errors: 0 / -1 with a message in err naming what to fix (kinit, the keytab, the principal).
 *   - Ownership: wh_krb_open() returns an object freed by wh_krb_close(). One thread at a time.
 */
#ifndef ECOM_WEBHDFS_KRB5_H
#define ECOM_WEBHDFS_KRB5_H

#include <stddef.h>

typedef struct wh_krb wh_krb;

wh_krb *wh_krb_open(const char *keytab, const char *principal, char *err, size_t errlen);
/* Ensures a usable ticket: logs in again from the keytab when due; in cache mode re-checks the
 * cache once the ticket known to it has expired (the user may have run kinit meanwhile). */
int wh_krb_ready(wh_krb *k, char *err, size_t errlen);
int wh_krb_select(wh_krb *k, char *err, size_t errlen);
void wh_krb_close(wh_krb *k);

#endif
