//! The send buffer: encoded batches waiting for a collector, bounded by bytes. It is what
//! carries the agent through a collector outage — batches wait here while every collector
//! is down — and what bounds the memory that costs: a batch that does not fit is refused
//! (the caller counts its spans as dropped) rather than growing the heap.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// One `PostSpansRequest`, already encoded: retrying it (on another collector) costs no
/// re-encoding and no copy.
#[derive(Clone, Debug)]
pub struct ReadyBatch {
    pub request: Bytes,
    pub spans: usize,
}

pub struct SendBuffer {
    state: Mutex<State>,
    ready: Notify,
    max_bytes: usize,
}

struct State {
    queue: VecDeque<ReadyBatch>,
    bytes: usize,
    closed: bool,
}

impl SendBuffer {
    pub fn new(max_bytes: usize) -> Self {
        SendBuffer {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            ready: Notify::new(),
            max_bytes,
        }
    }

    /// Queues `batch`, or hands it back when it does not fit (or the buffer is closed).
    pub fn push(&self, batch: ReadyBatch) -> Result<(), ReadyBatch> {
        {
            let mut s = self.state.lock();
            let after = s.bytes.saturating_add(batch.request.len());
            if s.closed || after > self.max_bytes {
                return Err(batch);
            }
            s.bytes = after;
            s.queue.push_back(batch);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The oldest batch; waits while the buffer is empty. `None` once the buffer is closed
    /// and drained.
    pub async fn pop(&self) -> Option<ReadyBatch> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push between the look and the wait still
            // wakes this task.
            notified.as_mut().enable();
            {
                let mut s = self.state.lock();
                if let Some(b) = s.queue.pop_front() {
                    s.bytes = s.bytes.saturating_sub(b.request.len());
                    let more = !s.queue.is_empty();
                    drop(s);
                    if more {
                        // Pass the wake-up on: several senders may be waiting.
                        self.ready.notify_one();
                    }
                    return Some(b);
                }
                if s.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// No more pushes; waiting `pop`s return `None` once what is queued has been taken.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_waiters();
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> ReadyBatch {
        ReadyBatch {
            request: Bytes::from(vec![0u8; n]),
            spans: 1,
        }
    }

    #[tokio::test]
    async fn bounded_by_bytes_and_fifo() {
        let b = SendBuffer::new(10);
        b.push(batch(4)).unwrap();
        b.push(batch(6)).unwrap();
        assert!(b.push(batch(1)).is_err(), "full buffer refuses");
        assert_eq!(b.bytes(), 10);
        assert_eq!(b.pop().await.unwrap().request.len(), 4);
        b.push(batch(3)).unwrap();
        assert_eq!(b.pop().await.unwrap().request.len(), 6);
        assert_eq!(b.pop().await.unwrap().request.len(), 3);
        assert_eq!(b.bytes(), 0);
    }

    #[tokio::test]
    async fn close_drains_then_ends_waiters() {
        let b = std::sync::Arc::new(SendBuffer::new(100));
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.pop().await.map(|x| x.request.len()) })
        };
        tokio::task::yield_now().await;
        b.push(batch(5)).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(5));
        b.push(batch(7)).unwrap();
        b.close();
        assert!(b.push(batch(1)).is_err());
        assert_eq!(b.pop().await.unwrap().request.len(), 7);
        assert!(b.pop().await.is_none());
    }
}
