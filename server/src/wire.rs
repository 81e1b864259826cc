//! Limits on the wire: a request body that stops arriving is cut off, and
//! one address holds only so many requests at once. With actix's own
//! timeouts (the request head, keep-alive; set in `serve`), a slow or
//! stalled client cannot hold the server's attention for long, and others
//! are answered meanwhile.

use std::collections::HashMap;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;

/// A request body that fails with `TimedOut` when no byte arrives for
/// `gap` (a slow connection is fine; a stalled one is not).
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    gap: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, gap: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            gap,
            timer: Box::pin(tokio::time::sleep(gap)),
        }
    }
}

/// The error a stalled body ends with.
fn stalled(gap: Duration) -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no body bytes for {} s", gap.as_secs_f64()),
    ))
}

impl<S> Stream for IdleTimeout<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let next = tokio::time::Instant::now() + self.gap;
                self.timer.as_mut().reset(next);
                Poll::Ready(item)
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(stalled(self.gap)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Whether a body error is the cut-off of [`IdleTimeout`].
pub fn timed_out(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// Requests in flight per client address, at most `cap` each.
#[derive(Debug, Clone)]
pub struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// A request's place in [`PerAddress`]; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    address: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl PerAddress {
    pub fn new(cap: usize) -> PerAddress {
        PerAddress {
            cap,
            open: Arc::default(),
        }
    }

    /// A slot for a request from `address`, if it has fewer than the cap
    /// in flight.
    pub fn enter(&self, address: &str) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(address.to_owned()).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            address: address.to_owned(),
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn an_address_holds_at_most_its_cap() {
        let p = PerAddress::new(2);
        let a = p.enter("10.0.0.1").unwrap();
        let _b = p.enter("10.0.0.1").unwrap();
        assert!(p.enter("10.0.0.1").is_none());
        assert!(p.enter("10.0.0.2").is_some(), "others are not counted");
        drop(a);
        assert!(p.enter("10.0.0.1").is_some(), "a slot comes back");
        assert!(p.open.lock().unwrap().get("10.0.0.2").is_none(), "emptied");
    }

    #[actix_web::test]
    async fn a_stalled_body_is_cut_off_and_a_slow_one_is_not() {
        let gap = Duration::from_millis(100);
        // Slow: a byte every 50 ms.
        let slow = futures_util::stream::iter(0..5).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, PayloadError>(Bytes::from(vec![i as u8]))
        });
        let got: Vec<_> = IdleTimeout::new(Box::pin(slow), gap).collect().await;
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(Result::is_ok));
        // Stalled after one byte.
        let stalled = futures_util::stream::iter([Ok::<_, PayloadError>(Bytes::from_static(b"{"))])
            .chain(futures_util::stream::pending());
        let mut s = IdleTimeout::new(Box::pin(stalled), gap);
        assert!(s.next().await.unwrap().is_ok());
        let e = s.next().await.unwrap().unwrap_err();
        assert!(timed_out(&e), "{e}");
    }
}
