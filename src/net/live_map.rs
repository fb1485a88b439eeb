//! A map of sockets by id that counts how many of them keep the process alive, so the loop's
//! alive check is a counter read instead of a scan (a turn costs the same with 10 or 10,000
//! idle connections). A socket's liveness can only change while it is borrowed mutably, so
//! every mutable access marks its entry, and the count is brought up to date from the marked
//! entries alone when it is read.

use std::cell::Cell;
use std::collections::HashMap;

use crate::reactor::ids::IdHasher;

/// A socket that may keep the process alive (`_PY.unref` takes it out).
pub trait Alive {
    /// Does this socket keep the process alive now?
    fn is_alive(&self) -> bool;
}

struct Slot<T> {
    value: T,
    /// Is it in `LiveMap::live`?
    counted: Cell<bool>,
    /// Is its id in `LiveMap::touched`?
    touched: Cell<bool>,
}

/// Sockets by id with a live count kept up to date lazily.
pub struct LiveMap<T> {
    slots: HashMap<u64, Slot<T>, IdHasher>,
    /// How many counted entries there are.
    live: Cell<usize>,
    /// Entries borrowed mutably since the count was last brought up to date.
    touched: Cell<Vec<u64>>,
}

impl<T> Default for LiveMap<T> {
    fn default() -> Self {
        LiveMap {
            slots: HashMap::default(),
            live: Cell::new(0),
            touched: Cell::new(Vec::new()),
        }
    }
}

impl<T: Alive> LiveMap<T> {
    /// Does any entry keep the process alive? Costs the number of entries touched since the
    /// last call, not the number of entries.
    pub fn any_alive(&self) -> bool {
        let mut touched = self.touched.take();
        for id in touched.drain(..) {
            if let Some(slot) = self.slots.get(&id) {
                slot.touched.set(false);
                let alive = slot.value.is_alive();
                if alive != slot.counted.get() {
                    slot.counted.set(alive);
                    let live = self.live.get();
                    self.live.set(if alive { live + 1 } else { live - 1 });
                }
            }
        }
        self.touched.set(touched);
        let any = self.live.get() > 0;
        debug_assert_eq!(any, self.slots.values().any(|slot| slot.value.is_alive()));
        any
    }

    /// Adds (or replaces) entry `id`.
    pub fn insert(&mut self, id: u64, value: T) {
        let slot = Slot {
            value,
            counted: Cell::new(false),
            touched: Cell::new(false),
        };
        if let Some(old) = self.slots.insert(id, slot) {
            self.uncount(&old);
        }
        self.touch(id);
    }

    /// Takes entry `id` out.
    pub fn remove(&mut self, id: &u64) -> Option<T> {
        let slot = self.slots.remove(id)?;
        self.uncount(&slot);
        Some(slot.value)
    }

    /// Entry `id`, to change (marked for the next count).
    #[inline]
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        let slot = self.slots.get_mut(id)?;
        if !slot.touched.get() {
            slot.touched.set(true);
            self.touched.get_mut().push(*id);
        }
        Some(&mut slot.value)
    }

    /// Every entry, to change (all marked for the next count).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let touched = self.touched.get_mut();
        self.slots.iter_mut().map(|(id, slot)| {
            if !slot.touched.get() {
                slot.touched.set(true);
                touched.push(*id);
            }
            &mut slot.value
        })
    }

    fn touch(&mut self, id: u64) {
        if let Some(slot) = self.slots.get(&id)
            && !slot.touched.get()
        {
            slot.touched.set(true);
            self.touched.get_mut().push(id);
        }
    }

    fn uncount(&mut self, slot: &Slot<T>) {
        if slot.counted.get() {
            *self.live.get_mut() -= 1;
        }
    }
}

impl<T> LiveMap<T> {
    /// Entry `id`.
    #[inline]
    pub fn get(&self, id: &u64) -> Option<&T> {
        self.slots.get(id).map(|slot| &slot.value)
    }

    /// Is there an entry `id`?
    pub fn contains_key(&self, id: &u64) -> bool {
        self.slots.contains_key(id)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if there is no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every entry with its id.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &T)> {
        self.slots.iter().map(|(id, slot)| (id, &slot.value))
    }

    /// Every entry.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.values().map(|slot| &slot.value)
    }

    /// Every id.
    pub fn keys(&self) -> impl Iterator<Item = &u64> {
        self.slots.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sock {
        open: bool,
        referenced: bool,
    }

    impl Alive for Sock {
        fn is_alive(&self) -> bool {
            self.open && self.referenced
        }
    }

    fn sock() -> Sock {
        Sock {
            open: true,
            referenced: true,
        }
    }

    #[test]
    fn the_count_follows_inserts_changes_and_removals() {
        let mut map = LiveMap::default();
        assert!(!map.any_alive());
        map.insert(1, sock());
        map.insert(2, sock());
        assert!(map.any_alive());
        assert_eq!(map.live.get(), 2);
        map.get_mut(&1).expect("1").referenced = false;
        assert!(map.any_alive());
        assert_eq!(map.live.get(), 1);
        map.get_mut(&2).expect("2").open = false;
        assert!(!map.any_alive());
        // Removing an uncounted entry leaves the count; a counted one lowers it.
        map.get_mut(&1).expect("1").referenced = true;
        assert!(map.any_alive());
        map.remove(&2);
        assert_eq!(map.live.get(), 1);
        map.remove(&1);
        assert!(!map.any_alive());
        assert_eq!(map.live.get(), 0);
    }

    #[test]
    fn touching_twice_before_a_count_marks_once_and_replacing_recounts() {
        let mut map = LiveMap::default();
        map.insert(5, sock());
        map.get_mut(&5);
        map.get_mut(&5);
        let touched = map.touched.take();
        assert_eq!(touched, vec![5]);
        map.touched.set(touched);
        assert!(map.any_alive());
        map.insert(5, sock());
        assert!(map.any_alive());
        assert_eq!(map.live.get(), 1);
        for value in map.values_mut() {
            value.open = false;
        }
        assert!(!map.any_alive());
        assert_eq!(map.live.get(), 0);
    }

    #[test]
    fn a_pseudo_random_run_always_agrees_with_a_full_scan() {
        let mut map = LiveMap::default();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let id = seed % 64;
            match (seed >> 8) % 5 {
                0 => map.insert(id, sock()),
                1 => {
                    map.remove(&id);
                }
                2 => {
                    if let Some(value) = map.get_mut(&id) {
                        value.open = !value.open;
                    }
                }
                3 => {
                    if let Some(value) = map.get_mut(&id) {
                        value.referenced = !value.referenced;
                    }
                }
                _ => {
                    let scan = map.values().any(Alive::is_alive);
                    assert_eq!(map.any_alive(), scan);
                }
            }
        }
    }
}
