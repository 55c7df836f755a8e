//! A running container's standard streams for `kubectl attach`: its
//! output as it is written (fanned out to every attached client, besides
//! the log), its standard input when the spec asks for `stdin: true`, and
//! its terminal with `tty: true`.
//!
//! The runtime makes a [`Console`] for every container it starts: the
//! output readers pass through a [`Tee`], which copies what it reads to
//! the attached clients (only when there are some) while the log pump
//! consumes it; input is a pipe (or the terminal) the node keeps open for
//! the container's life, so a client can attach, type, leave, and another
//! attach later. With `stdinOnce`, the end of the first client's input
//! closes the container's.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Mutex, broadcast, watch};

use crate::server::pty::PtyMaster;

/// How many output chunks an attached client may fall behind before it
/// misses some (as a terminal that cannot keep up). Every container has
/// a console, so this stays small.
const BACKLOG: usize = 128;

/// Output stream numbers, as the remote-command channels number them.
pub const STDOUT: u8 = 1;
/// See [`STDOUT`].
pub const STDERR: u8 = 2;

type Input = Arc<Mutex<Option<Box<dyn AsyncWrite + Send + Unpin>>>>;

/// The standard streams of one container instance; cheap to clone.
#[derive(Clone)]
pub struct Console {
    output: broadcast::Sender<(u8, Bytes)>,
    ended: watch::Receiver<bool>,
    ended_tx: Arc<watch::Sender<bool>>,
    open: Arc<AtomicUsize>,
    input: Option<Input>,
    stdin_once: bool,
    terminal: Option<PtyMaster>,
}

impl Console {
    /// A console whose input goes to `stdin` (a pipe, or the terminal's
    /// master) when the container takes input.
    pub(crate) fn new(
        stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
        stdin_once: bool,
        terminal: Option<PtyMaster>,
    ) -> Console {
        let (output, _) = broadcast::channel(BACKLOG);
        let (ended_tx, ended) = watch::channel(false);
        Console {
            output,
            ended,
            ended_tx: Arc::new(ended_tx),
            open: Arc::new(AtomicUsize::new(0)),
            input: stdin.map(|s| Arc::new(Mutex::new(Some(s)))),
            stdin_once,
            terminal,
        }
    }

    /// Wraps an output of the container: what `reader` yields is copied
    /// to the attached clients as stream `stream`. The console ends when
    /// every wrapped output has.
    pub(crate) fn tee<R>(&self, reader: R, stream: u8) -> Tee<R> {
        self.open.fetch_add(1, Ordering::SeqCst);
        Tee {
            inner: reader,
            stream,
            console: self.clone(),
            done: false,
        }
    }

    /// Output from now on, until the container's outputs end.
    pub fn subscribe(&self) -> broadcast::Receiver<(u8, Bytes)> {
        self.output.subscribe()
    }

    /// Resolves when the container's outputs have ended.
    pub async fn ended(&self) {
        let mut ended = self.ended.clone();
        let _ = ended.wait_for(|e| *e).await;
    }

    /// Whether the container reads input.
    pub fn takes_input(&self) -> bool {
        self.input.is_some()
    }

    /// Whether it runs on a terminal.
    pub fn tty(&self) -> bool {
        self.terminal.is_some()
    }

    /// Writes client input to the container; false once its input is
    /// closed.
    pub async fn write_stdin(&self, data: &[u8]) -> bool {
        let Some(input) = &self.input else {
            return false;
        };
        let mut input = input.lock().await;
        match input.as_mut() {
            Some(w) => w.write_all(data).await.is_ok(),
            None => false,
        }
    }

    /// A client's input ended: with `stdinOnce` the container's does too.
    pub async fn client_input_ended(&self) {
        if !self.stdin_once {
            return;
        }
        if let Some(input) = &self.input
            && let Some(mut w) = input.lock().await.take()
        {
            let _ = w.shutdown().await;
        }
    }

    /// Sets the terminal's size (nothing without a terminal).
    pub fn resize(&self, width: u16, height: u16) {
        if let Some(t) = &self.terminal {
            let _ = t.resize(width, height);
        }
    }

    fn output_ended(&self) {
        if self.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            let _ = self.ended_tx.send(true);
        }
    }
}

/// An output reader that copies what it reads to a [`Console`]'s clients.
pub struct Tee<R> {
    inner: R,
    stream: u8,
    console: Console,
    done: bool,
}

impl<R> Tee<R> {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.console.output_ended();
        }
    }
}

impl<R> Drop for Tee<R> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut self.inner).poll_read(cx, buf));
        let new = &buf.filled()[before..];
        match &result {
            Ok(()) if new.is_empty() => self.finish(),
            Ok(()) => {
                if self.console.output.receiver_count() > 0 {
                    let chunk = Bytes::copy_from_slice(new);
                    let _ = self.console.output.send((self.stream, chunk));
                }
            }
            Err(_) => self.finish(),
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn output_fans_out_and_input_is_shared_until_stdin_once_closes_it() {
        let (mut container_in, node_end) = tokio::io::duplex(1024);
        let console = Console::new(Some(Box::new(node_end)), true, None);
        let (mut container_out, output) = tokio::io::duplex(1024);
        let mut tee = console.tee(output, STDOUT);
        let mut first = console.subscribe();
        let mut second = console.subscribe();
        let log = tokio::spawn(async move {
            let mut all = Vec::new();
            tee.read_to_end(&mut all).await.unwrap();
            all
        });
        container_out.write_all(b"hello").await.unwrap();
        assert_eq!(first.recv().await.unwrap(), (STDOUT, Bytes::from("hello")));
        assert_eq!(second.recv().await.unwrap(), (STDOUT, Bytes::from("hello")));
        drop(container_out);
        console.ended().await;
        assert_eq!(log.await.unwrap(), b"hello", "the log sees everything");

        assert!(console.write_stdin(b"typed").await);
        let mut got = [0u8; 5];
        container_in.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"typed");
        console.client_input_ended().await;
        assert!(!console.write_stdin(b"more").await, "stdinOnce closed it");
        let mut rest = Vec::new();
        container_in.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }
}
