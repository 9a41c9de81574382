/* Signal delivery for a WASI program, on wasmrun's signal extension.
 *
 * WASI preview1 has no signals: wasi-libc's emulation
 * (libwasi-emulated-signal) keeps the handlers that signal() installs and
 * calls them only from raise(). wasmrun adds an import module "wasmrun":
 * signal_subscribe(sig, *fd) stops sig from killing the process and makes
 * each arrival one byte, the signal's number, on a descriptor (the same
 * for every signal); signal_unsubscribe(sig) gives it its default action
 * back (see wasi/signal.go in the wasmrun repository).
 *
 * This file joins the two, linked with --wrap so that every caller gets it:
 *
 *  - signal(): installing a handler (or SIG_IGN) subscribes to the signal,
 *    SIG_DFL unsubscribes. Handlers installed while the interpreter starts
 *    (CPython's own SIGINT handler, which raises KeyboardInterrupt) do not
 *    subscribe: Ctrl-C and SIGTERM end a program that did not ask for them,
 *    as for any other guest. Only signals wasmrun allows (SIGHUP, SIGINT,
 *    SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM) can be subscribed to; signal()
 *    works as before for the others.
 *  - poll(), select() and clock_nanosleep() (so nanosleep, time.sleep)
 *    also wait for the signal descriptor. When signals come, their handlers
 *    run (CPython's records the signal for the interpreter, as a real
 *    signal handler would) and the call fails with EINTR unless something
 *    else is ready, exactly as a real signal interrupts it: CPython then
 *    runs the Python-level handlers and retries (PEP 475).
 *
 * So a Python handler runs as soon as the program waits: in selectors and
 * asyncio, socketserver/http.server, sockets with a timeout, time.sleep.
 * A blocking call that does not wait through these (accept() on a socket
 * without a timeout) sees the signal when it returns. */
#ifndef _WASI_EMULATED_SIGNAL
#define _WASI_EMULATED_SIGNAL 1 /* wasi-libc's signal.h wants it */
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

__attribute__((import_module("wasmrun"), import_name("signal_subscribe")))
int32_t wasmrun_signal_subscribe(int32_t sig, int32_t *fd);
__attribute__((import_module("wasmrun"), import_name("signal_unsubscribe")))
int32_t wasmrun_signal_unsubscribe(int32_t sig);

typedef void (*handler_t)(int);
handler_t __real_signal(int sig, handler_t handler);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __real_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *errorfds, struct timeval *timeout);
int __real_clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem);

/* CPython's Py_IsInitialized: 0 while the interpreter starts. Weak, so
 * that a program without CPython still links (and counts as started). */
extern int Py_IsInitialized(void) __attribute__((weak));

/* The signal descriptor, -1 before the first subscription. */
static int sigfd = -1;

static int started(void) { return !Py_IsInitialized || Py_IsInitialized(); }

static int allowed(int sig)
{
	return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT || sig == SIGUSR1 ||
		sig == SIGUSR2 || sig == SIGTERM;
}

handler_t __wrap_signal(int sig, handler_t handler)
{
	handler_t old = __real_signal(sig, handler);
	if (old == SIG_ERR || !allowed(sig) || !started())
		return old;
	if (handler == SIG_DFL) {
		wasmrun_signal_unsubscribe(sig);
	} else {
		int32_t fd;
		if (wasmrun_signal_subscribe(sig, &fd) == 0)
			sigfd = fd;
	}
	return old;
}

/* deliver reads the pending signals and runs their handlers: a handler
 * set back to SIG_DFL since ends the program as the signal would have
 * (128+N), SIG_IGN drops it. Called when sigfd is readable. */
static void deliver(void)
{
	unsigned char buf[16];
	ssize_t n = read(sigfd, buf, sizeof buf);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			sigfd = -1; /* closed: stop waiting for it */
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		int sig = buf[i];
		handler_t h = __real_signal(sig, SIG_DFL); /* peek... */
		__real_signal(sig, h);                     /* ...and put back */
		if (h == SIG_DFL || h == SIG_ERR)
			_Exit(128 + sig);
		if (h != SIG_IGN)
			h(sig);
	}
}

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (sigfd < 0)
		return __real_poll(fds, nfds, timeout);
	struct pollfd local[16], *all = local;
	if (nfds >= sizeof local / sizeof local[0]) {
		all = malloc((nfds + 1) * sizeof *all);
		if (all == NULL)
			return __real_poll(fds, nfds, timeout);
	}
	if (nfds > 0)
		memcpy(all, fds, nfds * sizeof *all);
	all[nfds] = (struct pollfd){.fd = sigfd, .events = POLLIN};
	int n = __real_poll(all, nfds + 1, timeout);
	if (n > 0) {
		for (nfds_t i = 0; i < nfds; i++)
			fds[i].revents = all[i].revents;
		short sigev = all[nfds].revents;
		if (sigev != 0) {
			n--;
			if (sigev & POLLIN)
				deliver();
			else
				sigfd = -1; /* POLLNVAL/POLLHUP: the descriptor is gone */
			if (n == 0) {
				errno = EINTR;
				n = -1;
			}
		}
	}
	if (all != local)
		free(all);
	return n;
}

int __wrap_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *errorfds, struct timeval *timeout)
{
	if (sigfd < 0 || nfds < 0 || (errorfds != NULL && errorfds->__nfds > 0))
		return __real_select(nfds, readfds, writefds, errorfds, timeout);
	struct pollfd *pfds = calloc(nfds > 0 ? nfds : 1, sizeof *pfds);
	if (pfds == NULL)
		return __real_select(nfds, readfds, writefds, errorfds, timeout);
	nfds_t n = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (readfds != NULL && FD_ISSET(fd, readfds))
			ev |= POLLRDNORM;
		if (writefds != NULL && FD_ISSET(fd, writefds))
			ev |= POLLWRNORM;
		if (ev != 0)
			pfds[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	int ms = -1;
	if (timeout != NULL) {
		if (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeout->tv_usec >= 1000000) {
			free(pfds);
			errno = EINVAL;
			return -1;
		}
		long long t = (long long)timeout->tv_sec * 1000 + (timeout->tv_usec + 999) / 1000;
		ms = t > INT32_MAX ? INT32_MAX : (int)t;
	}
	int ready = __wrap_poll(pfds, n, ms);
	if (ready >= 0) {
		if (readfds != NULL)
			FD_ZERO(readfds);
		if (writefds != NULL)
			FD_ZERO(writefds);
		ready = 0;
		for (nfds_t i = 0; i < n; i++) {
			short re = pfds[i].revents;
			if (re & POLLNVAL) {
				free(pfds);
				errno = EBADF;
				return -1;
			}
			if ((pfds[i].events & POLLRDNORM) && (re & (POLLRDNORM | POLLHUP | POLLERR))) {
				FD_SET(pfds[i].fd, readfds);
				ready++;
			}
			if ((pfds[i].events & POLLWRNORM) && (re & (POLLWRNORM | POLLERR))) {
				FD_SET(pfds[i].fd, writefds);
				ready++;
			}
		}
	}
	free(pfds);
	return ready;
}

/* wasi_clock maps wasi-libc's clock to the preview1 clock id. */
static int wasi_clock(clockid_t clock, __wasi_clockid_t *id)
{
	if (clock == CLOCK_MONOTONIC)
		*id = __WASI_CLOCKID_MONOTONIC;
	else if (clock == CLOCK_REALTIME)
		*id = __WASI_CLOCKID_REALTIME;
	else
		return 0;
	return 1;
}

int __wrap_clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	__wasi_clockid_t id;
	if (sigfd < 0 || !wasi_clock(clock, &id) || req == NULL ||
		req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
		return __real_clock_nanosleep(clock, flags, req, rem);
	struct timespec start;
	int abs = flags & TIMER_ABSTIME;
	if (!abs && clock_gettime(clock, &start) != 0)
		return errno;
	__wasi_timestamp_t ns = (__wasi_timestamp_t)req->tv_sec * 1000000000 + req->tv_nsec;
	__wasi_subscription_t subs[2] = {
		{.userdata = 0, .u.tag = __WASI_EVENTTYPE_CLOCK,
		 .u.u.clock = {.id = id, .timeout = ns, .precision = 0,
			 .flags = abs ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0}},
		{.userdata = 1, .u.tag = __WASI_EVENTTYPE_FD_READ, .u.u.fd_read = {.file_descriptor = sigfd}},
	};
	__wasi_event_t events[2];
	__wasi_size_t nevents;
	__wasi_errno_t err = __wasi_poll_oneoff(subs, events, 2, &nevents);
	if (err != 0)
		return err;
	int signalled = 0, expired = 0;
	for (__wasi_size_t i = 0; i < nevents; i++) {
		if (events[i].userdata == 0)
			expired = 1;
		else if (events[i].error == 0)
			signalled = 1;
		else
			sigfd = -1;
	}
	if (expired)
		return 0;
	long long left = 0;
	if (!abs) {
		struct timespec now;
		if (clock_gettime(clock, &now) != 0)
			return errno;
		left = (long long)ns - ((long long)(now.tv_sec - start.tv_sec) * 1000000000 +
			(now.tv_nsec - start.tv_nsec));
		if (left < 0)
			left = 0;
	}
	struct timespec rest = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
	if (!signalled) /* the signal descriptor is gone: sleep the rest */
		return __real_clock_nanosleep(clock, flags, abs ? req : &rest, rem);
	deliver();
	if (rem != NULL && !abs)
		*rem = rest;
	return EINTR;
}
