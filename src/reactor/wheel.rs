//! A hierarchical timer wheel: O(1) insert and cancel, 1 ms resolution.
//!
//! Seven levels of 64 slots; a slot at level `k` spans `64^k` ms. An entry lives in the lowest
//! level whose slot can tell its deadline apart from the wheel's current position; as time
//! advances, a higher-level slot is taken apart and its entries move down ("cascade") until they
//! reach level 0, where every entry of a slot has the same deadline. Entries are kept in intrusive
//! doubly linked lists inside one slab, so cancelling is an unlink, and the slab's free list
//! recycles memory. Each entry carries an insertion sequence number: a fired batch is ordered by
//! it, so equal deadlines fire in the order they were set even when cascading mixed them up.

/// Number of levels; 64^7 ms is far beyond any process lifetime, so deadlines never wrap.
const LEVELS: usize = 7;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NIL: u32 = u32::MAX;

/// The largest delay the wheel accepts, in ms (2^40 ms, about 34 years).
pub const MAX_DELAY_MS: u64 = 1 << 40;

/// Identifies an entry for cancellation. Stale keys are detected by the generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryKey {
    index: u32,
    generation: u32,
}

struct Entry {
    value: u64,
    deadline: u64,
    seq: u64,
    prev: u32,
    next: u32,
    /// `level * SLOTS + slot`, or `NIL` while the entry is free.
    slot: u32,
    generation: u32,
}

/// The wheel itself; values are opaque `u64`s (timer ids for the runtime).
pub struct Wheel {
    entries: Vec<Entry>,
    free: Vec<u32>,
    heads: Vec<u32>,
    tails: Vec<u32>,
    occupied: [u64; LEVELS],
    /// The tick (ms since the reactor started) up to which everything has been expired.
    elapsed: u64,
    next_seq: u64,
    len: usize,
    /// Scratch space reused by `expire` to order a slot's entries.
    batch: Vec<(u64, u64)>,
}

impl Default for Wheel {
    fn default() -> Self {
        Self::new()
    }
}

impl Wheel {
    /// An empty wheel positioned at tick 0.
    pub fn new() -> Self {
        Wheel {
            entries: Vec::new(),
            free: Vec::new(),
            heads: vec![NIL; LEVELS * SLOTS],
            tails: vec![NIL; LEVELS * SLOTS],
            occupied: [0; LEVELS],
            elapsed: 0,
            next_seq: 0,
            len: 0,
            batch: Vec::new(),
        }
    }

    /// The tick the wheel has expired up to; deadlines before it are treated as due now.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// True when no entry waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `value` to fire at tick `deadline` (clamped to the current position).
    pub fn insert(&mut self, deadline: u64, value: u64) -> EntryKey {
        let deadline = deadline.max(self.elapsed);
        let seq = self.next_seq;
        self.next_seq += 1;
        let index = match self.free.pop() {
            Some(index) => {
                let entry = &mut self.entries[index as usize];
                entry.value = value;
                entry.deadline = deadline;
                entry.seq = seq;
                index
            }
            None => {
                self.entries.push(Entry {
                    value,
                    deadline,
                    seq,
                    prev: NIL,
                    next: NIL,
                    slot: NIL,
                    generation: 0,
                });
                (self.entries.len() - 1) as u32
            }
        };
        self.link(index);
        self.len += 1;
        EntryKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Removes an entry; returns its value if it was still waiting.
    pub fn remove(&mut self, key: EntryKey) -> Option<u64> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation || entry.slot == NIL {
            return None;
        }
        let value = entry.value;
        self.unlink(key.index);
        self.release(key.index);
        Some(value)
    }

    /// The earliest tick at which `expire` may have something to do, if anything waits.
    /// For entries still in higher levels this is the start of their slot (a lower bound).
    pub fn next_wakeup(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Moves the wheel to `now`, appending the values of every entry whose deadline is at or
    /// before `now` to `out`, ordered by deadline, then by insertion.
    pub fn expire(&mut self, now: u64, out: &mut Vec<u64>) {
        if self.len == 0 {
            // Nothing to collect or cascade: the levels need no scan (every turn of a loop
            // without timers comes here).
            self.elapsed = self.elapsed.max(now);
            return;
        }
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = start;
            let slot_index = level * SLOTS + slot;
            let mut cursor = self.heads[slot_index];
            self.heads[slot_index] = NIL;
            self.tails[slot_index] = NIL;
            self.occupied[level] &= !(1u64 << slot);
            if level == 0 {
                self.batch.clear();
                while cursor != NIL {
                    let entry = &self.entries[cursor as usize];
                    let next = entry.next;
                    self.batch.push((entry.seq, entry.value));
                    self.release(cursor);
                    cursor = next;
                }
                self.batch.sort_unstable_by_key(|&(seq, _)| seq);
                out.extend(self.batch.iter().map(|&(_, value)| value));
            } else {
                while cursor != NIL {
                    let next = self.entries[cursor as usize].next;
                    self.link(cursor);
                    cursor = next;
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The first occupied slot at or after the current position, lowest level first: lower
    /// levels always hold earlier deadlines than higher ones.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let shift = SLOT_BITS * level as u32;
            let position = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let ahead = self.occupied[level] & (u64::MAX << position);
            if ahead != 0 {
                let slot = ahead.trailing_zeros() as usize;
                let span_bits = shift + SLOT_BITS;
                let base = self.elapsed & !((1u64 << span_bits) - 1);
                let start = base + ((slot as u64) << shift);
                return Some((level, slot, start.max(self.elapsed)));
            }
        }
        None
    }

    fn slot_for(&self, deadline: u64) -> usize {
        let differing = deadline ^ self.elapsed;
        let level = if differing == 0 {
            0
        } else {
            ((63 - differing.leading_zeros()) / SLOT_BITS) as usize
        };
        let level = level.min(LEVELS - 1);
        let slot = ((deadline >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
        level * SLOTS + slot
    }

    fn link(&mut self, index: u32) {
        let slot_index = self.slot_for(self.entries[index as usize].deadline);
        let tail = self.tails[slot_index];
        {
            let entry = &mut self.entries[index as usize];
            entry.slot = slot_index as u32;
            entry.prev = tail;
            entry.next = NIL;
        }
        if tail == NIL {
            self.heads[slot_index] = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.tails[slot_index] = index;
        self.occupied[slot_index / SLOTS] |= 1u64 << (slot_index % SLOTS);
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, slot_index) = {
            let entry = &self.entries[index as usize];
            (entry.prev, entry.next, entry.slot as usize)
        };
        if prev == NIL {
            self.heads[slot_index] = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.tails[slot_index] = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.heads[slot_index] == NIL {
            self.occupied[slot_index / SLOTS] &= !(1u64 << (slot_index % SLOTS));
        }
    }

    fn release(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        entry.slot = NIL;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(wheel: &mut Wheel, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        wheel.expire(now, &mut out);
        out
    }

    #[test]
    fn fires_in_deadline_order_never_early() {
        let mut wheel = Wheel::new();
        for (value, deadline) in [(1, 500), (2, 3), (3, 70), (4, 5000), (5, 64)] {
            wheel.insert(deadline, value);
        }
        assert_eq!(drain(&mut wheel, 2), Vec::<u64>::new());
        assert_eq!(drain(&mut wheel, 3), vec![2]);
        assert_eq!(drain(&mut wheel, 69), vec![5]);
        assert_eq!(drain(&mut wheel, 499), vec![3]);
        assert_eq!(drain(&mut wheel, 100_000), vec![1, 4]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn equal_deadlines_keep_insertion_order_across_levels() {
        let mut wheel = Wheel::new();
        wheel.insert(100, 1); // lands in level 1
        drain(&mut wheel, 90);
        wheel.insert(100, 2); // lands in level 0 directly
        wheel.insert(100, 3);
        assert_eq!(drain(&mut wheel, 100), vec![1, 2, 3]);
    }

    #[test]
    fn remove_cancels_and_stale_keys_do_nothing() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, 1);
        let b = wheel.insert(10, 2);
        assert_eq!(wheel.remove(a), Some(1));
        assert_eq!(wheel.remove(a), None);
        let c = wheel.insert(10, 3); // reuses a's slot in the slab
        assert_eq!(wheel.remove(a), None);
        assert_eq!(drain(&mut wheel, 10), vec![2, 3]);
        assert_eq!(wheel.remove(b), None);
        assert_eq!(wheel.remove(c), None);
    }

    #[test]
    fn past_deadlines_fire_on_next_expire() {
        let mut wheel = Wheel::new();
        drain(&mut wheel, 1000);
        wheel.insert(5, 7);
        assert_eq!(wheel.next_wakeup(), Some(1000));
        assert_eq!(drain(&mut wheel, 1000), vec![7]);
    }

    #[test]
    fn long_jumps_and_far_deadlines() {
        let mut wheel = Wheel::new();
        let far = MAX_DELAY_MS - 1;
        wheel.insert(far, 1);
        wheel.insert(1 << 30, 2);
        assert_eq!(drain(&mut wheel, (1 << 30) - 1), Vec::<u64>::new());
        assert_eq!(drain(&mut wheel, 1 << 30), vec![2]);
        assert_eq!(drain(&mut wheel, far - 1), Vec::<u64>::new());
        assert_eq!(drain(&mut wheel, far), vec![1]);
    }

    #[test]
    fn random_deadlines_match_a_sorted_reference() {
        let mut wheel = Wheel::new();
        let mut expected = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for value in 0..5000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let deadline = state % 300_000;
            wheel.insert(deadline, value);
            expected.push((deadline, value));
        }
        expected.sort();
        let mut fired = Vec::new();
        let mut now = 0;
        while !wheel.is_empty() {
            now += 997;
            wheel.expire(now, &mut fired);
        }
        let expected: Vec<u64> = expected.into_iter().map(|(_, v)| v).collect();
        assert_eq!(fired, expected);
    }
}
