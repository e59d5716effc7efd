//! Deltas read together go out together. When an agent streams faster than one delta per
//! read (codex writes 15-20 thousand a second in a fast turn), the actor finds several
//! `content.delta` events of one item already queued; it joins them into one event, whose
//! text is theirs concatenated, which is all an editor does with deltas. One event instead of
//! many means one row, one frame and one notification for the lot.
//!
//! Nothing waits for a delta to join: only what is already queued is joined, so no delta goes
//! out later than it would alone. The first [`JOIN_AFTER`] events of an item are relayed as
//! the agent sent them, so a short answer streams delta by delta as before; an event carrying
//! its raw native message (`includeRaw`) is never joined, since each stands for one message.

use baton_protocol::EventBody;

use crate::provider::ProviderEvent;

/// How many events of an item go out as they came before queued deltas of it are joined.
pub const JOIN_AFTER: usize = 32;

/// The most text one joined delta carries; a longer run starts a new event.
pub const MAX_JOINED_BYTES: usize = 16 * 1024;

/// The item whose deltas were relayed last, and how many events of it went out in a row.
#[derive(Default)]
pub struct DeltaRun {
    item: Option<String>,
    events: usize,
}

impl DeltaRun {
    /// Counts a `content.delta` event of `item` that went out.
    pub fn relayed(&mut self, item: Option<&str>) {
        if self.item.as_deref() == item {
            self.events += 1;
        } else {
            self.item = item.map(str::to_string);
            self.events = 1;
        }
    }

    /// Whether deltas of `item` may now be joined.
    fn joins(&self, item: Option<&String>) -> bool {
        self.events >= JOIN_AFTER && self.item.as_ref() == item
    }
}

/// Appends `next` to `held` when both are plain deltas (no raw native message) of the same
/// generation, turn, item and stream, and `run` says the item streams long enough; otherwise
/// hands `next` back.
pub fn join(
    run: &DeltaRun,
    held: &mut (u64, ProviderEvent),
    next: (u64, ProviderEvent),
) -> Option<(u64, ProviderEvent)> {
    let (
        (
            g1,
            ProviderEvent::Event {
                body: EventBody::ContentDelta(a),
                native_turn: t1,
                item_id: i1,
                raw: None,
            },
        ),
        (
            g2,
            ProviderEvent::Event {
                body: EventBody::ContentDelta(b),
                native_turn: t2,
                item_id: i2,
                raw: None,
            },
        ),
    ) = (&mut *held, &next)
    else {
        return Some(next);
    };
    let fits = a.delta.len() + b.delta.len() <= MAX_JOINED_BYTES;
    if *g1 != *g2
        || t1 != t2
        || i1 != i2
        || a.stream != b.stream
        || !fits
        || !run.joins(i1.as_ref())
    {
        return Some(next);
    }
    a.delta.push_str(&b.delta);
    None
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;
