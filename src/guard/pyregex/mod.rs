//! Python `re` patterns run on linear-time engines: an exact translation to the `regex` crate, and a bounded backtracking fallback only where no linear equivalent exists.
