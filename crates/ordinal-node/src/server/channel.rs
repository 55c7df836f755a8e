//! The Kubernetes remote-command WebSocket protocol (`v5.channel.k8s.io`,
//! and `v4.channel.k8s.io` for older clients such as kube-rs's fallback):
//! every binary message starts with a channel byte.
//!
//! | channel | direction | what |
//! |---|---|---|
//! | 0 | client → node | stdin |
//! | 1 | node → client | stdout (also the terminal with a TTY) |
//! | 2 | node → client | stderr |
//! | 3 | node → client | the final `Status`: Success, or Failure `NonZeroExitCode` with the exit code as a cause |
//! | 4 | client → node | terminal size, JSON `{"Width":80,"Height":24}` |
//! | 255 | client → node | v5 only: `[255, n]` closes channel n (`[255, 0]` is stdin EOF) |

use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5's stream close signal.
pub const CLOSE: u8 = 255;

/// A negotiated subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V5,
    V4,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V5 => "v5.channel.k8s.io",
            Protocol::V4 => "v4.channel.k8s.io",
        }
    }

    fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "v5.channel.k8s.io" => Some(Protocol::V5),
            "v4.channel.k8s.io" => Some(Protocol::V4),
            _ => None,
        }
    }
}

/// The first subprotocol the client offers (in its order, across all
/// `Sec-WebSocket-Protocol` headers and comma-separated values) that the
/// node speaks; the error text is the one upstream's handshake gives.
pub fn negotiate(headers: &HeaderMap) -> Result<Protocol, String> {
    let offered: Vec<String> = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    offered
        .iter()
        .find_map(|p| Protocol::from_name(p))
        .ok_or_else(|| {
            format!(
                "requested protocol(s) are not supported: {offered:?}; supports [\"{}\" \"{}\"]",
                Protocol::V5.name(),
                Protocol::V4.name()
            )
        })
}

/// A terminal size as kubectl sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// What one message from the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    Stdin(&'a [u8]),
    /// The client will send no more stdin.
    CloseStdin,
    Resize(TerminalSize),
    /// Anything else: empty messages, other channels, a resize that does
    /// not parse, a close of another channel.
    Ignored,
}

/// Reads one binary message of the client.
pub fn decode(protocol: Protocol, message: &[u8]) -> Inbound<'_> {
    match message {
        [STDIN, data @ ..] => Inbound::Stdin(data),
        [RESIZE, data @ ..] => serde_json::from_slice(data)
            .map(Inbound::Resize)
            .unwrap_or(Inbound::Ignored),
        [CLOSE, STDIN, ..] if protocol == Protocol::V5 => Inbound::CloseStdin,
        _ => Inbound::Ignored,
    }
}

/// One message on `channel`.
pub fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(channel);
    out.extend_from_slice(data);
    out
}

/// The `Status` that ends a successful command.
pub fn success() -> Vec<u8> {
    json!({"metadata": {}, "status": "Success"})
        .to_string()
        .into_bytes()
}

/// The `Status` of a command that exited with `code` (1–255): kubectl
/// exits with that code.
pub fn exit_code(code: i32) -> Vec<u8> {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command, exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
    .to_string()
    .into_bytes()
}

/// The `Status` of a command that could not run.
pub fn internal_error(message: &str) -> Vec<u8> {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn offered(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn negotiation_takes_the_clients_first_known_protocol() {
        assert_eq!(
            negotiate(&offered(&["v5.channel.k8s.io"])),
            Ok(Protocol::V5)
        );
        // kube-rs offers both in one header.
        assert_eq!(
            negotiate(&offered(&["v5.channel.k8s.io, v4.channel.k8s.io"])),
            Ok(Protocol::V5)
        );
        assert_eq!(
            negotiate(&offered(&["channel.k8s.io", "v4.channel.k8s.io"])),
            Ok(Protocol::V4)
        );
        let err = negotiate(&offered(&["base64.channel.k8s.io"])).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
        assert!(negotiate(&HeaderMap::new()).is_err());
    }

    #[test]
    fn client_messages() {
        assert_eq!(decode(Protocol::V5, b"\x00abc"), Inbound::Stdin(b"abc"));
        assert_eq!(decode(Protocol::V5, &[255, 0]), Inbound::CloseStdin);
        assert_eq!(decode(Protocol::V4, &[255, 0]), Inbound::Ignored);
        assert_eq!(decode(Protocol::V5, &[255, 1]), Inbound::Ignored);
        assert_eq!(
            decode(Protocol::V5, b"\x04{\"Width\":120,\"Height\":40}"),
            Inbound::Resize(TerminalSize {
                width: 120,
                height: 40
            })
        );
        assert_eq!(
            decode(Protocol::V5, b"\x04{\"Width\":-1}"),
            Inbound::Ignored
        );
        assert_eq!(decode(Protocol::V5, b""), Inbound::Ignored);
        assert_eq!(decode(Protocol::V5, b"\x07x"), Inbound::Ignored);
    }

    #[test]
    fn statuses_decode_as_client_go_reads_them() {
        let ok: serde_json::Value = serde_json::from_slice(&success()).unwrap();
        assert_eq!(ok["status"], "Success");
        let failed: serde_json::Value = serde_json::from_slice(&exit_code(3)).unwrap();
        assert_eq!(failed["status"], "Failure");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        let broken: serde_json::Value =
            serde_json::from_slice(&internal_error("no such file")).unwrap();
        assert_eq!(broken["reason"], "InternalError");
        assert_eq!(broken["message"], "Internal error occurred: no such file");
        assert_eq!(frame(ERROR, b"x"), vec![3, b'x']);
    }
}
