//! A table of per-address values keyed by an address's bits (`u32` for IPv4, `u128` for IPv6),
//! that can be asked to start loading an address's slot before it is needed.
//!
//! `guard test` updates one address's counts per failure, and a brute-force log has tens of
//! thousands of addresses: the table outgrows the core's cache and every update waits for memory.
//! Announcing the next address (`prefetch`) while the previous one is counted hides that wait.
//! Open addressing with linear probing; the hash has a per-process random seed, so a log written
//! to collide cannot be prepared in advance.

use std::hash::{BuildHasher, Hash};

/// Values of type `V` per address `K`.
#[derive(Debug, Clone)]
pub struct AddressTable<K, V> {
    /// A power of two in length, at most half full.
    slots: Vec<Slot<K, V>>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot<K, V> {
    key: K,
    used: bool,
    value: V,
}

impl<K: Key, V: Default + Copy> Default for AddressTable<K, V> {
    fn default() -> Self {
        AddressTable {
            slots: vec![Slot::default(); 16],
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

/// What a key must be: an address's bits.
pub trait Key: Copy + Default + Eq + Hash {}
impl Key for u32 {}
impl Key for u128 {}

impl<K: Key, V: Default + Copy> AddressTable<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Asks the CPU to start loading `key`'s slot; a hint only, it changes nothing.
    pub fn prefetch(&self, key: K) {
        let slot = &self.slots[self.home(key)];
        prefetch_read(std::ptr::from_ref(slot).cast());
    }

    /// The value for `key`, inserted as `V::default()` if it was not there.
    pub fn entry(&mut self, key: K) -> &mut V {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let at = self.find(key);
        let slot = &mut self.slots[at];
        if !slot.used {
            *slot = Slot {
                key,
                used: true,
                value: V::default(),
            };
            self.len += 1;
        }
        &mut slot.value
    }

    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.slots
            .iter()
            .filter(|s| s.used)
            .map(|s| (s.key, &s.value))
    }

    fn home(&self, key: K) -> usize {
        // The high bits of the hash are the best mixed; the table is at most 2^32 slots here.
        let bits = self.slots.len().trailing_zeros();
        (self.hasher.hash_one(key) >> (64 - bits)) as usize
    }

    /// `key`'s slot, or the free slot where it belongs.
    fn find(&self, key: K) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        while self.slots[at].used && self.slots[at].key != key {
            at = (at + 1) & mask;
        }
        at
    }

    fn grow(&mut self) {
        let doubled = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for slot in old.into_iter().filter(|s| s.used) {
            let at = self.find(slot.key);
            self.slots[at] = slot;
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn prefetch_read(p: *const i8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint that never faults, whatever the address; SSE is part of the
    // x86_64 baseline.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_read(_: *const i8) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_hash_map_through_growth() {
        let mut table: AddressTable<u32, u64> = AddressTable::default();
        let mut reference: HashMap<u32, u64> = HashMap::new();
        // Keys that share low bits, high bits, zero and the all-ones address.
        let mut key = 0x1234_5678u32;
        for i in 0..50_000u64 {
            key = key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let k = match i % 5 {
                0 => key & 0xff,
                1 => key << 24,
                2 => 0,
                3 => u32::MAX,
                _ => key,
            };
            table.prefetch(k);
            *table.entry(k) += i;
            *reference.entry(k).or_default() += i;
        }
        assert_eq!(table.len(), reference.len());
        let mut got: Vec<(u32, u64)> = table.iter().map(|(k, v)| (k, *v)).collect();
        let mut want: Vec<(u32, u64)> = reference.into_iter().collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn an_empty_table_has_nothing() {
        let table: AddressTable<u128, u32> = AddressTable::default();
        assert!(table.is_empty());
        assert_eq!(table.iter().count(), 0);
    }
}
