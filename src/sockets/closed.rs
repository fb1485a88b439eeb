//! The ids of recently closed sockets, so that using one reads "closed" rather than "unknown
//! connection N". Two generations of at most [`GENERATION`] ids each: when the newer one is
//! full it becomes the older one and the older one is dropped, so the last `GENERATION` ids
//! are always remembered and the memory stays bounded (about 150 KB) however many sockets a
//! long-running process closes. (A single set cleared when full kept its capacity for 65,536
//! ids, about 1.2 MB reached in two doubling steps: the RSS "warm-up" growth of the soak.)

use std::collections::HashSet;

use crate::reactor::ids::IdHasher;

/// Ids per generation.
const GENERATION: usize = 4096;

/// Recently closed socket ids.
#[derive(Default)]
pub(super) struct ClosedIds {
    newer: HashSet<u64, IdHasher>,
    older: HashSet<u64, IdHasher>,
}

impl ClosedIds {
    /// Remembers that socket `id` closed.
    pub(super) fn remember(&mut self, id: u64) {
        if self.newer.len() >= GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(id);
    }

    /// True if socket `id` closed recently.
    pub(super) fn contains(&self, id: u64) -> bool {
        self.newer.contains(&id) || self.older.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_generation_of_ids_is_always_remembered_and_memory_stays_bounded() {
        let mut closed = ClosedIds::default();
        for id in 0..100_000u64 {
            closed.remember(id);
            assert!(closed.contains(id));
            assert!(closed.contains(id.saturating_sub(GENERATION as u64 - 1)));
        }
        assert!(!closed.contains(0));
        assert!(closed.newer.capacity() + closed.older.capacity() <= 4 * GENERATION);
    }
}
