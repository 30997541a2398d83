//! Lines from standard input (containers, `some-command | portcullis guard run`), timed on arrival.

use std::io::Read;

use jiff::Timestamp;

use super::split::{Split, Splitter};
use super::{Sink, SourceMsg};

pub fn run(source: usize, sink: Sink) {
    let mut stdin = std::io::stdin().lock();
    let mut splitter = Splitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                sink(SourceMsg::Note {
                    source,
                    text: format!("stdin: {e}"),
                    warn: true,
                });
                break;
            }
        };
        let mut out = Split::default();
        splitter.push(&buf[..n], &mut out);
        if !deliver(source, &sink, out, Timestamp::now()) {
            return;
        }
    }
    sink(SourceMsg::Note {
        source,
        text: "stdin closed".into(),
        warn: false,
    });
}

fn deliver(source: usize, sink: &Sink, out: Split, now: Timestamp) -> bool {
    if out.dropped > 0
        && !sink(SourceMsg::Dropped {
            source,
            count: out.dropped,
        })
    {
        return false;
    }
    if out.lines.is_empty() {
        return true;
    }
    let lines = out.lines.into_iter().map(|l| (l, now)).collect();
    sink(SourceMsg::Lines {
        source,
        lines,
        mark: None,
    })
}
