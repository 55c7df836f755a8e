//! What a connection may cost the server, and how many there may be.
//!
//! A client that connects and says nothing, sends its headers a byte a
//! minute, announces a body it never sends or keeps a connection idle must
//! not hold the server's file descriptors or memory for ever, nor keep the
//! admin out. So every connection is watched:
//!
//! - the TLS handshake must end within [`Limits::handshake_timeout`]
//!   (upstream: 10 s);
//! - on HTTP/1.1, a request's headers must arrive within
//!   [`Limits::header_timeout`] of its first byte (upstream's
//!   `ReadHeaderTimeout`, 32 s);
//! - a connection with no request in flight is closed after
//!   [`Limits::idle_timeout`] (upstream's `IdleTimeout`, 90 s) — a watch,
//!   a log follow or an exec is in flight for as long as it streams;
//! - a request body must arrive within [`Limits::body_timeout`]
//!   (upstream's request timeout, 60 s), see [`crate::rest::read_body`].
//!
//! And counted ([`Table`]): at most [`Limits::max_connections`] in all
//! (kept below the process's file-descriptor limit), of which at most
//! [`Limits::max_unauthenticated`] — and
//! [`Limits::max_unauthenticated_per_client`] from one address — have not
//! yet presented the token. A new connection over those caps pushes out
//! the oldest one that has not authenticated, never one that has: a flood
//! of idle connections churns among itself while the admin's kubectl gets
//! in, authenticates on its first request and is left alone. Upstream has
//! no such caps (Go raises its descriptor limit and relies on timeouts);
//! an `ordinal up` on a laptop has a few thousand descriptors, not a
//! million.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The timeouts and caps of the server's connections.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a client has to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a request's line and headers may take to arrive, from
    /// its first byte.
    pub header_timeout: Duration,
    /// How long a connection may sit with no request in flight before it
    /// is closed.
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Connections open at once; beyond it the oldest unauthenticated one
    /// is pushed out, or the new one closed when every slot is
    /// authenticated.
    pub max_connections: usize,
    /// Connections that have not yet presented the token; beyond it the
    /// oldest is pushed out.
    pub max_unauthenticated: usize,
    /// The same cap for the connections of one client address.
    pub max_unauthenticated_per_client: usize,
}

/// Upstream's `MaxHeaderBytes` (1 MiB) plus the 4 KiB Go's server reads
/// beyond it: what the request line and the headers may add up to.
pub const MAX_HEADER_BYTES: usize = (1 << 20) + 4096;

/// Header fields an HTTP/1.1 request may carry. Go counts bytes only;
/// hyper also counts fields and keeps room for this many on every request,
/// so the number is a compromise (upstream has no such limit).
pub const MAX_HEADER_FIELDS: usize = 4096;

/// Concurrent streams on one HTTP/2 connection: Go's default, which
/// kube-apiserver keeps.
pub const MAX_CONCURRENT_STREAMS: u32 = 250;

/// Descriptors the server leaves to everything else in the process (the
/// store, the node agent, pods' logs, DNS) when it sizes its cap.
const RESERVED_DESCRIPTORS: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(32),
            idle_timeout: Duration::from_secs(90),
            body_timeout: Duration::from_secs(60),
            max_connections: connection_cap(open_file_limit()),
            max_unauthenticated: 512,
            max_unauthenticated_per_client: 256,
        }
    }
}

/// The connection cap for a descriptor limit: half of what is left after
/// the reserve, at least 64.
pub fn connection_cap(fd_limit: usize) -> usize {
    (fd_limit.saturating_sub(RESERVED_DESCRIPTORS) / 2).max(64)
}

/// The process's soft limit on open files.
fn open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    }
}

/// Milliseconds since the first call, for timestamps kept in atomics.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// No byte read since the connection last went idle.
const NOT_READING: u64 = u64::MAX;

/// One connection as its watchdog, its requests and the table see it.
pub struct Connection {
    id: u64,
    table: Arc<Table>,
    /// Out of the unauthenticated count: it authenticated, or was pushed
    /// out.
    left_pending: AtomicBool,
    close: Notify,
    in_flight: AtomicUsize,
    /// When the last request in flight ended (or the connection began).
    idle_since: AtomicU64,
    /// When the first byte arrived while nothing was in flight.
    reading_since: AtomicU64,
}

impl Connection {
    /// The connection has presented the token: it no longer counts (nor
    /// can be pushed out) as unauthenticated.
    pub fn mark_authenticated(&self) {
        if !self.left_pending.swap(true, Ordering::AcqRel) {
            self.table.lock().forget_pending(self.id);
        }
    }

    /// The limits of the server this connection belongs to.
    pub fn limits(&self) -> &Limits {
        &self.table.limits
    }

    /// Resolves when the table pushes this connection out.
    pub async fn pushed_out(&self) {
        self.close.notified().await;
    }

    /// A request begins; the guard ends it when dropped (with its
    /// response body, so a watch counts for as long as it streams).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.reading_since.store(NOT_READING, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    fn note_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.reading_since.load(Ordering::Acquire) == NOT_READING
        {
            self.reading_since.store(now_ms(), Ordering::Release);
        }
    }

    /// Why the watchdog should close the connection now, if it should.
    pub fn overdue(&self, limits: &Limits, http1: bool) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let now = now_ms();
        let reading = self.reading_since.load(Ordering::Acquire);
        if http1
            && reading != NOT_READING
            && now.saturating_sub(reading) > millis(limits.header_timeout)
        {
            return Some("request headers not received in time");
        }
        let idle = self.idle_since.load(Ordering::Acquire);
        (now.saturating_sub(idle) > millis(limits.idle_timeout)).then_some("idle")
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.table.closed(self.id);
    }
}

/// A request in flight on a connection.
pub struct InFlight(Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle_since.store(now_ms(), Ordering::Release);
        }
    }
}

/// The connections the server holds, and who may be pushed out.
pub(crate) struct Table {
    limits: Limits,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    total: usize,
    /// Unauthenticated connections, oldest first.
    pending: BTreeMap<u64, (IpAddr, std::sync::Weak<Connection>)>,
    pending_per_ip: HashMap<IpAddr, usize>,
}

impl Inner {
    fn forget_pending(&mut self, id: u64) -> Option<(IpAddr, std::sync::Weak<Connection>)> {
        let (ip, conn) = self.pending.remove(&id)?;
        if let Some(n) = self.pending_per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending_per_ip.remove(&ip);
            }
        }
        Some((ip, conn))
    }

    /// Pushes out the oldest unauthenticated connection (of `ip`, when
    /// given); false when there is none.
    fn push_out_oldest(&mut self, ip: Option<IpAddr>) -> bool {
        let victim = self
            .pending
            .iter()
            .find(|(_, (owner, _))| ip.is_none_or(|ip| *owner == ip))
            .map(|(id, _)| *id);
        let Some(id) = victim else { return false };
        if let Some((_, conn)) = self.forget_pending(id)
            && let Some(conn) = conn.upgrade()
        {
            // Counted out now; its task ends when it sees the notice.
            conn.left_pending.store(true, Ordering::Release);
            conn.close.notify_one();
        }
        true
    }
}

impl Table {
    pub(crate) fn new(limits: Limits) -> Arc<Table> {
        Arc::new(Table {
            limits,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// The limits the table admits connections by.
    #[cfg(test)]
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection from `ip`, pushing out unauthenticated
    /// ones to make room; `None` when the server is full of authenticated
    /// connections.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Arc<Connection>> {
        let mut inner = self.lock();
        if inner.total >= self.limits.max_connections && !inner.push_out_oldest(None) {
            return None;
        }
        if inner.pending_per_ip.get(&ip).copied().unwrap_or(0)
            >= self.limits.max_unauthenticated_per_client
        {
            inner.push_out_oldest(Some(ip));
        }
        if inner.pending.len() >= self.limits.max_unauthenticated {
            inner.push_out_oldest(None);
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let now = now_ms();
        let conn = Arc::new(Connection {
            id,
            table: Arc::clone(self),
            left_pending: AtomicBool::new(false),
            close: Notify::new(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            reading_since: AtomicU64::new(NOT_READING),
        });
        inner.total += 1;
        inner.pending.insert(id, (ip, Arc::downgrade(&conn)));
        *inner.pending_per_ip.entry(ip).or_default() += 1;
        Some(conn)
    }

    fn closed(&self, id: u64) {
        let mut inner = self.lock();
        inner.forget_pending(id);
        inner.total = inner.total.saturating_sub(1);
    }

    /// How many connections are open, and how many of them have not
    /// authenticated.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.total, inner.pending.len())
    }
}

/// A connection's byte stream, noting when bytes arrive while no request
/// is in flight (the start of a request's headers, for the header
/// timeout).
pub(crate) struct Watched<S> {
    inner: S,
    conn: Arc<Connection>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, conn: Arc<Connection>) -> Self {
        Watched { inner, conn }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.note_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that keeps its request in flight until it is done.
pub(crate) struct Tracked {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl Tracked {
    pub(crate) fn new(inner: axum::body::Body, in_flight: InFlight) -> Self {
        Tracked {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, pending: usize, per_client: usize) -> Limits {
        Limits {
            max_connections: total,
            max_unauthenticated: pending,
            max_unauthenticated_per_client: per_client,
            ..Limits::default()
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_flood_pushes_out_its_own_oldest_never_the_authenticated() {
        let table = Table::new(limits(100, 4, 4));
        let admin = table.admit(ip(1)).unwrap();
        admin.mark_authenticated();
        let flood: Vec<_> = (0..50).map(|_| table.admit(ip(2)).unwrap()).collect();
        assert_eq!(table.counts().1, 4, "at most 4 unauthenticated");
        // The first 46 were told to go; the newest four stay.
        let told = flood
            .iter()
            .filter(|c| c.left_pending.load(Ordering::Acquire))
            .count();
        assert_eq!(told, 46);
        assert!(!admin.close.notified().now_or_never_is_ready());
        drop(flood);
        assert_eq!(table.counts(), (1, 0));
    }

    #[test]
    fn one_client_cannot_take_every_unauthenticated_slot() {
        let table = Table::new(limits(100, 10, 3));
        let a: Vec<_> = (0..5).map(|_| table.admit(ip(2)).unwrap()).collect();
        let b = table.admit(ip(3)).unwrap();
        assert_eq!(table.counts().1, 4, "three of the flood's and b");
        assert!(!b.left_pending.load(Ordering::Acquire));
        drop(a);
    }

    #[test]
    fn a_full_table_of_authenticated_connections_refuses() {
        let table = Table::new(limits(2, 10, 10));
        let held: Vec<_> = (0..2)
            .map(|_| {
                let c = table.admit(ip(1)).unwrap();
                c.mark_authenticated();
                c
            })
            .collect();
        assert!(table.admit(ip(2)).is_none());
        drop(held);
        assert!(table.admit(ip(2)).is_some());
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(1024), 64);
        assert_eq!(connection_cap(4096), 1536);
        assert_eq!(connection_cap(1 << 20), ((1 << 20) - 1024) / 2);
    }

    #[test]
    fn idle_and_slow_headers_are_overdue_requests_in_flight_are_not() {
        let table = Table::new(Limits {
            idle_timeout: Duration::from_millis(30),
            header_timeout: Duration::from_millis(10),
            ..limits(10, 10, 10)
        });
        let conn = table.admit(ip(1)).unwrap();
        assert_eq!(conn.overdue(table.limits(), true), None);
        let request = conn.begin();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(conn.overdue(table.limits(), true), None, "in flight");
        drop(request);
        assert_eq!(conn.overdue(table.limits(), true), None, "just idle");
        conn.note_read();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            conn.overdue(table.limits(), true),
            Some("request headers not received in time")
        );
        assert_eq!(
            conn.overdue(table.limits(), false),
            None,
            "HTTP/2 has no header rule"
        );
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(conn.overdue(table.limits(), false), Some("idle"));
    }

    trait NowOrNever {
        fn now_or_never_is_ready(self) -> bool;
    }

    impl<F: std::future::Future> NowOrNever for F {
        fn now_or_never_is_ready(self) -> bool {
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut f = std::pin::pin!(self);
            f.as_mut().poll(&mut cx).is_ready()
        }
    }
}
