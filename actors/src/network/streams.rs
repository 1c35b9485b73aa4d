//! Session streams: long-lived libp2p streams that carry MPC session traffic, chunked.
//!
//! Owns: the `/enigma/mpc-stream/1` protocol (through `libp2p-stream`): opening a stream to a peer
//! under an opaque 16-byte route tag, handing each inbound stream up once with the peer's
//! authenticated id and its tag, and the framing on a stream. A stream runs one way (its opener
//! writes, the acceptor reads), so a session uses one stream per ordered pair of participants, for the
//! whole session. A message is a sequence of chunk frames — `u32` little-endian payload length, one
//! flag byte (`MORE` or `LAST`), the payload — so a message of any size up to
//! [`StreamLimits::max_message`] crosses without a frame the size of the message, and the receiver
//! grows its buffer with the bytes that actually arrived. Back-pressure is yamux's flow control: a
//! reader that stops reading stops the writer, and a write that makes no progress for
//! [`StreamLimits::stall`] fails with [`StreamError::Stalled`] instead of waiting for ever.
//!
//! Opening is confirmed: the acceptor answers the header with one byte, accepted or refused, once
//! the stream is bound to its session. `libp2p-stream` hands inbound streams over a channel with
//! room for one and drops a stream that arrives while it is full — which is what happens when every
//! participant opens its streams at once — so an opener whose stream ends unanswered opens it again
//! (jittered backoff from 1 ms, until the stall deadline). A refusal is final.
//!
//! Must never: interpret a message (the MPC engine decodes and validates every payload) or the tag
//! beyond using it as a routing key (the Sessions actor decides whether a tag names a session and
//! whether the peer takes part in it); allocate ahead of the bytes received.

use futures::prelude::*;
use libp2p::{PeerId, StreamProtocol};
use std::time::Duration;

/// The protocol of session streams.
pub const MPC_STREAM_PROTOCOL: StreamProtocol = StreamProtocol::new("/enigma/mpc-stream/1");
/// Version byte at the head of every stream (a stream of another version is refused).
pub const STREAM_VERSION: u8 = 1;
/// Length of the route tag after the version byte.
pub const TAG_LEN: usize = 16;
/// How long an accepted stream may take to send its header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

const MORE: u8 = 0;
const LAST: u8 = 1;
/// The acceptor's answer to a header.
const ACCEPTED: u8 = 1;
const REFUSED: u8 = 2;
/// How long an opener waits for the answer to its header before it tries again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Size limits and timings of session streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// Largest payload of one frame (a chunk), both ways.
    pub chunk: usize,
    /// Largest message a reader reassembles.
    pub max_message: usize,
    /// Longest a write may make no progress before the stream is given up.
    pub stall: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits { chunk: 1 << 20, max_message: 1 << 30, stall: Duration::from_secs(60) }
    }
}

/// Failures on a session stream.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StreamError {
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("message of more than {max} bytes refused")]
    MessageTooLarge { max: usize },
    #[error("stream truncated in the middle of a message")]
    Truncated,
    #[error("bad frame flag {0}")]
    BadFlag(u8),
    #[error("no progress writing for {0:?}: the peer stopped reading")]
    Stalled(Duration),
    #[error("stream i/o: {0}")]
    Io(String),
    #[error("cannot open a stream to {peer}: {why}")]
    Open { peer: String, why: String },
    #[error("bad stream header")]
    BadHeader,
}

fn io_err(e: std::io::Error) -> StreamError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => StreamError::Truncated,
        _ => StreamError::Io(e.to_string()),
    }
}

/// The writing end of a stream: sends whole messages as chunk frames.
pub struct FrameWriter<W> {
    io: W,
    limits: StreamLimits,
}

impl<W: AsyncWrite + Unpin + Send> FrameWriter<W> {
    pub fn new(io: W, limits: StreamLimits) -> FrameWriter<W> {
        FrameWriter { io, limits }
    }

    /// Writes one message (any length up to the limit) and flushes it.
    pub async fn send(&mut self, msg: &[u8]) -> Result<(), StreamError> {
        if msg.len() > self.limits.max_message {
            return Err(StreamError::MessageTooLarge { max: self.limits.max_message });
        }
        let chunk = self.limits.chunk.max(1);
        let mut parts = msg.chunks(chunk).peekable();
        if parts.peek().is_none() {
            return self.frame(&[], LAST).await;
        }
        while let Some(part) = parts.next() {
            let flag = if parts.peek().is_some() { MORE } else { LAST };
            self.frame(part, flag).await?;
        }
        Ok(())
    }

    async fn frame(&mut self, part: &[u8], flag: u8) -> Result<(), StreamError> {
        let stall = self.limits.stall;
        let mut head = [0u8; 5];
        head[..4].copy_from_slice(&(part.len() as u32).to_le_bytes());
        head[4] = flag;
        let io = &mut self.io;
        let write = async move {
            io.write_all(&head).await?;
            io.write_all(part).await?;
            if flag == LAST {
                io.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        match tokio::time::timeout(stall, write).await {
            Ok(r) => r.map_err(io_err),
            Err(_) => Err(StreamError::Stalled(stall)),
        }
    }

    /// Ends the stream (the reader sees a clean end after the last message).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(self.limits.stall, self.io.close()).await;
    }
}

/// The reading end of a stream: reassembles messages from chunk frames.
pub struct FrameReader<R> {
    io: R,
    limits: StreamLimits,
}

impl<R: AsyncRead + Unpin + Send> FrameReader<R> {
    pub fn new(io: R, limits: StreamLimits) -> FrameReader<R> {
        FrameReader { io, limits }
    }

    /// The next message; `None` when the writer closed the stream between messages.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let mut msg: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            let mut head = [0u8; 5];
            if first {
                // a clean end is allowed only here, before a message's first byte
                let n = read_some(&mut self.io, &mut head).await?;
                if n == 0 {
                    return Ok(None);
                }
                self.io.read_exact(&mut head[n..]).await.map_err(io_err)?;
            } else {
                self.io.read_exact(&mut head).await.map_err(io_err)?;
            }
            first = false;
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len > self.limits.chunk {
                return Err(StreamError::FrameTooLarge { len, max: self.limits.chunk });
            }
            if head[4] != MORE && head[4] != LAST {
                return Err(StreamError::BadFlag(head[4]));
            }
            if msg.len() + len > self.limits.max_message {
                return Err(StreamError::MessageTooLarge { max: self.limits.max_message });
            }
            let start = msg.len();
            msg.resize(start + len, 0);
            self.io.read_exact(&mut msg[start..]).await.map_err(io_err)?;
            if head[4] == LAST {
                return Ok(Some(msg));
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> FrameReader<S> {
    /// Tells the opener its stream is taken (it starts sending).
    pub async fn accept(&mut self) -> Result<(), StreamError> {
        let answer = async {
            self.io.write_all(&[ACCEPTED]).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.limits.stall, answer).await {
            Ok(r) => r.map_err(io_err),
            Err(_) => Err(StreamError::Stalled(self.limits.stall)),
        }
    }

    /// Tells the opener its stream is refused (it does not try again), and ends the stream.
    pub async fn refuse(mut self) {
        let answer = async {
            self.io.write_all(&[REFUSED]).await?;
            self.io.close().await
        };
        let _ = tokio::time::timeout(HEADER_TIMEOUT, answer).await;
    }
}

/// Reads at least one byte into `buf` unless the stream is at its end (then 0).
async fn read_some<R: AsyncRead + Unpin>(io: &mut R, buf: &mut [u8]) -> Result<usize, StreamError> {
    loop {
        match io.read(buf).await {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// Writes the header of a new stream: the version byte and the route tag.
pub async fn write_header<W: AsyncWrite + Unpin>(io: &mut W, tag: &[u8; TAG_LEN]) -> Result<(), StreamError> {
    let mut head = [0u8; 1 + TAG_LEN];
    head[0] = STREAM_VERSION;
    head[1..].copy_from_slice(tag);
    io.write_all(&head).await.map_err(io_err)
}

/// Reads the header of an accepted stream: its route tag.
pub async fn read_header<R: AsyncRead + Unpin>(io: &mut R) -> Result<[u8; TAG_LEN], StreamError> {
    let mut head = [0u8; 1 + TAG_LEN];
    match tokio::time::timeout(HEADER_TIMEOUT, io.read_exact(&mut head)).await {
        Ok(Ok(())) if head[0] == STREAM_VERSION => {
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(&head[1..]);
            Ok(tag)
        }
        _ => Err(StreamError::BadHeader),
    }
}

/// Opens session streams to peers (cheap to clone; one per user of streams).
#[derive(Clone)]
pub struct StreamHub {
    control: libp2p_stream::Control,
    limits: StreamLimits,
}

impl StreamHub {
    pub(super) fn new(control: libp2p_stream::Control, limits: StreamLimits) -> StreamHub {
        StreamHub { control, limits }
    }

    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// Opens a stream to `peer` for `tag` (dialling the peer if needed), ready to send messages once
    /// the peer accepted it; opens it again while it ends unanswered (module doc), until the stall
    /// deadline.
    pub async fn open(&self, peer: PeerId, tag: [u8; TAG_LEN]) -> Result<FrameWriter<libp2p::Stream>, StreamError> {
        let deadline = tokio::time::Instant::now() + self.limits.stall;
        let mut backoff = Duration::from_millis(1);
        let mut last = String::from("timed out");
        loop {
            match tokio::time::timeout_at(deadline, self.try_open(peer, tag)).await {
                Err(_) => break,
                Ok(Ok(Some(s))) => return Ok(FrameWriter::new(s, self.limits)),
                Ok(Ok(None)) => return Err(StreamError::Open { peer: peer.to_string(), why: "refused".into() }),
                Ok(Err(e)) => last = e,
            }
            let jitter = Duration::from_micros(rand::random::<u64>() % (backoff.as_micros() as u64 + 1));
            if tokio::time::Instant::now() + backoff + jitter >= deadline {
                break;
            }
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
        Err(StreamError::Open { peer: peer.to_string(), why: last })
    }

    /// One attempt: `Some(stream)` accepted, `None` refused, an error to try again after.
    async fn try_open(&self, peer: PeerId, tag: [u8; TAG_LEN]) -> Result<Option<libp2p::Stream>, String> {
        let mut control = self.control.clone();
        let mut s = control.open_stream(peer, MPC_STREAM_PROTOCOL).await.map_err(|e| e.to_string())?;
        write_header(&mut s, &tag).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut answer = [0u8; 1];
        match tokio::time::timeout(ANSWER_TIMEOUT, s.read_exact(&mut answer)).await {
            Ok(Ok(())) if answer[0] == ACCEPTED => Ok(Some(s)),
            Ok(Ok(())) if answer[0] == REFUSED => Ok(None),
            Ok(Ok(())) => Err(format!("bad answer {}", answer[0])),
            Ok(Err(e)) => Err(format!("stream ended unanswered: {e}")),
            Err(_) => Err("no answer".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;
    use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

    fn limits(chunk: usize, max_message: usize) -> StreamLimits {
        StreamLimits { chunk, max_message, stall: Duration::from_millis(300) }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    async fn within<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(10), f).await.expect("test step timed out")
    }

    /// Messages of every shape (empty, under, at and over a chunk, many chunks) come out whole and
    /// in the order written, through a pipe far smaller than one message (so the writer is held back
    /// by the reader all along).
    #[tokio::test]
    async fn order_is_kept_across_chunks() {
        let (a, b) = duplex(4096);
        let lim = limits(1000, 1 << 20);
        let sizes = [0usize, 1, 999, 1000, 1001, 2000, 65_537, 3, 250_000];
        let writer = tokio::spawn(async move {
            let mut w = FrameWriter::new(a.compat_write(), lim);
            for (i, s) in sizes.iter().enumerate() {
                w.send(&pattern(*s, i as u8)).await.unwrap();
            }
            w.close().await;
        });
        let mut r = FrameReader::new(b.compat(), lim);
        for (i, s) in sizes.iter().enumerate() {
            let m = within(r.next()).await.unwrap().expect("a message");
            assert_eq!(m, pattern(*s, i as u8), "message {i}");
        }
        assert_eq!(within(r.next()).await.unwrap(), None, "clean end after the last message");
        within(writer).await.unwrap();
    }

    /// Two streams written at once (one per sender, as in a session) each keep their own order.
    #[tokio::test]
    async fn interleaved_streams_keep_their_own_order() {
        let lim = limits(512, 1 << 20);
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for s in 0..2u8 {
            let (a, b) = duplex(1024);
            writers.push(tokio::spawn(async move {
                let mut w = FrameWriter::new(a.compat_write(), lim);
                for i in 0..20u8 {
                    w.send(&pattern(700 * (i as usize % 5), s * 100 + i)).await.unwrap();
                }
                w.close().await;
            }));
            readers.push(FrameReader::new(b.compat(), lim));
        }
        for i in 0..20u8 {
            for (s, r) in readers.iter_mut().enumerate() {
                let m = within(r.next()).await.unwrap().expect("a message");
                assert_eq!(m, pattern(700 * (i as usize % 5), s as u8 * 100 + i));
            }
        }
        for w in writers {
            within(w).await.unwrap();
        }
    }

    /// A stream that ends in the middle of a message is an error, not a short message.
    #[tokio::test]
    async fn truncated_stream_is_an_error() {
        let lim = limits(100, 1 << 20);
        // a first chunk (MORE), then the stream ends
        let mut bytes = 100u32.to_le_bytes().to_vec();
        bytes.push(MORE);
        bytes.extend_from_slice(&[7u8; 100]);
        let mut r = FrameReader::new(futures::io::Cursor::new(bytes.clone()), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::Truncated));
        // a frame cut inside its payload
        bytes.truncate(50);
        let mut r = FrameReader::new(futures::io::Cursor::new(bytes), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::Truncated));
        // a header cut short
        let mut r = FrameReader::new(futures::io::Cursor::new(vec![1u8, 0]), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::Truncated));
    }

    /// A frame announced over the chunk limit is refused before its payload is read, and so is a
    /// message that grows past the message limit; a bad flag is refused too.
    #[tokio::test]
    async fn frame_over_the_limit_is_refused() {
        let lim = limits(100, 250);
        let mut bytes = 101u32.to_le_bytes().to_vec();
        bytes.push(LAST);
        let mut r = FrameReader::new(futures::io::Cursor::new(bytes), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::FrameTooLarge { len: 101, max: 100 }));

        let mut bytes = Vec::new();
        for _ in 0..3 {
            bytes.extend_from_slice(&100u32.to_le_bytes());
            bytes.push(MORE);
            bytes.extend_from_slice(&[0u8; 100]);
        }
        let mut r = FrameReader::new(futures::io::Cursor::new(bytes), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::MessageTooLarge { max: 250 }));

        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.push(9);
        bytes.push(0);
        let mut r = FrameReader::new(futures::io::Cursor::new(bytes), lim);
        assert_eq!(within(r.next()).await, Err(StreamError::BadFlag(9)));

        // the writer refuses to send what the limits forbid
        let mut w = FrameWriter::new(futures::io::Cursor::new(Vec::new()), lim);
        assert_eq!(within(w.send(&[0u8; 251])).await, Err(StreamError::MessageTooLarge { max: 250 }));
    }

    /// A reader that stops reading holds the writer back (nothing piles up beyond the pipe), and
    /// the writer fails with a clear error once it has made no progress for the stall time.
    #[tokio::test]
    async fn a_peer_that_stops_reading_stalls_then_fails() {
        let (a, b) = duplex(8192);
        let lim = limits(1024, 1 << 20);
        let mut w = FrameWriter::new(a.compat_write(), lim);
        // small messages fit in the pipe
        within(w.send(&[1u8; 100])).await.unwrap();
        let started = std::time::Instant::now();
        let r = within(w.send(&vec![2u8; 100_000])).await;
        assert_eq!(r, Err(StreamError::Stalled(lim.stall)));
        assert!(started.elapsed() >= lim.stall, "failed only at the stall deadline");
        // the reader still sees the message written before the stall
        let mut rd = FrameReader::new(b.compat(), lim);
        assert_eq!(within(rd.next()).await.unwrap(), Some(vec![1u8; 100]));
    }

    #[tokio::test]
    async fn header_roundtrip_and_refusal() {
        let mut buf = futures::io::Cursor::new(Vec::new());
        write_header(&mut buf, &[5u8; TAG_LEN]).await.unwrap();
        let mut rd = futures::io::Cursor::new(buf.into_inner());
        assert_eq!(within(read_header(&mut rd)).await, Ok([5u8; TAG_LEN]));
        let mut wrong = vec![STREAM_VERSION + 1];
        wrong.extend_from_slice(&[0u8; TAG_LEN]);
        assert_eq!(within(read_header(&mut futures::io::Cursor::new(wrong))).await, Err(StreamError::BadHeader));
        assert_eq!(within(read_header(&mut futures::io::Cursor::new(vec![1u8; 3]))).await, Err(StreamError::BadHeader));
    }
}
