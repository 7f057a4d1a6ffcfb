/*  notify.h: tells the service manager how a daemon is doing (systemd's
 *  Type=notify protocol, through libsystemd's sd_notify(3)).
 *
 *  READY=1 once the daemon serves (the broker: its sockets are bound; the
 *  sink: its log is open and its sockets bound; a worker: a verifier has
 *  heard from the broker), STOPPING=1 when it begins to stop, WATCHDOG=1
 *  keep-alives from a loop that must keep turning (WatchdogSec= in the
 *  unit). Without $NOTIFY_SOCKET (not started by systemd, or Type= other
 *  than notify) every call does nothing. A failure to send is logged at
 *  debug and otherwise ignored: the service manager is told, not relied on.
 *  Call from one thread (the daemon's main or loop thread).
 */
#ifndef AT_NOTIFY_H
#define AT_NOTIFY_H
#include <stdint.h>

/*  READY=1, with STATUS=status when status is not NULL (systemctl status
 *  shows it). */
void notify_ready(const char *status);
/*  STOPPING=1. */
void notify_stopping(void);
/*  WATCHDOG=1 when the unit asks for a watchdog ($WATCHDOG_USEC) and half
 *  its interval has passed since the last one; otherwise nothing. Cheap
 *  enough to call on every turn of a loop. */
void notify_watchdog(void);

#endif
