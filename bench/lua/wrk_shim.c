/* LD_PRELOAD shim for wrk: full TLS handshakes only, and no busy-waiting in them.
 *
 * 1. wrk keeps one SSL object per connection slot and resets it with SSL_clear() on
 *    every reconnect; SSL_clear() keeps the session, so each new connection offers to
 *    resume it, and a server that allows resumption skips the full handshake. Dropping
 *    the session first makes every connection a full handshake, as the C SDK's are.
 *
 * 2. wrk watches a connecting socket for reading and writing alike and retries
 *    SSL_connect() on either. Once the ClientHello is sent the socket stays writable, so
 *    until the server answers, wrk spins on SSL_connect() returning WANT_READ: the
 *    slower the server's handshake, the more CPU the client takes from the server on a
 *    shared machine. Here a handshake that waits to read is watched for reading only;
 *    wrk's own bookkeeping restores writing once the handshake is done (it re-adds the
 *    events, and its epoll backend modifies the fd with both).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/epoll.h>

/* Declared here rather than from <openssl/ssl.h>, so that building needs only a C
 * compiler; the symbols are wrk's own libssl's once the shim is loaded into it. */
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_set_session(SSL *ssl, SSL_SESSION *session);
int SSL_get_error(const SSL *ssl, int ret);
int SSL_get_fd(const SSL *ssl);
#define SSL_ERROR_WANT_READ 2

#define MAX_FDS 65536
/* The epoll instance each fd was last added to: wrk has one per thread, and an fd
 * belongs to one thread at a time. */
static int epoll_of[MAX_FDS];

int SSL_clear(SSL *ssl)
{
    static int (*real_clear)(SSL *);
    if (real_clear == NULL)
        real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    SSL_set_session(ssl, NULL);
    return real_clear(ssl);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    static int (*real_ctl)(int, int, int, struct epoll_event *);
    if (real_ctl == NULL)
        real_ctl = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
    if (fd >= 0 && fd < MAX_FDS && op != EPOLL_CTL_DEL)
        epoll_of[fd] = epfd + 1; /* 0: not known */
    return real_ctl(epfd, op, fd, event);
}

int SSL_connect(SSL *ssl)
{
    static int (*real_connect)(SSL *);
    if (real_connect == NULL)
        real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    int result = real_connect(ssl);
    if (result != 1 && SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ) {
        int fd = SSL_get_fd(ssl);
        if (fd >= 0 && fd < MAX_FDS && epoll_of[fd]) {
            struct epoll_event readable = {.events = EPOLLIN};
            readable.data.fd = fd; /* as wrk's ae_epoll.c sets it */
            epoll_ctl(epoll_of[fd] - 1, EPOLL_CTL_MOD, fd, &readable);
        }
    }
    return result;
}
