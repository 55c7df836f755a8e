//! SPDY/3.1 framing, as Kubernetes' streaming clients speak it: `kubectl
//! exec`, `attach` and `cp` before WebSockets (kubectl 1.29 and older, and
//! the fallback of newer ones), and `kubectl port-forward` always (plain,
//! or tunnelled inside a WebSocket since 1.31).
//!
//! This is the codec only, without I/O: [`Decoder`] takes frames off the
//! front of a buffer of received bytes, [`Encoder`] appends frames to a
//! buffer to send. Header blocks are compressed with zlib, one stream per
//! direction for the life of the connection, primed with SPDY/3's
//! dictionary; so a connection needs one `Decoder` and one `Encoder`, used
//! in order.
//!
//! Flow control (`WINDOW_UPDATE`, the initial window in `SETTINGS`) is
//! framed but not enforced here: Go's spdystream, the only peer that
//! matters, neither sends window updates nor honours them.
//!
//! ```
//! use bytes::BytesMut;
//! use ordinal_core::spdy::{Decoder, Encoder, Frame};
//!
//! let mut encoder = Encoder::new();
//! let mut wire = BytesMut::new();
//! let syn = Frame::SynStream {
//!     stream: 1,
//!     associated: 0,
//!     priority: 0,
//!     fin: false,
//!     unidirectional: false,
//!     headers: vec![("streamtype".into(), "data".into()), ("port".into(), "80".into())],
//! };
//! encoder.encode(&syn, &mut wire);
//! encoder.encode(&Frame::Data { stream: 1, fin: true, data: "hi".into() }, &mut wire);
//!
//! let mut decoder = Decoder::new();
//! assert_eq!(decoder.decode(&mut wire).unwrap(), Some(syn));
//! assert!(matches!(decoder.decode(&mut wire).unwrap(), Some(Frame::Data { fin: true, .. })));
//! assert_eq!(decoder.decode(&mut wire).unwrap(), None);
//! ```

mod dictionary;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

pub use dictionary::DICTIONARY;

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// The largest payload of one frame (24 bits of length).
pub const MAX_FRAME_PAYLOAD: usize = (1 << 24) - 1;
/// The size of a frame's fixed header (data and control alike).
pub const FRAME_HEADER: usize = 8;
/// How large a decompressed header block may grow before the frame is
/// refused (a small compressed block can expand enormously).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// `RST_STREAM` and `GOAWAY` status codes used by the node.
pub mod status {
    /// `RST_STREAM`: the frame broke the protocol.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// `RST_STREAM`: the stream is refused (unknown type, too many).
    pub const REFUSED_STREAM: u32 = 3;
    /// `RST_STREAM`: the stream is cancelled.
    pub const CANCEL: u32 = 5;
    /// `RST_STREAM`: the stream's work failed.
    pub const INTERNAL_ERROR: u32 = 6;
    /// `GOAWAY`: a normal end.
    pub const GOAWAY_OK: u32 = 0;
}

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
const FLAG_SETTINGS_CLEAR: u8 = 0x01;
const STREAM_MASK: u32 = 0x7fff_ffff;

/// A header block: lower-case names, one pair per value, in order.
pub type Headers = Vec<(String, String)>;

/// One `SETTINGS` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// `FLAG_SETTINGS_PERSIST_VALUE` (1) or `FLAG_SETTINGS_PERSISTED` (2).
    pub flags: u8,
    /// The setting's id (24 bits), e.g. 7 for the initial window size.
    pub id: u32,
    /// Its value.
    pub value: u32,
}

/// A SPDY/3 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes of a stream; `fin` half-closes it.
    Data {
        /// The stream (31 bits, never 0).
        stream: u32,
        /// The sender sends nothing more on the stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// A new stream, opened by its sender.
    SynStream {
        /// Its id: odd when a client opens it, even when a server does.
        stream: u32,
        /// The stream it belongs to (server push), or 0.
        associated: u32,
        /// 0 (highest) to 7.
        priority: u8,
        /// The opener sends nothing more.
        fin: bool,
        /// The receiver may send nothing on it.
        unidirectional: bool,
        /// The stream's headers (Kubernetes: `streamtype`, `port`, …).
        headers: Headers,
    },
    /// The receiver's acceptance of a stream.
    SynReply {
        /// The stream accepted.
        stream: u32,
        /// The replier sends nothing more on it.
        fin: bool,
        /// Reply headers.
        headers: Headers,
    },
    /// Ends a stream abnormally.
    RstStream {
        /// The stream.
        stream: u32,
        /// Why (see [`status`]).
        status: u32,
    },
    /// Connection settings.
    Settings {
        /// `FLAG_SETTINGS_CLEAR_SETTINGS`.
        clear: bool,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// A liveness check; the receiver echoes pings the other side began.
    Ping {
        /// Odd from clients, even from servers.
        id: u32,
    },
    /// The sender accepts no new streams.
    GoAway {
        /// The last stream the sender handled.
        last_good: u32,
        /// Why (0: normally).
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// The stream.
        stream: u32,
        /// The sender sends nothing more on it.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// More room in a flow-control window (stream 0: the connection's).
    WindowUpdate {
        /// The stream, or 0.
        stream: u32,
        /// The window's increase (31 bits).
        delta: u32,
    },
}

/// Why received bytes are not SPDY/3: the connection cannot go on (the
/// header compression state is shared by every frame that follows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A control frame of another version.
    Version(u16),
    /// A frame whose fields contradict its length or the protocol.
    Malformed(&'static str),
    /// A header block that does not decompress, or grows too large.
    Compression(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Version(v) => write!(f, "unsupported SPDY version {v}"),
            Error::Malformed(why) => write!(f, "malformed SPDY frame: {why}"),
            Error::Compression(why) => write!(f, "SPDY header block: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Reads frames off received bytes, decompressing header blocks.
pub struct Decoder {
    inflate: Decompress,
    /// Set once the zlib stream asked for (and got) the dictionary.
    primed: bool,
    block: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder for a new connection.
    pub fn new() -> Decoder {
        Decoder {
            inflate: Decompress::new(true),
            primed: false,
            block: Vec::new(),
        }
    }

    /// Takes the next whole frame off the front of `buf`; `Ok(None)` when
    /// `buf` holds only part of one (read more and call again). Frames of
    /// unknown control types are skipped, as SPDY/3 asks. A data frame's
    /// payload shares `buf`'s memory.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            if buf.len() < FRAME_HEADER {
                return Ok(None);
            }
            let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let flags = buf[4];
            let length = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
            if buf.len() < FRAME_HEADER + length {
                buf.reserve(FRAME_HEADER + length - buf.len());
                return Ok(None);
            }
            buf.advance(FRAME_HEADER);
            let payload = buf.split_to(length);
            if first & 0x8000_0000 == 0 {
                let stream = first & STREAM_MASK;
                if stream == 0 {
                    return Err(Error::Malformed("data frame on stream 0"));
                }
                return Ok(Some(Frame::Data {
                    stream,
                    fin: flags & FLAG_FIN != 0,
                    data: payload.freeze(),
                }));
            }
            let version = ((first >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(Error::Version(version));
            }
            let kind = (first & 0xffff) as u16;
            if let Some(frame) = self.control(kind, flags, &payload)? {
                return Ok(Some(frame));
            }
        }
    }

    fn control(&mut self, kind: u16, flags: u8, mut p: &[u8]) -> Result<Option<Frame>, Error> {
        let fin = flags & FLAG_FIN != 0;
        let frame = match kind {
            TYPE_SYN_STREAM => {
                if p.len() < 10 {
                    return Err(Error::Malformed("SYN_STREAM shorter than 10 bytes"));
                }
                let stream = p.get_u32() & STREAM_MASK;
                let associated = p.get_u32() & STREAM_MASK;
                let priority = p.get_u8() >> 5;
                let _slot = p.get_u8();
                let headers = self.headers(p)?;
                nonzero(stream, "SYN_STREAM on stream 0")?;
                Frame::SynStream {
                    stream,
                    associated,
                    priority,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                if p.len() < 4 {
                    return Err(Error::Malformed(
                        "SYN_REPLY or HEADERS shorter than 4 bytes",
                    ));
                }
                let stream = p.get_u32() & STREAM_MASK;
                let headers = self.headers(p)?;
                nonzero(stream, "SYN_REPLY or HEADERS on stream 0")?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream,
                        fin,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                exact(p, 8, "RST_STREAM is not 8 bytes")?;
                let stream = p.get_u32() & STREAM_MASK;
                nonzero(stream, "RST_STREAM on stream 0")?;
                Frame::RstStream {
                    stream,
                    status: p.get_u32(),
                }
            }
            TYPE_SETTINGS => {
                if p.len() < 4 {
                    return Err(Error::Malformed("SETTINGS shorter than 4 bytes"));
                }
                let count = p.get_u32() as usize;
                if count.checked_mul(8) != Some(p.len()) {
                    return Err(Error::Malformed("SETTINGS count does not match its length"));
                }
                let entries = (0..count)
                    .map(|_| {
                        let word = p.get_u32();
                        Setting {
                            flags: (word >> 24) as u8,
                            id: word & 0x00ff_ffff,
                            value: p.get_u32(),
                        }
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & FLAG_SETTINGS_CLEAR != 0,
                    entries,
                }
            }
            TYPE_PING => {
                exact(p, 4, "PING is not 4 bytes")?;
                Frame::Ping { id: p.get_u32() }
            }
            TYPE_GOAWAY => {
                exact(p, 8, "GOAWAY is not 8 bytes")?;
                Frame::GoAway {
                    last_good: p.get_u32() & STREAM_MASK,
                    status: p.get_u32(),
                }
            }
            TYPE_WINDOW_UPDATE => {
                exact(p, 8, "WINDOW_UPDATE is not 8 bytes")?;
                Frame::WindowUpdate {
                    stream: p.get_u32() & STREAM_MASK,
                    delta: p.get_u32() & STREAM_MASK,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(frame))
    }

    /// Decompresses and parses one header block (the whole rest of the
    /// frame).
    fn headers(&mut self, compressed: &[u8]) -> Result<Headers, Error> {
        self.block.clear();
        let mut input = compressed;
        loop {
            if self.block.capacity() - self.block.len() < 4096 {
                if self.block.len() >= MAX_HEADER_BLOCK {
                    return Err(Error::Compression("the header block is too large".into()));
                }
                self.block.reserve(8192);
            }
            let before_in = self.inflate.total_in();
            let before_out = self.block.len();
            let result = self
                .inflate
                .decompress_vec(input, &mut self.block, FlushDecompress::Sync);
            let used = (self.inflate.total_in() - before_in) as usize;
            input = &input[used..];
            match result {
                Ok(Status::StreamEnd) => {
                    return Err(Error::Compression("the zlib stream ended".into()));
                }
                Ok(_) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(_) if !self.primed => {
                        self.primed = true;
                        self.inflate
                            .set_dictionary(DICTIONARY)
                            .map_err(|e| Error::Compression(e.to_string()))?;
                        continue;
                    }
                    _ => return Err(Error::Compression(e.to_string())),
                },
            }
            let produced = self.block.len() - before_out;
            let room_left = self.block.len() < self.block.capacity();
            if input.is_empty() && room_left {
                break;
            }
            if used == 0 && produced == 0 && room_left {
                return Err(Error::Compression("the header block is truncated".into()));
            }
        }
        if self.block.len() > MAX_HEADER_BLOCK {
            return Err(Error::Compression("the header block is too large".into()));
        }
        parse_block(&self.block)
    }
}

fn nonzero(stream: u32, why: &'static str) -> Result<(), Error> {
    if stream == 0 {
        Err(Error::Malformed(why))
    } else {
        Ok(())
    }
}

fn exact(p: &[u8], len: usize, why: &'static str) -> Result<(), Error> {
    if p.len() == len {
        Ok(())
    } else {
        Err(Error::Malformed(why))
    }
}

fn parse_block(mut block: &[u8]) -> Result<Headers, Error> {
    let short = Error::Malformed("header block shorter than it says");
    if block.len() < 4 {
        return Err(short);
    }
    let count = block.get_u32() as usize;
    // Each pair takes at least 8 bytes: a count beyond that is a lie.
    if count > block.len() / 8 {
        return Err(short);
    }
    let mut headers = Vec::with_capacity(count);
    let field = |block: &mut &[u8]| -> Result<String, Error> {
        if block.len() < 4 {
            return Err(Error::Malformed("header block shorter than it says"));
        }
        let len = block.get_u32() as usize;
        if block.len() < len {
            return Err(Error::Malformed("header block shorter than it says"));
        }
        let text = String::from_utf8_lossy(&block[..len]).into_owned();
        block.advance(len);
        Ok(text)
    };
    for _ in 0..count {
        let name = field(&mut block)?.to_ascii_lowercase();
        if name.is_empty() {
            return Err(Error::Malformed("empty header name"));
        }
        let value = field(&mut block)?;
        for part in value.split('\0') {
            headers.push((name.clone(), part.to_string()));
        }
    }
    Ok(headers)
}

/// Writes frames, compressing header blocks.
pub struct Encoder {
    deflate: Compress,
    block: Vec<u8>,
    compressed: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder for a new connection.
    pub fn new() -> Encoder {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(DICTIONARY)
            .expect("a fresh zlib stream takes a dictionary");
        Encoder {
            deflate,
            block: Vec::new(),
            compressed: Vec::new(),
        }
    }

    /// Appends `frame` to `out`. A data frame's payload must fit one frame
    /// ([`MAX_FRAME_PAYLOAD`]); larger payloads are cut into several.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) {
        match frame {
            Frame::Data { stream, fin, data } => {
                let mut chunks = data.chunks(MAX_FRAME_PAYLOAD).peekable();
                if chunks.peek().is_none() {
                    data_header(*stream, *fin, 0, out);
                }
                while let Some(chunk) = chunks.next() {
                    let last = chunks.peek().is_none();
                    data_header(*stream, *fin && last, chunk.len(), out);
                    out.extend_from_slice(chunk);
                }
            }
            Frame::SynStream {
                stream,
                associated,
                priority,
                fin,
                unidirectional,
                headers,
            } => {
                self.compress(headers);
                let flags = flag(*fin, FLAG_FIN) | flag(*unidirectional, FLAG_UNIDIRECTIONAL);
                control_header(TYPE_SYN_STREAM, flags, 10 + self.compressed.len(), out);
                out.put_u32(stream & STREAM_MASK);
                out.put_u32(associated & STREAM_MASK);
                out.put_u8((priority & 7) << 5);
                out.put_u8(0);
                out.extend_from_slice(&self.compressed);
            }
            Frame::SynReply {
                stream,
                fin,
                headers,
            }
            | Frame::Headers {
                stream,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                self.compress(headers);
                control_header(kind, flag(*fin, FLAG_FIN), 4 + self.compressed.len(), out);
                out.put_u32(stream & STREAM_MASK);
                out.extend_from_slice(&self.compressed);
            }
            Frame::RstStream { stream, status } => {
                control_header(TYPE_RST_STREAM, 0, 8, out);
                out.put_u32(stream & STREAM_MASK);
                out.put_u32(*status);
            }
            Frame::Settings { clear, entries } => {
                control_header(
                    TYPE_SETTINGS,
                    flag(*clear, FLAG_SETTINGS_CLEAR),
                    4 + 8 * entries.len(),
                    out,
                );
                out.put_u32(entries.len() as u32);
                for e in entries {
                    out.put_u32(u32::from(e.flags) << 24 | (e.id & 0x00ff_ffff));
                    out.put_u32(e.value);
                }
            }
            Frame::Ping { id } => {
                control_header(TYPE_PING, 0, 4, out);
                out.put_u32(*id);
            }
            Frame::GoAway { last_good, status } => {
                control_header(TYPE_GOAWAY, 0, 8, out);
                out.put_u32(last_good & STREAM_MASK);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream, delta } => {
                control_header(TYPE_WINDOW_UPDATE, 0, 8, out);
                out.put_u32(stream & STREAM_MASK);
                out.put_u32(delta & STREAM_MASK);
            }
        }
    }

    /// Compresses `headers` (pairs with the same name join with NUL, as
    /// one entry) into `self.compressed`, ending on a sync flush so the
    /// peer can decompress the frame alone.
    fn compress(&mut self, headers: &Headers) {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in headers {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        self.block.clear();
        self.block.put_u32(names.len() as u32);
        for name in names {
            let lower = name.to_ascii_lowercase();
            self.block.put_u32(lower.len() as u32);
            self.block.extend_from_slice(lower.as_bytes());
            let values: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            let value = values.join("\0");
            self.block.put_u32(value.len() as u32);
            self.block.extend_from_slice(value.as_bytes());
        }
        self.compressed.clear();
        let mut input = &self.block[..];
        loop {
            self.compressed.reserve(input.len() + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut self.compressed, FlushCompress::Sync)
                .expect("compressing into memory cannot fail");
            let used = (self.deflate.total_in() - before) as usize;
            input = &input[used..];
            // A sync flush is complete when it had room to spare.
            if input.is_empty() && self.compressed.len() < self.compressed.capacity() {
                break;
            }
        }
    }
}

fn flag(on: bool, bit: u8) -> u8 {
    if on { bit } else { 0 }
}

fn control_header(kind: u16, flags: u8, length: usize, out: &mut BytesMut) {
    out.reserve(FRAME_HEADER + length);
    out.put_u32(0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind));
    out.put_u32(u32::from(flags) << 24 | (length as u32 & 0x00ff_ffff));
}

/// Appends the 8-byte header of a data frame of `len` bytes (at most
/// [`MAX_FRAME_PAYLOAD`]); the caller appends (or writes) the payload.
pub fn data_header(stream: u32, fin: bool, len: usize, out: &mut BytesMut) {
    debug_assert!(len <= MAX_FRAME_PAYLOAD);
    out.reserve(FRAME_HEADER + len);
    out.put_u32(stream & STREAM_MASK);
    out.put_u32(u32::from(flag(fin, FLAG_FIN)) << 24 | (len as u32 & 0x00ff_ffff));
}

/// The first value of header `name` (lower case).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests;
