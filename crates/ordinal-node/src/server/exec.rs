//! `/exec/{namespace}/{pod}/{container}`: runs a command in a container
//! and carries its stdio over a WebSocket (see [`super::channel`]).
//!
//! Before the upgrade, everything that can be refused is refused with the
//! kubelet's plain-text errors (kubectl shows them as `error: unable to
//! upgrade connection: ...`). After it: the command starts (in a process
//! group of its own, or a new session on a pseudo-terminal with `tty`),
//! stdin frames feed it, its output becomes frames, resize messages set
//! the terminal size, and when it exits the node sends the `Status` with
//! its exit code and closes the connection. If the client goes away
//! first, the command's process group is killed.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::channel::{self, Inbound, Protocol};
use super::pty::{self, PtyMaster};

/// How long output may go on after the command exited (a background child
/// holding stdout open) before the node ends the session anyway.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How many output frames may wait for the connection.
const OUTBOX: usize = 32;

/// The streams and command of one exec request, from the kubelet's query
/// (`input`, `output`, `error`, `tty` = `1`, repeated `command`). The API
/// server's names (`stdin`, `stdout`, `stderr`, `true`) are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecOptions {
    /// The streams of an attach request (no command).
    pub fn attach_from_query(query: Option<&str>) -> Result<ExecOptions, String> {
        let mut opts = ExecOptions::from_query_unchecked(query);
        if opts.tty {
            opts.stderr = false;
        }
        if !opts.stdin && !opts.stdout && !opts.stderr {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        Ok(opts)
    }

    fn from_query_unchecked(query: Option<&str>) -> ExecOptions {
        let mut opts = ExecOptions::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let on = value == "1" || value.eq_ignore_ascii_case("true");
            match &*key {
                "command" => opts.command.push(value.into_owned()),
                "input" | "stdin" => opts.stdin |= on,
                "output" | "stdout" => opts.stdout |= on,
                "error" | "stderr" => opts.stderr |= on,
                "tty" => opts.tty |= on,
                _ => {}
            }
        }
        opts
    }

    pub fn from_query(query: Option<&str>) -> Result<ExecOptions, String> {
        let mut opts = ExecOptions::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let on = value == "1" || value.eq_ignore_ascii_case("true");
            match &*key {
                "command" => opts.command.push(value.into_owned()),
                "input" | "stdin" => opts.stdin |= on,
                "output" | "stdout" => opts.stdout |= on,
                "error" | "stderr" => opts.stderr |= on,
                "tty" => opts.tty |= on,
                _ => {}
            }
        }
        // With a terminal, stderr is the terminal too.
        if opts.tty {
            opts.stderr = false;
        }
        if !opts.stdin && !opts.stdout && !opts.stderr {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        if opts.command.is_empty() {
            return Err("you must specify at least one command for the container".into());
        }
        Ok(opts)
    }
}

/// Why a request cannot be upgraded to an exec session.
#[derive(Debug)]
pub struct Refusal(pub StatusCode, pub String);

/// How an exec or attach session's streams travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket with this channel protocol.
    WebSocket(Protocol),
    /// SPDY/3.1 streams (`v4.channel.k8s.io`).
    Spdy,
}

/// Checks the WebSocket or SPDY handshake of `headers` and picks the
/// protocol; returns the `101 Switching Protocols` headers to answer with.
pub fn handshake(headers: &HeaderMap) -> Result<(Transport, HeaderMap), Refusal> {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if super::portforward::is_spdy(headers) {
        let reply = super::portforward::spdy_handshake(headers, super::exec_spdy::PROTOCOLS)?;
        return Ok((Transport::Spdy, reply));
    }
    if !upgrade.eq_ignore_ascii_case("websocket") || !connection_upgrade {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "Upgrade request required".into(),
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "unsupported WebSocket version (13 required)".into(),
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "missing Sec-WebSocket-Key".into(),
        ));
    };
    let protocol = channel::negotiate(headers).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e))?;
    let mut reply = HeaderMap::new();
    reply.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    reply.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    reply.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .expect("base64 is a header value"),
    );
    reply.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol.name()),
    );
    Ok((Transport::WebSocket(protocol), reply))
}

/// Runs the session on the upgraded connection.
pub async fn serve(
    upgrade: OnUpgrade,
    protocol: Protocol,
    opts: ExecOptions,
    command: std::process::Command,
) {
    let upgraded = match upgrade.await {
        Ok(u) => u,
        Err(e) => {
            tracing::debug!(error = %e, "exec: the upgrade did not complete");
            return;
        }
    };
    let config = WebSocketConfig::default();
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    if let Err(e) = run(ws, protocol, opts, command).await {
        tracing::debug!(error = %e, "exec session ended with an error");
    }
}

/// The command's ends that the session talks to.
pub(super) struct Process {
    pub(super) child: tokio::process::Child,
    pub(super) stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub(super) outputs: Vec<(u8, Box<dyn AsyncRead + Send + Unpin>)>,
    pub(super) terminal: Option<PtyMaster>,
}

pub(super) fn spawn(mut command: std::process::Command, opts: &ExecOptions) -> io::Result<Process> {
    use std::os::unix::process::CommandExt;
    if opts.tty {
        let (master, terminal) = pty::open()?;
        pty::attach(&mut command, &terminal)?;
        let child = tokio::process::Command::from(command).spawn()?;
        drop(terminal);
        let stdin: Option<Box<dyn AsyncWrite + Send + Unpin>> = if opts.stdin {
            Some(Box::new(master.clone()))
        } else {
            None
        };
        let outputs: Vec<(u8, Box<dyn AsyncRead + Send + Unpin>)> = if opts.stdout {
            vec![(channel::STDOUT, Box::new(master.clone()))]
        } else {
            Vec::new()
        };
        return Ok(Process {
            child,
            stdin,
            outputs,
            terminal: Some(master),
        });
    }
    let piped = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
    command
        .stdin(piped(opts.stdin))
        .stdout(piped(opts.stdout))
        .stderr(piped(opts.stderr))
        .process_group(0);
    let mut child = tokio::process::Command::from(command).spawn()?;
    let stdin = child
        .stdin
        .take()
        .map(|s| Box::new(s) as Box<dyn AsyncWrite + Send + Unpin>);
    let mut outputs: Vec<(u8, Box<dyn AsyncRead + Send + Unpin>)> = Vec::new();
    if let Some(out) = child.stdout.take() {
        outputs.push((channel::STDOUT, Box::new(out)));
    }
    if let Some(err) = child.stderr.take() {
        outputs.push((channel::STDERR, Box::new(err)));
    }
    Ok(Process {
        child,
        stdin,
        outputs,
        terminal: None,
    })
}

/// The exit code kubectl should exit with: the code, or 128 + the signal
/// that killed the command, as shells and container runtimes report it.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

pub(super) fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: signals a process group the session created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

async fn run<S>(
    ws: WebSocketStream<S>,
    protocol: Protocol,
    opts: ExecOptions,
    command: std::process::Command,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut inbound) = ws.split();
    // Tell the client the streams are ready: an empty message on the
    // lowest channel it reads (upstream does the same).
    let first = if opts.stdout {
        channel::STDOUT
    } else if opts.stderr {
        channel::STDERR
    } else {
        channel::ERROR
    };
    sink.send(Message::binary(vec![first])).await?;

    let mut process = match spawn(command, &opts) {
        Ok(p) => p,
        Err(e) => {
            let status = channel::internal_error(&format!(
                "error executing command in container: failed to start {:?}: {e}",
                opts.command[0]
            ));
            sink.send(Message::binary(channel::frame(channel::ERROR, &status)))
                .await?;
            return close(sink, inbound).await;
        }
    };
    let pid = process.child.id();

    // Output: one task per stream, frames through one outbox.
    let (out_tx, mut outbox) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let mut tasks = Vec::new();
    for (number, mut reader) in process.outputs.drain(..) {
        let out_tx = out_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match reader.read(&mut buf[1..]).await {
                    Ok(0) => break,
                    Ok(n) => {
                        buf[0] = number;
                        if out_tx.send(buf[..=n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // EIO: the terminal's last user closed it.
                    Err(_) => break,
                }
            }
        }));
    }
    drop(out_tx);
    // Readers still held open by a background child end with the session.
    let _abort = AbortOnDrop(tasks);

    // Stdin: one task writes what the client sends, in order.
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(16);
    let mut stdin_tx = Some(stdin_tx);
    if let Some(mut stdin) = process.stdin.take() {
        tokio::spawn(async move {
            while let Some(data) = stdin_rx.recv().await {
                if stdin.write_all(&data).await.is_err() {
                    break;
                }
            }
            let _ = stdin.shutdown().await;
        });
    } else {
        stdin_tx = None;
    }
    let terminal = process.terminal.take();
    let mut child = process.child;

    let mut exited: Option<ExitStatus> = None;
    let mut outputs_done = false;
    let mut grace = Box::pin(tokio::time::sleep(Duration::from_secs(365 * 86_400)));
    loop {
        if exited.is_some() && outputs_done {
            break;
        }
        tokio::select! {
            status = child.wait(), if exited.is_none() => {
                let status = status.map_err(tokio_tungstenite::tungstenite::Error::Io)?;
                exited = Some(status);
                grace.as_mut().reset(tokio::time::Instant::now() + OUTPUT_GRACE);
            }
            frame = outbox.recv(), if !outputs_done => match frame {
                Some(frame) => {
                    if let Err(e) = sink.send(Message::binary(frame)).await {
                        kill_group(pid);
                        return Err(e);
                    }
                }
                None => outputs_done = true,
            },
            () = &mut grace, if exited.is_some() => outputs_done = true,
            message = inbound.next() => match message {
                // The channel byte leads either kind of frame: the Python
                // clients send stdin as text frames, and upstream reads
                // both.
                Some(Ok(message @ (Message::Binary(_) | Message::Text(_)))) => {
                    let data = message.into_data();
                    match channel::decode(protocol, &data) {
                    Inbound::Stdin(bytes) => {
                        if let Some(tx) = &stdin_tx {
                            let _ = tx.send(Bytes::copy_from_slice(bytes)).await;
                        }
                    }
                    Inbound::CloseStdin => stdin_tx = None,
                    Inbound::Resize(size) => {
                        if let Some(terminal) = &terminal {
                            let _ = terminal.resize(size.width, size.height);
                        }
                    }
                    Inbound::Ignored => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    // The client is gone: so is the command.
                    if exited.is_none() {
                        kill_group(pid);
                        let _ = child.wait().await;
                    }
                    return Ok(());
                }
                Some(Ok(_)) => {}
            },
        }
    }
    let code = exit_code(exited.expect("the loop ends after the exit"));
    let status = if code == 0 {
        channel::success()
    } else {
        channel::exit_code(code)
    };
    sink.send(Message::binary(channel::frame(channel::ERROR, &status)))
        .await?;
    close(sink, inbound).await
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Sends a normal close and waits (briefly) for the client's.
async fn close<K, I>(
    mut sink: K,
    mut inbound: I,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    K: futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    I: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    sink.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    })))
    .await?;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(message)) = inbound.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_the_kubelet() {
        let opts = ExecOptions::from_query(Some(
            "command=sh&command=-c&command=echo+hi&output=1&error=1",
        ))
        .unwrap();
        assert_eq!(opts.command, vec!["sh", "-c", "echo hi"]);
        assert!(opts.stdout && opts.stderr && !opts.stdin && !opts.tty);
        let tty =
            ExecOptions::from_query(Some("command=sh&input=1&output=1&error=1&tty=1")).unwrap();
        assert!(
            tty.tty && tty.stdin && !tty.stderr,
            "a terminal has no separate stderr"
        );
        let api_names = ExecOptions::from_query(Some("command=true&stdout=true")).unwrap();
        assert!(api_names.stdout);
        assert_eq!(
            ExecOptions::from_query(Some("command=true")).unwrap_err(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
        assert!(ExecOptions::from_query(Some("output=1")).is_err());
    }

    #[test]
    fn handshakes() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io"),
        );
        let (protocol, reply) = handshake(&headers).unwrap();
        assert_eq!(protocol, Transport::WebSocket(Protocol::V5));
        // RFC 6455's example key and accept value.
        assert_eq!(
            reply[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(reply[header::SEC_WEBSOCKET_PROTOCOL], "v5.channel.k8s.io");

        // kubectl 1.29 and older: SPDY, the newest channel protocol first.
        let mut spdy = HeaderMap::new();
        spdy.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        spdy.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        for v in [
            "v4.channel.k8s.io",
            "v3.channel.k8s.io",
            "v2.channel.k8s.io",
            "channel.k8s.io",
        ] {
            spdy.append("x-stream-protocol-version", HeaderValue::from_static(v));
        }
        let (transport, reply) = handshake(&spdy).unwrap();
        assert_eq!(transport, Transport::Spdy);
        assert_eq!(reply["x-stream-protocol-version"], "v4.channel.k8s.io");
        spdy.remove("x-stream-protocol-version");
        spdy.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("v2.channel.k8s.io"),
        );
        let Refusal(code, text) = handshake(&spdy).unwrap_err();
        assert_eq!(code, StatusCode::FORBIDDEN);
        assert!(text.contains("unable to negotiate protocol"), "{text}");
        let Refusal(_, text) = handshake(&HeaderMap::new()).unwrap_err();
        assert_eq!(text, "Upgrade request required");
    }

    #[test]
    fn exit_codes_of_signals_are_128_plus() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }
}
