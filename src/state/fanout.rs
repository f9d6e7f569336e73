//! File work on many services at once. Removing a file whose data reached the disk makes the
//! file system free its blocks, and some (ext4 mounted with `discard`) wait for the device
//! there: about 3 ms per file, during which the CPU is idle. Those waits overlap when a few
//! threads do the work, so a command that removes the files of thousands of services spreads
//! it over a small pool; results stay in the order of the items. Work that keeps the CPU
//! busy instead (`list` reading the kernel's view of thousands of processes) is spread over
//! the CPUs this process may use ([`spread`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// At most this many threads (the waits overlap well up to about this many).
const WORKERS: usize = 16;
/// Below this many items the work is done on the calling thread.
const ALONE_BELOW: usize = 4;

/// Below this many items CPU-bound work stays on the calling thread: starting a thread
/// (~50 µs) and finding how many CPUs there are cost more than they save.
const SPREAD_BELOW: usize = 256;
/// At most this many threads for CPU-bound work.
const CPU_WORKERS: usize = 4;

/// `work` applied to each of `items`, on up to `WORKERS` threads; the results in order.
pub fn each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < ALONE_BELOW {
        return items.iter().map(work).collect();
    }
    on_threads(WORKERS, items, work)
}

/// `work`, which keeps a CPU busy, applied to each of `items` on as many threads as this
/// process has CPUs (at most `CPU_WORKERS`); the results in order.
pub fn spread<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    // Asked once per process (it reads the cgroup's CPU quota files).
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = match items.len() < SPREAD_BELOW {
        true => 1,
        false => *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    match cpus.min(CPU_WORKERS) {
        1 => items.iter().map(work).collect(),
        threads => on_threads(threads, items, work),
    }
}

/// `work` applied to each of `items` by `threads` threads (the caller's among them), each
/// taking the next item not yet taken; the results in order.
fn on_threads<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let run = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = items.get(i) else { break };
        let result = work(item);
        if let Ok(mut all) = results.lock() {
            all[i] = Some(result);
        }
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(items.len()))
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, run).ok())
            .collect();
        run();
        for helper in helpers {
            let _ = helper.join();
        }
    });
    let all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    // Each slot was filled by the loop that took its index; a panic in `work` ends the
    // command before here (scope re-raises it).
    all.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = each(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(each(&[7u8], |i| *i), vec![7]);
        assert!(each(&Vec::<u8>::new(), |i| *i).is_empty());
        assert_eq!(
            spread(&items, |i| i + 1),
            items.iter().map(|i| i + 1).collect::<Vec<_>>()
        );
        assert_eq!(spread(&items[..3], |i| *i), vec![0, 1, 2]);
    }
}
