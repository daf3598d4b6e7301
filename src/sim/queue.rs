//! The event queue: a 4-ary min-heap ordered by (time, insertion sequence),
//! with one side lane for a source that keeps exactly one event pending.
//!
//! Events at the same instant come out in the order they were scheduled, so
//! a run never depends on the heap's internal layout. Scheduling in the past
//! is a bug in the caller and panics in debug builds.
//!
//! The heap holds small keys (time, sequence, slot) and the events sit in a
//! slab beside it, so sifting moves 24 bytes, not the event. A 4-ary heap is
//! half as deep as a binary one, and its four children share a cache line.
//! The lane serves the production arrival stream, which always has its next
//! arrival pending: it skips the heap altogether and is compared with the
//! heap's top at each pop. The lane's event takes a sequence number like any
//! other, so the order is exactly the one a single heap would give.

use super::time::SimTime;

/// Children per heap node.
const ARITY: usize = 4;

#[derive(Clone, Copy)]
struct Key {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Key {
    #[inline]
    fn before(&self, other: &Key) -> bool {
        order(self.time, self.seq) < order(other.time, other.seq)
    }
}

/// (time, sequence) as one integer, so that ordering them is one
/// branch-free comparison rather than a tuple's two.
#[inline]
fn order(time: SimTime, seq: u64) -> u128 {
    (u128::from(time.0) << 64) | u128::from(seq)
}

/// A priority queue of events of type `E`, earliest first, FIFO among equals.
pub struct EventQueue<E> {
    heap: Vec<Key>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    lane: Option<(SimTime, u64, E)>,
    next_seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue::with_capacity(0)
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(n),
            slab: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            lane: None,
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The time of the last event popped (the simulation clock).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`, which must not be before [`Self::now`].
    pub fn schedule(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now, "invariant: event scheduled in the past");
        let time = time.max(self.now);
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(event);
                s
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        let key = Key {
            time,
            seq: self.next_seq,
            slot,
        };
        self.next_seq += 1;
        self.heap.push(key);
        self.sift_up(self.heap.len() - 1);
    }

    /// Schedules the lane's one event at `time`. The lane must be empty:
    /// it is for a source that schedules its next event as it handles the
    /// current one.
    pub fn schedule_lane(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now, "invariant: event scheduled in the past");
        debug_assert!(self.lane.is_none(), "invariant: the lane holds one event");
        let time = time.max(self.now);
        self.lane = Some((time, self.next_seq, event));
        self.next_seq += 1;
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        match (self.heap.first(), &self.lane) {
            (Some(k), Some((t, s, _))) => Some(if order(*t, *s) < order(k.time, k.seq) {
                *t
            } else {
                k.time
            }),
            (Some(k), None) => Some(k.time),
            (None, Some((t, _, _))) => Some(*t),
            (None, None) => None,
        }
    }

    /// Removes the next event and advances the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let lane_first = match (self.heap.first(), &self.lane) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(k), Some((t, s, _))) => order(*t, *s) < order(k.time, k.seq),
        };
        if lane_first {
            let (t, _, e) = self.lane.take()?;
            self.now = t;
            return Some((t, e));
        }
        let top = *self.heap.first()?;
        let last = self.heap.pop()?;
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
        let event = self.slab[top.slot as usize].take()?;
        self.free.push(top.slot);
        self.now = top.time;
        Some((top.time, event))
    }

    /// Events still waiting.
    pub fn len(&self) -> usize {
        self.heap.len() + usize::from(self.lane.is_some())
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many events were ever scheduled.
    pub fn scheduled_total(&self) -> u64 {
        self.next_seq
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let key = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !key.before(&self.heap[parent]) {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = key;
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let key = self.heap[i];
        loop {
            let first = i * ARITY + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + ARITY).min(n) {
                if self.heap[c].before(&self.heap[best]) {
                    best = c;
                }
            }
            if !self.heap[best].before(&key) {
                break;
            }
            self.heap[i] = self.heap[best];
            i = best;
        }
        self.heap[i] = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), 'a');
        q.schedule(SimTime(1), 'b');
        q.schedule(SimTime(5), 'c');
        q.schedule(SimTime(1), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['b', 'd', 'a', 'c']);
        assert_eq!(q.now(), SimTime(5));
    }

    #[test]
    fn the_lane_takes_its_place_by_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), 'a');
        q.schedule_lane(SimTime(5), 'L');
        q.schedule(SimTime(5), 'c');
        q.schedule(SimTime(2), 'b');
        assert_eq!(q.len(), 4);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ['b', 'a', 'L', 'c']);
        assert!(q.is_empty());
    }

    proptest! {
        #[test]
        fn pops_never_go_back_in_time(times in proptest::collection::vec(0u64..1000, 1..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.schedule(SimTime(*t), i);
            }
            let mut last = (SimTime::ZERO, 0usize);
            let mut first = true;
            while let Some((t, i)) = q.pop() {
                if !first {
                    prop_assert!(t > last.0 || (t == last.0 && i > last.1));
                }
                first = false;
                last = (t, i);
            }
        }

        /// Interleaved schedules and pops, with a lane event re-armed at each
        /// of its pops, give exactly the order of a sort by (time, sequence).
        #[test]
        fn interleaved_use_matches_a_sorted_reference(
            ops in proptest::collection::vec((0u64..50, any::<bool>()), 1..300)
        ) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(SimTime, u64)> = Vec::new();
            let mut seq = 0u64;
            let mut lane_armed = false;
            for (dt, pop) in ops {
                if pop {
                    reference.sort();
                    let want = (!reference.is_empty()).then(|| reference.remove(0));
                    let got = q.pop();
                    prop_assert_eq!(got.map(|(t, (s, _))| (t, s)), want);
                    if let Some((_, (_, true))) = got {
                        lane_armed = false;
                    }
                } else {
                    let t = SimTime(q.now().0 + dt);
                    if !lane_armed && dt % 3 == 0 {
                        q.schedule_lane(t, (seq, true));
                        lane_armed = true;
                    } else {
                        q.schedule(t, (seq, false));
                    }
                    reference.push((t, seq));
                    seq += 1;
                }
            }
        }
    }
}
