//! Connection key → slot, for the at most `CAPACITY` live connections.
//!
//! Keys are hashes already (of the syslog prefix, which clients do not write) and there are
//! never more than 100 of them, so a fixed open-addressing table with linear probing and
//! backward-shift deletion does in a few instructions what a general hash map does in dozens;
//! every log line inserts, finds or removes here.

const BUCKETS: usize = 256;
const MASK: usize = BUCKETS - 1;

#[derive(Clone)]
pub struct IdTable {
    keys: Box<[u64; BUCKETS]>,
    /// Slot + 1 of each bucket's connection; 0 is an empty bucket.
    slots: Box<[u16; BUCKETS]>,
    len: usize,
}

impl Default for IdTable {
    fn default() -> Self {
        IdTable {
            keys: Box::new([0; BUCKETS]),
            slots: Box::new([0; BUCKETS]),
            len: 0,
        }
    }
}

impl std::fmt::Debug for IdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdTable({} connections)", self.len)
    }
}

impl IdTable {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The bucket holding `key`, or the empty bucket where it would go.
    fn bucket(&self, key: u64) -> (usize, bool) {
        let mut at = key as usize & MASK;
        loop {
            if self.slots[at] == 0 {
                return (at, false);
            }
            if self.keys[at] == key {
                return (at, true);
            }
            at = (at + 1) & MASK;
        }
    }

    pub fn get(&self, key: u64) -> Option<usize> {
        match self.bucket(key) {
            (at, true) => Some(usize::from(self.slots[at]) - 1),
            _ => None,
        }
    }

    /// Maps `key` to `slot`. The caller keeps at most `CAPACITY` keys (far below the buckets).
    pub fn insert(&mut self, key: u64, slot: usize) {
        debug_assert!(
            self.len < BUCKETS / 2,
            "the table is kept at most half full"
        );
        let (at, found) = self.bucket(key);
        if !found {
            self.len += 1;
        }
        self.keys[at] = key;
        self.slots[at] = u16::try_from(slot + 1).expect("slots are few");
    }

    pub fn remove(&mut self, key: u64) -> Option<usize> {
        let (mut hole, found) = self.bucket(key);
        if !found {
            return None;
        }
        let slot = usize::from(self.slots[hole]) - 1;
        self.len -= 1;
        // Backward shift: pull later entries of the probe run into the hole when their home
        // bucket does not lie between the hole and where they are.
        let mut next = (hole + 1) & MASK;
        while self.slots[next] != 0 {
            let home = self.keys[next] as usize & MASK;
            if next.wrapping_sub(home) & MASK >= next.wrapping_sub(hole) & MASK {
                self.keys[hole] = self.keys[next];
                self.slots[hole] = self.slots[next];
                hole = next;
            }
            next = (next + 1) & MASK;
        }
        self.slots[hole] = 0;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts and removals, keys crowded into few home buckets, against a HashMap.
    #[test]
    fn behaves_like_a_map() {
        let mut table = IdTable::default();
        let mut model: HashMap<u64, usize> = HashMap::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..200_000usize {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Few distinct low bytes: long probe runs that wrap around the end.
            let key = (seed >> 40) << 8 | [0u64, 1, 254, 255][(seed % 4) as usize];
            if model.len() < 100 && seed % 3 != 0 {
                table.insert(key, step % 1000);
                model.insert(key, step % 1000);
            } else {
                let victim = model
                    .keys()
                    .next()
                    .copied()
                    .filter(|_| seed % 2 == 0)
                    .unwrap_or(key);
                assert_eq!(table.remove(victim), model.remove(&victim));
            }
            assert_eq!(table.len(), model.len());
            if step % 97 == 0 {
                for (&k, &v) in &model {
                    assert_eq!(table.get(k), Some(v));
                }
            }
            assert_eq!(table.get(key), model.get(&key).copied());
        }
    }
}
