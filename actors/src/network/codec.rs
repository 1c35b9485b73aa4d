//! The request-response codec: one length-prefixed frame per request and per response.
//!
//! Owns: framing (`u32` little-endian length, then the bytes) and the size limits that keep a peer
//! from making this node allocate without bound. A request announced over the limit is not read: it
//! becomes [`RequestFrame::TooLarge`], so the driver learns which peer sent it (libp2p does not report
//! a failed read to the behaviour). Must never: interpret the frame (that is
//! `protocol::wire` and the router) or allocate ahead of the bytes actually received.

use futures::prelude::*;
use libp2p::StreamProtocol;
use libp2p::request_response::Codec;
use std::io;

/// Length-prefixed opaque frames with a maximum size.
#[derive(Clone, Debug)]
pub struct FrameCodec {
    max_frame: usize,
}

/// An inbound request as read off the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestFrame {
    Bytes(Vec<u8>),
    /// Announced this many bytes, over the limit; nothing of it was read.
    TooLarge(usize),
}

impl FrameCodec {
    pub fn new(max_frame: usize) -> FrameCodec {
        FrameCodec { max_frame }
    }
}

async fn read_len<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<usize> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    Ok(u32::from_le_bytes(len) as usize)
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let len = read_len(io).await?;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    read_body(io, len).await
}

async fn read_body<T: AsyncRead + Unpin + Send>(io: &mut T, len: usize) -> io::Result<Vec<u8>> {
    // Grow with the data actually received, not with the announced length.
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    io.take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame truncated"));
    }
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, frame: &[u8], max: usize) -> io::Result<()> {
    if frame.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds the limit of {max}", frame.len()),
        ));
    }
    io.write_all(&(frame.len() as u32).to_le_bytes()).await?;
    io.write_all(frame).await?;
    io.close().await
}

impl Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = RequestFrame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RequestFrame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let len = read_len(io).await?;
        if len > self.max_frame {
            return Ok(RequestFrame::TooLarge(len));
        }
        read_body(io, len).await.map(RequestFrame::Bytes)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_frame).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: RequestFrame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            RequestFrame::Bytes(b) => write_frame(io, &b, self.max_frame).await,
            RequestFrame::TooLarge(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a frame to send")),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_frame).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[test]
    fn frames_roundtrip_and_limits() {
        futures::executor::block_on(async {
            let mut buf = Cursor::new(Vec::new());
            write_frame(&mut buf, b"hello", 10).await.unwrap();
            let mut rd = Cursor::new(buf.into_inner());
            assert_eq!(read_frame(&mut rd, 10).await.unwrap(), b"hello");

            let mut big = Cursor::new(Vec::new());
            assert!(write_frame(&mut big, &[0; 11], 10).await.is_err());
            // a peer announcing more than the limit is refused before anything is allocated
            let mut rd = Cursor::new(u32::MAX.to_le_bytes().to_vec());
            assert!(read_frame(&mut rd, 10).await.is_err());
            // a frame shorter than announced is an error
            let mut short = 5u32.to_le_bytes().to_vec();
            short.extend_from_slice(b"abc");
            assert!(read_frame(&mut Cursor::new(short), 10).await.is_err());

            // as a request, an oversized frame is reported (so its sender can be told off), unread
            let mut codec = FrameCodec::new(10);
            let proto = StreamProtocol::new("/t");
            let mut rd = Cursor::new(1000u32.to_le_bytes().to_vec());
            assert_eq!(codec.read_request(&proto, &mut rd).await.unwrap(), RequestFrame::TooLarge(1000));
            let mut ok = 2u32.to_le_bytes().to_vec();
            ok.extend_from_slice(b"hi");
            assert_eq!(
                codec.read_request(&proto, &mut Cursor::new(ok)).await.unwrap(),
                RequestFrame::Bytes(b"hi".to_vec())
            );
        });
    }
}
