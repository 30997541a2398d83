//! Failure windows per address (work in progress).
