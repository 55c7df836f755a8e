//! A SPDY/3.1 server connection on an upgraded HTTP connection: the
//! transport under `kubectl exec`/`attach`/`cp` (kubectl 1.29 and older,
//! and newer ones when WebSockets are refused) and `kubectl port-forward`.
//!
//! The client opens every stream (a `SYN_STREAM` whose headers say what
//! it is for); the node accepts each at once with a `SYN_REPLY` and hands
//! it to the session ([`Connection::accept`]). A [`Stream`] reads what the
//! client sends on it until the client half-closes it, and writes frames
//! through one writer task, which batches whatever is queued into one
//! write. Pings are echoed. The framing itself is `ordinal_core::spdy`.
//!
//! One reader task owns the read half: a stream whose reader falls behind
//! holds the connection's other streams back, as spdystream does on the
//! client side; a stream nobody reads any more (dropped) is not waited
//! for.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ordinal_core::spdy::{self, Decoder, Encoder, Frame, Headers};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// How many received chunks may wait for a stream's reader.
const INBOX: usize = 16;
/// How many frames may wait for the writer.
const OUTBOX: usize = 64;
/// How much the writer gathers into one write.
const BATCH: usize = 512 * 1024;
/// The read buffer's minimum free room.
const READ_ROOM: usize = 256 * 1024;

enum Out {
    Frame(Frame),
    /// Send GOAWAY, flush, close the write side, then answer.
    Finish(oneshot::Sender<()>),
}

/// The node's end of one SPDY connection.
pub struct Connection {
    incoming: mpsc::Receiver<Stream>,
    out: mpsc::Sender<Out>,
    /// Becomes true when the client's side ended (EOF, error, GOAWAY).
    closed: watch::Receiver<bool>,
    reader: tokio::task::JoinHandle<()>,
}

/// One stream the client opened.
pub struct Stream {
    /// The stream's id.
    pub id: u32,
    /// Its headers (lower-case names).
    pub headers: Headers,
    inbound: mpsc::Receiver<Bytes>,
    writer: Writer,
}

/// The sending side of a stream; clones write to the same stream.
#[derive(Clone)]
pub struct Writer {
    id: u32,
    out: mpsc::Sender<Out>,
}

impl Writer {
    /// Sends `data` (cut into frames if larger than one); false once the
    /// connection is gone.
    pub async fn write(&self, data: Bytes) -> bool {
        if data.is_empty() {
            return true;
        }
        self.out
            .send(Out::Frame(Frame::Data {
                stream: self.id,
                fin: false,
                data,
            }))
            .await
            .is_ok()
    }

    /// Half-closes the stream: the client reads its end.
    pub async fn close(&self) {
        let _ = self
            .out
            .send(Out::Frame(Frame::Data {
                stream: self.id,
                fin: true,
                data: Bytes::new(),
            }))
            .await;
    }
}

impl Stream {
    /// The stream's `name` header.
    pub fn header(&self, name: &str) -> Option<&str> {
        spdy::header(&self.headers, name)
    }

    /// The next bytes the client sent; `None` once it half-closed or
    /// reset the stream, or the connection ended.
    pub async fn read(&mut self) -> Option<Bytes> {
        self.inbound.recv().await
    }

    /// A handle that writes to this stream.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Splits into the receiving half and a writer.
    pub fn split(self) -> (mpsc::Receiver<Bytes>, Writer) {
        (self.inbound, self.writer)
    }
}

impl Connection {
    /// Starts serving SPDY on `io` (the upgraded connection).
    pub fn start<T>(io: T) -> Connection
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (out, out_rx) = mpsc::channel(OUTBOX);
        let (incoming_tx, incoming) = mpsc::channel(16);
        let (closed_tx, closed) = watch::channel(false);
        let last = Arc::new(AtomicU32::new(0));
        tokio::spawn(write_loop(write, out_rx, last.clone()));
        let reader = tokio::spawn(read_loop(read, out.clone(), incoming_tx, closed_tx, last));
        Connection {
            incoming,
            out,
            closed,
            reader,
        }
    }

    /// The next stream the client opens; `None` once it can open no more.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// Resolves when the client's side of the connection has ended.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.clone();
        async move {
            let _ = closed.wait_for(|c| *c).await;
        }
    }

    /// Resets a stream the session will not serve.
    pub async fn refuse(&self, stream: Stream) {
        let _ = self
            .out
            .send(Out::Frame(Frame::RstStream {
                stream: stream.id,
                status: spdy::status::REFUSED_STREAM,
            }))
            .await;
    }

    /// Ends the connection: what is queued is sent, then GOAWAY, then the
    /// write side closes; the client's close is awaited briefly.
    pub async fn finish(self) {
        let (done, finished) = oneshot::channel();
        if self.out.send(Out::Finish(done)).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), finished).await;
        }
        let mut reader = self.reader;
        if tokio::time::timeout(Duration::from_secs(2), &mut reader)
            .await
            .is_err()
        {
            reader.abort();
        }
    }
}

async fn read_loop<R>(
    mut read: R,
    out: mpsc::Sender<Out>,
    incoming: mpsc::Sender<Stream>,
    closed: watch::Sender<bool>,
    last: Arc<AtomicU32>,
) where
    R: AsyncRead + Unpin,
{
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::with_capacity(READ_ROOM);
    let mut streams: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    'read: loop {
        loop {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "spdy: the client's bytes are not SPDY/3.1");
                    let _ = out
                        .send(Out::Frame(Frame::GoAway {
                            last_good: last.load(Ordering::Relaxed),
                            status: 1,
                        }))
                        .await;
                    break 'read;
                }
            };
            match frame {
                Frame::SynStream {
                    stream,
                    fin,
                    headers,
                    ..
                } => {
                    // Client streams are odd and increase.
                    if stream % 2 == 0 || stream <= last.load(Ordering::Relaxed) {
                        let _ = out
                            .send(Out::Frame(Frame::RstStream {
                                stream,
                                status: spdy::status::PROTOCOL_ERROR,
                            }))
                            .await;
                        continue;
                    }
                    last.store(stream, Ordering::Relaxed);
                    let (tx, rx) = mpsc::channel(INBOX);
                    if !fin {
                        streams.insert(stream, tx);
                    }
                    let reply = Frame::SynReply {
                        stream,
                        fin: false,
                        headers: Vec::new(),
                    };
                    if out.send(Out::Frame(reply)).await.is_err() {
                        break 'read;
                    }
                    let accepted = Stream {
                        id: stream,
                        headers,
                        inbound: rx,
                        writer: Writer {
                            id: stream,
                            out: out.clone(),
                        },
                    };
                    if incoming.try_send(accepted).is_err() {
                        // The session takes no more streams.
                        streams.remove(&stream);
                        let refused = Frame::RstStream {
                            stream,
                            status: spdy::status::REFUSED_STREAM,
                        };
                        if out.send(Out::Frame(refused)).await.is_err() {
                            break 'read;
                        }
                    }
                }
                Frame::Data { stream, fin, data } => {
                    if let Some(tx) = streams.get(&stream) {
                        if !data.is_empty() && tx.send(data).await.is_err() {
                            streams.remove(&stream);
                        }
                        if fin {
                            streams.remove(&stream);
                        }
                    }
                }
                Frame::Headers { stream, fin, .. } if fin => {
                    streams.remove(&stream);
                }
                Frame::RstStream { stream, .. } => {
                    streams.remove(&stream);
                }
                Frame::Ping { id } => {
                    // Echo the client's (odd) pings.
                    if id % 2 == 1 && out.send(Out::Frame(Frame::Ping { id })).await.is_err() {
                        break 'read;
                    }
                }
                Frame::GoAway { .. } => break 'read,
                // Flow control is not enforced (see ordinal_core::spdy).
                Frame::SynReply { .. }
                | Frame::Headers { .. }
                | Frame::Settings { .. }
                | Frame::WindowUpdate { .. } => {}
            }
        }
        if buf.capacity() - buf.len() < READ_ROOM / 4 {
            buf.reserve(READ_ROOM);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    drop(streams);
    drop(incoming);
    let _ = closed.send(true);
}

async fn write_loop<W>(mut write: W, mut rx: mpsc::Receiver<Out>, last: Arc<AtomicU32>)
where
    W: AsyncWrite + Unpin,
{
    let mut encoder = Encoder::new();
    let mut buf = BytesMut::with_capacity(BATCH + 64 * 1024);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut finish = None;
        while let Some(item) = next.take() {
            match item {
                Out::Frame(frame) => encoder.encode(&frame, &mut buf),
                Out::Finish(done) => {
                    encoder.encode(
                        &Frame::GoAway {
                            last_good: last.load(Ordering::Relaxed),
                            status: spdy::status::GOAWAY_OK,
                        },
                        &mut buf,
                    );
                    finish = Some(done);
                    break;
                }
            }
            if buf.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if write.write_all(&buf).await.is_err() {
            return;
        }
        buf.clear();
        if let Some(done) = finish {
            let _ = write.flush().await;
            let _ = write.shutdown().await;
            let _ = done.send(());
            return;
        }
        if write.flush().await.is_err() {
            return;
        }
    }
}

/// A WebSocket carrying SPDY (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31
/// and newer): each binary message holds the next bytes of the SPDY
/// connection. Returns a byte stream to run [`Connection`] on; two tasks
/// move the bytes between it and the WebSocket until either side ends.
pub fn tunnel<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> tokio::io::DuplexStream
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (ours, theirs) = tokio::io::duplex(1024 * 1024);
    let (mut ours_read, mut ours_write) = tokio::io::split(ours);
    let (mut sink, mut messages) = ws.split();
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            match message {
                Message::Binary(data) if ours_write.write_all(&data).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = ours_write.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(BATCH);
        loop {
            buf.reserve(BATCH);
            match ours_read.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let message = Message::binary(buf.split().freeze());
                    if sink.send(message).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });
    theirs
}

/// A client end of a connection for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A client end of a connection, for tests: frames in, frames out.
    pub(crate) struct TestClient<T> {
        io: T,
        encoder: Encoder,
        decoder: Decoder,
        buf: BytesMut,
    }

    impl<T: AsyncRead + AsyncWrite + Unpin> TestClient<T> {
        pub(crate) fn new(io: T) -> Self {
            TestClient {
                io,
                encoder: Encoder::new(),
                decoder: Decoder::new(),
                buf: BytesMut::new(),
            }
        }

        pub(crate) async fn send(&mut self, frame: Frame) {
            let mut out = BytesMut::new();
            self.encoder.encode(&frame, &mut out);
            self.io.write_all(&out).await.unwrap();
        }

        pub(crate) async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(f) = self.decoder.decode(&mut self.buf).unwrap() {
                    return Some(f);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestClient;
    use super::*;

    fn syn(stream: u32, kind: &str) -> Frame {
        Frame::SynStream {
            stream,
            associated: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: vec![("streamtype".into(), kind.into())],
        }
    }

    #[tokio::test]
    async fn streams_are_replied_pinged_and_carried() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut conn = Connection::start(server);
        let mut client = TestClient::new(client);
        client.send(syn(1, "stdin")).await;
        client.send(Frame::Ping { id: 1 }).await;
        assert_eq!(
            client.next().await,
            Some(Frame::SynReply {
                stream: 1,
                fin: false,
                headers: vec![]
            })
        );
        assert_eq!(client.next().await, Some(Frame::Ping { id: 1 }));
        let mut stream = conn.accept().await.unwrap();
        assert_eq!(stream.header("streamtype"), Some("stdin"));
        client
            .send(Frame::Data {
                stream: 1,
                fin: true,
                data: "hello".into(),
            })
            .await;
        assert_eq!(stream.read().await.as_deref(), Some(&b"hello"[..]));
        assert_eq!(stream.read().await, None, "the FIN ends the stream");
        stream.writer().write("back".into()).await;
        stream.writer().close().await;
        assert_eq!(
            client.next().await,
            Some(Frame::Data {
                stream: 1,
                fin: false,
                data: "back".into()
            })
        );
        assert!(matches!(
            client.next().await,
            Some(Frame::Data { fin: true, .. })
        ));
        // A stream id that goes backwards is refused.
        client.send(syn(1, "stdout")).await;
        assert!(matches!(
            client.next().await,
            Some(Frame::RstStream { stream: 1, .. })
        ));
        conn.finish().await;
        assert!(matches!(
            client.next().await,
            Some(Frame::GoAway { last_good: 1, .. })
        ));
        assert_eq!(client.next().await, None);
    }

    #[tokio::test]
    async fn garbage_ends_the_connection_with_goaway() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut conn = Connection::start(server);
        // A control frame of SPDY/2.
        client
            .write_all(&[0x80, 2, 0, 1, 0, 0, 0, 0])
            .await
            .unwrap();
        assert!(conn.accept().await.is_none());
        conn.closed().await;
    }
}
