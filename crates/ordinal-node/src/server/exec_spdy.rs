//! `kubectl exec` (and `cp`, which runs `tar` by exec) over SPDY/3.1, the
//! remote-command protocol `v4.channel.k8s.io` as kubectl 1.29 and older
//! speak it (newer ones when WebSockets are refused).
//!
//! The client opens one stream per channel, each named by its
//! `streamtype` header: `error` always, `stdin`, `stdout`, `stderr` as
//! asked, and `resize` with a terminal. Once all expected streams are
//! there (within the kubelet's 30 seconds) the command starts; stdin's
//! half-close is the command's end of input; resize carries JSON terminal
//! sizes one after another. When the command ends its outputs are
//! half-closed, the final `Status` (the same JSON as over WebSocket) is
//! written on the error stream, and the connection goes away.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::channel::{self, TerminalSize};
use super::exec::{ExecOptions, kill_group, spawn};
use super::pty::PtyMaster;
use super::spdy::{Connection, Stream, Writer};
use crate::console::Console;

/// The remote-command versions served over SPDY, best first.
pub const PROTOCOLS: &[&str] = &["v4.channel.k8s.io"];

/// How long the client has to open its streams (the kubelet's default).
const STREAM_CREATION: Duration = Duration::from_secs(30);
/// How long output may go on after the command exited.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// How much of an output is read at once.
const CHUNK: usize = 32 * 1024;

/// The streams of one session.
pub struct Streams {
    /// Where the final status goes.
    pub error: Stream,
    /// The client's input.
    pub stdin: Option<Stream>,
    /// Output.
    pub stdout: Option<Writer>,
    /// Error output (never with a terminal).
    pub stderr: Option<Writer>,
    /// Terminal sizes.
    pub resize: Option<Stream>,
}

/// Waits for the streams `opts` call for; `None` when the client left or
/// took too long.
pub async fn collect(conn: &mut Connection, opts: &ExecOptions) -> Option<Streams> {
    let mut error = None;
    let mut stdin = None;
    let mut stdout = None;
    let mut stderr = None;
    let mut resize = None;
    let deadline = tokio::time::Instant::now() + STREAM_CREATION;
    loop {
        let complete = error.is_some()
            && (!opts.stdin || stdin.is_some())
            && (!opts.stdout || stdout.is_some())
            && (!opts.stderr || stderr.is_some())
            && (!opts.tty || resize.is_some());
        if complete {
            break;
        }
        let stream = match tokio::time::timeout_at(deadline, conn.accept()).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return None,
            Err(_) => {
                tracing::debug!("exec: timed out waiting for the client's streams");
                return None;
            }
        };
        let slot = match stream.header("streamtype") {
            Some("error") => &mut error,
            Some("stdin") => &mut stdin,
            Some("stdout") => &mut stdout,
            Some("stderr") => &mut stderr,
            Some("resize") => &mut resize,
            other => {
                tracing::debug!(?other, "exec: unexpected stream type");
                conn.refuse(stream).await;
                continue;
            }
        };
        *slot = Some(stream);
    }
    Some(Streams {
        error: error.expect("complete"),
        stdin,
        stdout: stdout.map(|s| s.writer()),
        stderr: stderr.map(|s| s.writer()),
        resize,
    })
}

/// Serves one exec session on the upgraded connection.
pub async fn serve(upgrade: OnUpgrade, opts: ExecOptions, command: std::process::Command) {
    let upgraded = match upgrade.await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(error = %e, "exec: the upgrade did not complete");
            return;
        }
    };
    let mut conn = Connection::start(TokioIo::new(upgraded));
    let Some(mut streams) = collect(&mut conn, &opts).await else {
        conn.finish().await;
        return;
    };
    let status = run(&conn, &mut streams, &opts, command).await;
    if let Some(status) = status {
        let errors = streams.error.writer();
        errors.write(Bytes::from(status)).await;
        errors.close().await;
    }
    conn.finish().await;
}

/// Copies what the client sends on `stream` into `sink`, then closes it.
pub async fn pump_stdin(
    mut stream: Stream,
    mut sink: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
) {
    while let Some(chunk) = stream.read().await {
        if sink.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = sink.shutdown().await;
}

/// Applies the client's terminal sizes (a stream of JSON objects).
pub async fn pump_resize(stream: Stream, terminal: Option<PtyMaster>) {
    read_sizes(stream, move |size| {
        if let Some(t) = &terminal {
            let _ = t.resize(size.width, size.height);
        }
    })
    .await;
}

/// Calls `apply` with each terminal size the client sends.
async fn read_sizes(mut stream: Stream, apply: impl Fn(TerminalSize)) {
    let mut pending = BytesMut::new();
    while let Some(chunk) = stream.read().await {
        pending.extend_from_slice(&chunk);
        let mut sizes = serde_json::Deserializer::from_slice(&pending).into_iter::<TerminalSize>();
        let mut used = 0;
        loop {
            match sizes.next() {
                Some(Ok(size)) => {
                    used = sizes.byte_offset();
                    apply(size);
                }
                Some(Err(e)) if e.is_eof() => break,
                // Not a size: drop what was received.
                Some(Err(_)) => {
                    used = pending.len();
                    break;
                }
                None => {
                    used = pending.len();
                    break;
                }
            }
        }
        let _ = pending.split_to(used);
        if pending.len() > 64 * 1024 {
            pending.clear();
        }
    }
}

/// Copies an output into a stream, then half-closes it.
pub async fn pump_output(mut reader: Box<dyn AsyncRead + Send + Unpin>, writer: Writer) {
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        buf.reserve(CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {
                if !writer.write(buf.split().freeze()).await {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: the terminal's last user closed it.
            Err(_) => break,
        }
    }
    writer.close().await;
}

/// Runs the command; the final status to send, or `None` when the
/// client went away first.
async fn run(
    conn: &Connection,
    streams: &mut Streams,
    opts: &ExecOptions,
    command: std::process::Command,
) -> Option<Vec<u8>> {
    let mut process = match spawn(command, opts) {
        Ok(p) => p,
        Err(e) => {
            return Some(channel::internal_error(&format!(
                "error executing command in container: failed to start {:?}: {e}",
                opts.command[0]
            )));
        }
    };
    let pid = process.child.id();
    let mut outputs = Vec::new();
    for (number, reader) in process.outputs.drain(..) {
        let writer = if number == channel::STDERR {
            streams.stderr.clone()
        } else {
            streams.stdout.clone()
        };
        if let Some(writer) = writer {
            outputs.push(tokio::spawn(pump_output(reader, writer)));
        }
    }
    let mut helpers = Vec::new();
    if let (Some(stream), Some(sink)) = (streams.stdin.take(), process.stdin.take()) {
        helpers.push(tokio::spawn(pump_stdin(stream, sink)));
    }
    if let Some(stream) = streams.resize.take() {
        helpers.push(tokio::spawn(pump_resize(stream, process.terminal.clone())));
    }
    let mut child = process.child;
    let exited = tokio::select! {
        status = child.wait() => status.ok(),
        () = conn.closed() => None,
    };
    for h in &helpers {
        h.abort();
    }
    let Some(status) = exited else {
        // The client is gone: so is the command.
        kill_group(pid);
        let _ = child.wait().await;
        for o in &outputs {
            o.abort();
        }
        return None;
    };
    // Output still buffered is sent; a background child holding it open
    // does not keep the session.
    let all = futures::future::join_all(outputs.iter_mut());
    if tokio::time::timeout(OUTPUT_GRACE, all).await.is_err() {
        for o in &outputs {
            o.abort();
        }
        for w in [&streams.stdout, &streams.stderr].into_iter().flatten() {
            w.close().await;
        }
    }
    let code = super::exec::exit_code(status);
    Some(if code == 0 {
        channel::success()
    } else {
        channel::exit_code(code)
    })
}

/// Serves `kubectl attach` on the upgraded connection: the container's
/// output from now on, the client's input to it, terminal sizes to its
/// terminal; it ends when the container's output does (Success), or
/// when the client leaves (the container goes on).
pub async fn serve_attach(upgrade: OnUpgrade, opts: ExecOptions, console: Console) {
    let upgraded = match upgrade.await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(error = %e, "attach: the upgrade did not complete");
            return;
        }
    };
    let mut conn = Connection::start(TokioIo::new(upgraded));
    let Some(mut streams) = collect(&mut conn, &opts).await else {
        conn.finish().await;
        return;
    };
    let mut output = console.subscribe();
    let mut helpers = Vec::new();
    if let Some(mut stream) = streams.stdin.take() {
        let console = console.clone();
        helpers.push(tokio::spawn(async move {
            while let Some(chunk) = stream.read().await {
                if !console.write_stdin(&chunk).await {
                    break;
                }
            }
            console.client_input_ended().await;
        }));
    }
    if let Some(stream) = streams.resize.take() {
        let console = console.clone();
        helpers.push(tokio::spawn(async move {
            read_sizes(stream, |size| console.resize(size.width, size.height)).await;
        }));
    }
    let ended = console.ended();
    let closed = conn.closed();
    tokio::pin!(ended, closed);
    let target = |stream: u8| {
        if stream == crate::console::STDERR && !console.tty() {
            streams.stderr.as_ref()
        } else {
            streams.stdout.as_ref()
        }
    };
    let mut client_gone = false;
    loop {
        tokio::select! {
            message = output.recv() => match message {
                Ok((stream, data)) => {
                    if let Some(w) = target(stream)
                        && !w.write(data).await
                    {
                        client_gone = true;
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            () = &mut ended => {
                while let Ok((stream, data)) = output.try_recv() {
                    if let Some(w) = target(stream) {
                        w.write(data).await;
                    }
                }
                break;
            }
            () = &mut closed => {
                client_gone = true;
                break;
            }
        }
    }
    for h in &helpers {
        h.abort();
    }
    if !client_gone {
        for w in [&streams.stdout, &streams.stderr].into_iter().flatten() {
            w.close().await;
        }
        let errors = streams.error.writer();
        errors.write(Bytes::from(channel::success())).await;
        errors.close().await;
    }
    conn.finish().await;
}
