//! Several logs' selected lines printed as one stream in the order they arrived (by the
//! time index), each after its source's prefix or as one of pm2's JSON objects.

use super::query::{Chain, Filter, Scanner};
use super::source::{emit, Clean, Source};
use std::collections::VecDeque;
use std::io::{self, Write};

/// Where one source's lines come from: read as they are printed, or (the last N of a
/// selection) gathered first.
enum Feed {
    Stream(Box<Chain>, Option<i64>, Vec<u8>),
    Kept(VecDeque<(i64, Vec<u8>)>),
    Done,
}

impl Feed {
    fn head(&self) -> Option<i64> {
        match self {
            Feed::Stream(_, time, _) => *time,
            Feed::Kept(lines) => lines.front().map(|l| l.0),
            Feed::Done => None,
        }
    }
}

/// Prints the lines `filter` selects of every source — the last `last` of each when given —
/// merged in the order they arrived (a tie keeps the sources' order). With `keep_open`,
/// each source is left open where its lines ended, for a follower to go on from.
pub fn print_selected(
    sources: &mut [Source],
    filter: &Filter,
    last: Option<usize>,
    keep_open: bool,
    clean: Clean,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut feeds = Vec::with_capacity(sources.len());
    let mut scanners = Vec::with_capacity(sources.len());
    for source in sources.iter() {
        let from = match (last, filter.is_empty()) {
            (Some(n), true) => Scanner::tail_from(&source.path, n)?,
            _ => None,
        };
        let Some(mut scanner) = Chain::open(&source.path, filter, from)? else {
            feeds.push(Feed::Done);
            scanners.push(None);
            continue;
        };
        let mut line = Vec::new();
        match last.filter(|_| !filter.is_empty()) {
            Some(n) => {
                let mut kept = VecDeque::with_capacity(n.min(4096));
                while let Some(time) = scanner.next_line(&mut line)? {
                    if kept.len() == n {
                        kept.pop_front();
                    }
                    if n > 0 {
                        kept.push_back((time, std::mem::take(&mut line)));
                    }
                }
                feeds.push(Feed::Kept(kept));
                scanners.push(Some(scanner));
            }
            None => {
                let time = scanner.next_line(&mut line)?;
                feeds.push(Feed::Stream(Box::new(scanner), time, line));
                scanners.push(None);
            }
        }
    }
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        let next = (0..feeds.len())
            .filter_map(|i| feeds[i].head().map(|t| (t, i)))
            .min();
        let Some((time, i)) = next else { break };
        match &mut feeds[i] {
            Feed::Stream(scanner, head, line) => {
                emit(&sources[i], line, time, clean, &mut buf);
                *head = scanner.next_line(line)?;
            }
            Feed::Kept(lines) => {
                if let Some((_, line)) = lines.pop_front() {
                    emit(&sources[i], &line, time, clean, &mut buf);
                }
            }
            Feed::Done => {}
        }
        if buf.len() >= 1 << 16 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    if keep_open {
        for ((source, feed), scanner) in sources.iter_mut().zip(feeds).zip(scanners) {
            source.from = match (feed, scanner) {
                (Feed::Stream(scanner, ..), _) => Some(scanner.into_follow()),
                (_, Some(scanner)) => Some(scanner.into_follow()),
                _ => None,
            };
        }
    }
    Ok(())
}
