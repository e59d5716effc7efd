//! Where the store puts a streamed append's stamp for a reader on another thread.
//!
//! The streaming path does not wait for its commits: the actor queues the
//! event's notification with the editor's writer (`editor::frame`) and the append with the
//! store, both holding one [`StampSlot`]. After the commit the store fills the slot (two numbers,
//! no allocation, nothing the notification is made of crosses threads); the writer, which keeps
//! everything queued after the notification waiting meanwhile, writes it then. A waker is
//! registered only by the writer waiting at the head of its queue, so a batch of commits costs it
//! one wake-up.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{EncodedEvent, Stamp};

#[derive(Default)]
enum State {
    #[default]
    Waiting,
    Waited(Waker),
    /// The stamp, or `None` when the append failed or never ran; and the event, handed back so
    /// that the thread that made it frees it (a free on another thread is slow).
    Filled(Option<Stamp>, Option<EncodedEvent>),
}

/// A stamp that will be known once the store committed (or gave up on) an append.
#[derive(Default)]
pub struct StampSlot {
    state: Mutex<State>,
}

impl StampSlot {
    /// A slot and the filler that goes with the append.
    pub fn new() -> (Arc<StampSlot>, SlotFiller) {
        let slot = Arc::new(StampSlot::default());
        (slot.clone(), SlotFiller(Some(slot)))
    }

    /// The stamp once the slot is filled (`None`: there is no event).
    pub fn poll_stamp(&self, cx: &mut Context<'_>) -> Poll<Option<Stamp>> {
        let mut state = crate::sync::lock(&self.state);
        match &mut *state {
            State::Filled(stamp, event) => {
                let stamp = *stamp;
                let event = event.take();
                drop(state);
                drop(event);
                Poll::Ready(stamp)
            }
            _ => {
                *state = State::Waited(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn fill(&self, stamp: Option<Stamp>, event: Option<EncodedEvent>) {
        let old = std::mem::replace(
            &mut *crate::sync::lock(&self.state),
            State::Filled(stamp, event),
        );
        if let State::Waited(waker) = old {
            waker.wake();
        }
    }
}

/// The store's end of a [`StampSlot`]: fills it once; dropped unfilled (the append never ran,
/// the store closed), it fills it with `None`, so that no writer waits forever.
pub struct SlotFiller(Option<Arc<StampSlot>>);

impl SlotFiller {
    /// Fills the slot with the stamp, handing `event` back to the reader's thread.
    pub fn fill(mut self, stamp: Option<Stamp>, event: Option<EncodedEvent>) {
        if let Some(slot) = self.0.take() {
            slot.fill(stamp, event);
        }
    }
}

impl Drop for SlotFiller {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.fill(None, None);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn a_waiting_reader_is_woken_with_the_stamp() {
        let (slot, filler) = StampSlot::new();
        let reader =
            tokio::spawn(async move { std::future::poll_fn(|cx| slot.poll_stamp(cx)).await });
        tokio::task::yield_now().await;
        filler.fill(Some(Stamp { seq: 7, at: 9 }), None);
        assert_eq!(reader.await.unwrap(), Some(Stamp { seq: 7, at: 9 }));
    }

    #[tokio::test]
    async fn a_dropped_filler_ends_the_wait_with_nothing() {
        let (slot, filler) = StampSlot::new();
        drop(filler);
        let got = std::future::poll_fn(|cx| slot.poll_stamp(cx)).await;
        assert_eq!(got, None);
    }
}
