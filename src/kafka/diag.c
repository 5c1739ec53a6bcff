/* diag.c — turns librdkafka's connection errors into one line that names the setting to fix,
 * and stops waiting for a broker as soon as such an error shows that waiting cannot help.
 *
 * librdkafka alone reports a wrong password, an untrusted CA or a missing client certificate
 * as a broker failure it keeps retrying ("1/1 brokers are down", "alert bad certificate"), so a
 * caller waiting for metadata waits its whole time limit and then says little. The error
 * callback sees the cause within a round trip; kafka_diagnose() recognises the configuration
 * mistakes among them (see kafka_int.h for the contract). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka_int.h"
#include "util/util.h"

/* One setting's value as the client has it ("" if unset or unknown). */
static const char *diag_conf(const rd_kafka_conf_t *conf, const char *name, char *buf, size_t n) {
    size_t sz = n;
    if (rd_kafka_conf_get(conf, name, buf, &sz) != RD_KAFKA_CONF_OK) buf[0] = 0;
    return buf;
}

static int diag_has(const char *reason, const char *what) {
    return strcasestr(reason, what) != NULL;
}

/* Wrong credentials or a mechanism the listener does not enable. */
static int diag_auth(const rd_kafka_conf_t *conf, const char *reason, char *out, size_t n) {
    char mech[64], user[128];
    diag_conf(conf, "sasl.mechanisms", mech, sizeof mech);
    diag_conf(conf, "sasl.username", user, sizeof user);
    if (diag_has(reason, "Unsupported SASL mechanism") ||
        (diag_has(reason, "mechanism") && diag_has(reason, "not enabled")))
        snprintf(out, n, "the broker's listener does not enable sasl.mechanism=%s: set sasl.mechanism to one it "
                 "offers [librdkafka: %s]", mech, reason);
    else if (!strcasecmp(mech, "GSSAPI") && user[0])  /* GSSAPI is librdkafka's default */
        snprintf(out, n, "sasl.mechanism is GSSAPI (Kerberos, the default) but sasl.username is set: set "
                 "sasl.mechanism=PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 [librdkafka: %s]", reason);
    else if (!strcasecmp(mech, "GSSAPI"))
        snprintf(out, n, "Kerberos authentication failed: check sasl.kerberos.principal and sasl.kerberos.keytab "
                 "(or the ticket cache) and sasl.kerberos.service.name [librdkafka: %s]", reason);
    else if (!strcasecmp(mech, "OAUTHBEARER"))
        snprintf(out, n, "OAUTHBEARER authentication failed: check sasl.oauthbearer.* (token endpoint, client id "
                 "and secret) [librdkafka: %s]", reason);
    else
        snprintf(out, n, "authentication failed: check sasl.username (%s) and sasl.password for "
                 "sasl.mechanism=%s [librdkafka: %s]", user[0] ? user : "unset", mech, reason);
    return 1;
}

/* TLS trust in either direction: the broker's certificate, or ours. */
static int diag_tls(const rd_kafka_conf_t *conf, const char *reason, char *out, size_t n) {
    char ca[256], cert[256], ks[256];
    diag_conf(conf, "ssl.ca.location", ca, sizeof ca);
    diag_conf(conf, "ssl.certificate.location", cert, sizeof cert);
    diag_conf(conf, "ssl.keystore.location", ks, sizeof ks);
    if (diag_has(reason, "hostname mismatch") || diag_has(reason, "IP address mismatch")) {
        snprintf(out, n, "the broker's TLS certificate does not name the host connected to: use a host name "
                 "the certificate lists (or ssl.endpoint.identification.algorithm=none) [librdkafka: %s]", reason);
    } else if (diag_has(reason, "certificate verify failed")) {
        snprintf(out, n, "the broker's TLS certificate is not trusted: set ssl.ca.location to the CA file that "
                 "signed it (now: %s) [librdkafka: %s]", ca[0] ? ca : "the system's CAs", reason);
    } else if (!cert[0] && !ks[0]) {
        snprintf(out, n, "the broker requires a client certificate (mTLS): set ssl.certificate.location and "
                 "ssl.key.location [librdkafka: %s]", reason);
    } else {
        snprintf(out, n, "the broker refused the client certificate (ssl.certificate.location=%s): it must be "
                 "signed by a CA the broker trusts [librdkafka: %s]", cert[0] ? cert : ks, reason);
    }
    return 1;
}

int kafka_diagnose(const rd_kafka_conf_t *conf, int code, const char *reason, char *out, size_t n) {
    char proto[32];
    diag_conf(conf, "security.protocol", proto, sizeof proto);
    int tls = !strcasecmp(proto, "ssl") || !strcasecmp(proto, "sasl_ssl");
    if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION || diag_has(reason, "SASL authentication error"))
        return diag_auth(conf, reason, out, n);
    if (diag_has(reason, "certificate verify failed") || diag_has(reason, "alert bad certificate") ||
        diag_has(reason, "certificate required") || diag_has(reason, "alert unknown ca"))
        return diag_tls(conf, reason, out, n);
    /* A plain client on a TLS port: the broker drops the connection at the first request (or
     * answers with a TLS alert that reads as an absurd response size). */
    if (!tls && (diag_has(reason, "incorrect security.protocol") || diag_has(reason, "Invalid response size"))) {
        snprintf(out, n, "the broker's port does not speak security.protocol=%s (a TLS port?): set "
                 "security.protocol=SSL or SASL_SSL, or use the broker's plaintext port [librdkafka: %s]",
                 proto[0] ? proto : "plaintext", reason);
        return 1;
    }
    /* A TLS client on a plain port: the handshake meets bytes that are not TLS. */
    if (tls && diag_has(reason, "SSL handshake failed") &&
        (diag_has(reason, "PLAINTEXT broker listener") || diag_has(reason, "wrong version number") ||
         diag_has(reason, "packet length too long") ||
         diag_has(reason, "record layer failure") || diag_has(reason, "unexpected eof"))) {
        snprintf(out, n, "the broker's port does not speak TLS: security.protocol=%s needs the broker's SSL or "
                 "SASL_SSL port (or set security.protocol=PLAINTEXT) [librdkafka: %s]", proto, reason);
        return 1;
    }
    return 0;
}

void kafka_client_error_record(kafka_client_error *ce, rd_kafka_t *rk, int code, const char *reason) {
    /* "1/1 brokers are down" follows the real cause: keep the cause. */
    if (code != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || !ce->reason[0]) {
        snprintf(ce->reason, sizeof ce->reason, "%s", reason);
        ce->code = code;
    }
    if (!ce->fix[0] && code != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        kafka_diagnose(rd_kafka_conf(rk), code, reason, ce->fix, sizeof ce->fix);
}

/* Files librdkafka reads at rd_kafka_new(): its own message for a missing one is OpenSSL's
 * ("error:05880002:x509 certificate routines::system lib"), which names neither the setting
 * nor the path. */
static const char *const diag_file_settings[] = {
    "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.keystore.location",
    "ssl.crl.location", "sasl.kerberos.keytab", NULL,
};

static int diag_check_files(const rd_kafka_conf_t *conf, char *err, size_t errlen) {
    for (const char *const *s = diag_file_settings; *s; s++) {
        char path[1024];
        diag_conf(conf, *s, path, sizeof path);
        if (!path[0] || !strcmp(path, "probe")) continue;
        if (access(path, R_OK)) {
            snprintf(err, errlen, "%s=%s: cannot read it: %s", *s, path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* SASL with a username but no sasl.mechanism gets librdkafka's default, GSSAPI, which then
 * fails in rd_kafka_new() with "Invalid sasl.kerberos.kinit.cmd value": name the real mistake. */
static int diag_check_mechanism(const rd_kafka_conf_t *conf, char *err, size_t errlen) {
    char proto[32], mech[64], user[128];
    diag_conf(conf, "security.protocol", proto, sizeof proto);
    diag_conf(conf, "sasl.mechanisms", mech, sizeof mech);
    diag_conf(conf, "sasl.username", user, sizeof user);
    if (strncasecmp(proto, "sasl_", 5) || strcasecmp(mech, "GSSAPI") || !user[0]) return 0;
    snprintf(err, errlen, "sasl.mechanism is GSSAPI (Kerberos, librdkafka's default) but sasl.username is set: set "
             "sasl.mechanism=PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    return -1;
}

rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what, char *err,
                             size_t errlen) {
    char errstr[512];
    if (diag_check_files(conf, err, errlen) || diag_check_mechanism(conf, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (rk) return rk;
    /* A file that exists but is no valid PEM/PKCS#12: say which setting names it. */
    for (const char *const *s = diag_file_settings; *s; s++) {
        char path[1024];
        if (strstr(errstr, *s) && diag_conf(conf, *s, path, sizeof path)[0]) {
            snprintf(err, errlen, "cannot create Kafka %s: %s=%s: not a usable file (%s)", what, *s, path, errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    snprintf(err, errlen, "cannot create Kafka %s: %s", what, errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Metadata is asked for in short slices, serving the error callback between them: a
 * configuration error found by kafka_diagnose() ends the wait at once. */
int kafka_wait_brokers(rd_kafka_t *rk, const char *brokers, int64_t timeout_us, kafka_client_error *ce,
                       char *err, size_t errlen) {
    int64_t deadline = time_mono_us() + timeout_us;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        int64_t left_ms = (deadline - time_mono_us()) / 1000;
        const struct rd_kafka_metadata *md = NULL;
        e = rd_kafka_metadata(rk, 0, NULL, &md, (int)(left_ms < 1 ? 1 : left_ms > 200 ? 200 : left_ms));
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int nb = md->broker_cnt;
            rd_kafka_metadata_destroy(md);
            if (nb > 0) return 0;
            e = RD_KAFKA_RESP_ERR__TRANSPORT;
        }
        /* Serves the error callback (ce is then up to date); a metadata call that failed at
         * once (no broker connected) must not make this a busy loop. */
        rd_kafka_poll(rk, e == RD_KAFKA_RESP_ERR__TIMED_OUT ? 0 : 50);
        if (ce && ce->fix[0]) {
            snprintf(err, errlen, "Kafka at %s: %s", brokers, ce->fix);
            return -1;
        }
        if (time_mono_us() >= deadline) break;
    }
    const char *why = ce ? ce->reason : "";
    snprintf(err, errlen, "no Kafka broker answered at %s within %.1f s (%s%s%s)", brokers,
             (double)timeout_us / 1e6, rd_kafka_err2str(e), why[0] ? ": " : "", why);
    return -1;
}
