//! Wide-area link emulation for benches and tests: a wrapper around a TCP connection that releases
//! every written chunk half a round-trip time after it was written, in order, optionally at a rate.
//!
//! Owns: [`WanProfile`] (RTT and rate, parsed from `RTT_MS[:MBIT]`) and [`Delayed`], the connection
//! wrapper the swarm uses instead of plain TCP when a node runs with `--emulate-rtt-ms`. This
//! machine's kernel has no netem, so the delay cannot come from `tc`; each end delays what it sends
//! by RTT/2, so a round trip between two emulating nodes takes the RTT. Must never: be on the path
//! of a node started without the option (the swarm is built with plain TCP then), reorder or drop
//! bytes, or hold more than [`QUEUE_CHUNKS`] written chunks (the writer then waits: back-pressure).

use futures::channel::mpsc;
use futures::io::{ReadHalf, WriteHalf};
use futures::prelude::*;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Instant;

/// Written chunks a connection holds before its writer waits.
pub const QUEUE_CHUNKS: usize = 4096;

/// An emulated link: round-trip time, and optionally a rate per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WanProfile {
    pub rtt: Duration,
    pub mbit: Option<u64>,
}

impl std::str::FromStr for WanProfile {
    type Err = String;
    /// `RTT_MS` or `RTT_MS:MBIT`, e.g. `50` or `50:1000`.
    fn from_str(s: &str) -> Result<WanProfile, String> {
        let (rtt, rate) = match s.split_once(':') {
            Some((r, m)) => (r, Some(m)),
            None => (s, None),
        };
        let rtt: u64 = rtt.trim().parse().map_err(|_| format!("bad RTT in {s:?}: milliseconds expected"))?;
        let mbit = match rate {
            Some(m) => {
                let m: u64 = m.trim().parse().map_err(|_| format!("bad rate in {s:?}: Mbit/s expected"))?;
                if m == 0 {
                    return Err("a rate of 0 Mbit/s".into());
                }
                Some(m)
            }
            None => None,
        };
        Ok(WanProfile { rtt: Duration::from_millis(rtt), mbit })
    }
}

enum Item {
    Data(Instant, Vec<u8>),
    Close,
}

/// A connection whose writes reach the peer RTT/2 later (and no faster than the rate).
pub struct Delayed<S> {
    read: ReadHalf<S>,
    tx: mpsc::Sender<Item>,
    delay: Duration,
    closed: bool,
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Delayed<S> {
    /// Wraps `io`; spawns the task that releases what is written (on the current tokio runtime).
    pub fn new(io: S, profile: WanProfile) -> Delayed<S> {
        let (read, write) = io.split();
        let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
        tokio::spawn(release(write, rx, profile.mbit));
        Delayed { read, tx, delay: profile.rtt / 2, closed: false }
    }
}

/// Writes each chunk at its release time (and after the previous one has passed at the rate).
async fn release<S: AsyncWrite + Unpin>(mut w: WriteHalf<S>, mut rx: mpsc::Receiver<Item>, mbit: Option<u64>) {
    let mut free_at = Instant::now();
    while let Some(item) = rx.next().await {
        match item {
            Item::Data(at, bytes) => {
                let send_at = at.max(free_at);
                tokio::time::sleep_until(send_at).await;
                if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() {
                    return;
                }
                if let Some(m) = mbit {
                    // bits / (Mbit/s) = microseconds; a virtual clock, so the timer's millisecond
                    // rounding of each sleep does not add up over many small chunks
                    free_at = send_at + Duration::from_micros(bytes.len() as u64 * 8 / m);
                }
            }
            Item::Close => {
                let _ = w.close().await;
                return;
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "emulated link closed")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Delayed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Delayed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.closed {
            return Poll::Ready(Err(gone()));
        }
        ready!(self.tx.poll_ready(cx)).map_err(|_| gone())?;
        let at = Instant::now() + self.delay;
        self.tx.start_send(Item::Data(at, buf.to_vec())).map_err(|_| gone())?;
        Poll::Ready(Ok(buf.len()))
    }

    /// Written bytes are on their way (released at their time); there is nothing to wait for.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        ready!(self.tx.poll_ready(cx)).map_err(|_| gone())?;
        let _ = self.tx.start_send(Item::Close);
        self.closed = true;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::compat::TokioAsyncReadCompatExt;

    #[test]
    fn profiles_parse() {
        assert_eq!("50".parse::<WanProfile>(), Ok(WanProfile { rtt: Duration::from_millis(50), mbit: None }));
        assert_eq!(
            "50:1000".parse::<WanProfile>(),
            Ok(WanProfile { rtt: Duration::from_millis(50), mbit: Some(1000) })
        );
        assert!("x".parse::<WanProfile>().is_err());
        assert!("50:0".parse::<WanProfile>().is_err());
    }

    async fn pair(
        profile: WanProfile,
    ) -> (Delayed<impl AsyncRead + AsyncWrite + Unpin>, Delayed<impl AsyncRead + AsyncWrite + Unpin>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (a, b) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        let (a, (b, _)) = (a.unwrap(), b.unwrap());
        a.set_nodelay(true).unwrap();
        b.set_nodelay(true).unwrap();
        (Delayed::new(a.compat(), profile), Delayed::new(b.compat(), profile))
    }

    /// Ping-pong over real TCP with both ends emulating: the measured round trip is the set RTT
    /// within 10 %, and bytes arrive whole and in order.
    #[tokio::test]
    async fn ping_pong_rtt_is_the_set_one() {
        let rtt = Duration::from_millis(40);
        let (mut a, mut b) = pair(WanProfile { rtt, mbit: None }).await;
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            for _ in 0..10 {
                b.read_exact(&mut buf).await.unwrap();
                b.write_all(&buf).await.unwrap();
            }
        });
        let mut rtts = Vec::new();
        for i in 0..10u64 {
            let t0 = std::time::Instant::now();
            a.write_all(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0u8; 8];
            tokio::time::timeout(Duration::from_secs(5), a.read_exact(&mut buf)).await.expect("an echo").unwrap();
            rtts.push(t0.elapsed());
            assert_eq!(u64::from_le_bytes(buf), i, "in order");
        }
        tokio::time::timeout(Duration::from_secs(5), echo).await.unwrap().unwrap();
        rtts.sort();
        let median = rtts[rtts.len() / 2];
        let err = (median.as_secs_f64() - rtt.as_secs_f64()).abs() / rtt.as_secs_f64();
        assert!(err < 0.10, "median round trip {median:?}, set {rtt:?}");
    }

    /// With a rate, a burst takes its size over the rate (2 MB at 100 Mbit/s ≈ 160 ms), plus RTT/2.
    #[tokio::test]
    async fn the_rate_holds_a_burst_back() {
        let rtt = Duration::from_millis(20);
        let (mut a, mut b) = pair(WanProfile { rtt, mbit: Some(100) }).await;
        let data = vec![7u8; 2_000_000];
        let t0 = std::time::Instant::now();
        let sender = tokio::spawn(async move {
            for c in data.chunks(16 * 1024) {
                a.write_all(c).await.unwrap();
            }
            a
        });
        let mut got = vec![0u8; 2_000_000];
        tokio::time::timeout(Duration::from_secs(10), b.read_exact(&mut got)).await.expect("the burst").unwrap();
        let took = t0.elapsed().as_secs_f64();
        assert!(got.iter().all(|x| *x == 7));
        let want = 0.16 + 0.01;
        assert!((took - want).abs() / want < 0.25, "took {took:.3} s, want ≈ {want:.3} s");
        drop(tokio::time::timeout(Duration::from_secs(5), sender).await);
    }
}
