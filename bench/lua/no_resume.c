/* LD_PRELOAD shim for wrk: full TLS handshakes only.
 *
 * wrk keeps one SSL object per connection slot and resets it with SSL_clear() on every
 * reconnect; SSL_clear() keeps the session, so each new connection offers to resume
 * it, and a server that allows resumption skips the full handshake. Dropping the
 * session first makes every connection a full handshake, as the C SDK's are.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

/* Declared here rather than from <openssl/ssl.h>, so that building needs only a C
 * compiler; the symbols are wrk's own libssl's once the shim is loaded into it. */
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_set_session(SSL *ssl, SSL_SESSION *session);

int SSL_clear(SSL *ssl)
{
    static int (*real_clear)(SSL *);
    if (real_clear == NULL)
        real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    SSL_set_session(ssl, NULL);
    return real_clear(ssl);
}
