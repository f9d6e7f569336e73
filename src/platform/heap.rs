//! The light supervisor's heap: small blocks packed low in one arena, large ones mapped apart.
//!
//! A supervisor keeps a few kilobytes for its whole life (its record, paths, the service's
//! argv and environment), allocated among start-up temporaries twice their size. A general
//! allocator spreads them over a page or more per size class (musl's mallocng: six dirty pages
//! for 6 kB), and a page stays dirty while one live block is on it. Here every small block
//! comes from one arena, first fit from the lowest address, freed blocks
//! merged with their free neighbours: what outlives start-up is packed into the first pages,
//! and [`Arena::release`] hands back every whole page that only free blocks cover. Blocks above
//! a page are mapped on their own and unmapped when freed, so a buffer allocated but not yet
//! written (the pump's) costs no page. The arena is mapped on the first allocation, page
//! aligned and apart from the program's static data: in `.bss` it would sit among the C
//! library's statics and spread them over pages of their own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

mod blocks;

/// The largest block served from the arena; larger ones are mapped.
const LARGEST: usize = 4096;
/// Every block's size and address are multiples of this: room for a free block's header.
const GRAIN: usize = 16;
const PAGE: usize = 4096;

/// The head of a free block: the next free block (by address) and this one's size.
#[repr(C)]
struct Free {
    next: *mut Free,
    size: usize,
}

struct State {
    /// The offset of the first byte above every block handed out.
    bump: usize,
    /// The highest `bump` has been since the last release.
    peak: usize,
    /// The free blocks below `bump`, by address, none adjacent to another.
    free: *mut Free,
}

/// An allocator with an arena of `N` bytes; once it is full (or cannot be mapped), small
/// blocks come from the system allocator (told apart by address when freed).
pub struct Arena<const N: usize> {
    lock: AtomicBool,
    state: UnsafeCell<State>,
    /// The arena's address once mapped, else 0; set once, under the lock.
    memory: AtomicUsize,
}

// SAFETY: every access to `state` and to free blocks' heads is made under `lock`.
unsafe impl<const N: usize> Sync for Arena<N> {}

/// `size` as the arena hands it out.
fn rounded(size: usize) -> usize {
    size.max(1).div_ceil(GRAIN) * GRAIN
}

impl<const N: usize> Arena<N> {
    pub const fn new() -> Self {
        Arena {
            lock: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                bump: 0,
                peak: 0,
                free: ptr::null_mut(),
            }),
            memory: AtomicUsize::new(0),
        }
    }

    /// The arena's address (0 before the first allocation).
    fn base(&self) -> usize {
        self.memory.load(Ordering::Acquire)
    }

    /// The arena's address, mapping it if it is not yet; 0 if it cannot be. Under the lock.
    fn mapped_base(&self) -> usize {
        let base = self.base();
        if base != 0 {
            return base;
        }
        let base = map(N) as usize;
        self.memory.store(base, Ordering::Release);
        base
    }

    fn owns(&self, block: *mut u8) -> bool {
        let base = self.base();
        base != 0 && (base..base + N).contains(&(block as usize))
    }

    /// Runs `f` on the state under the lock (a spin lock: a supervisor has one thread but
    /// for a rare watcher, and nothing under it waits).
    fn locked<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference to the state.
        let result = f(unsafe { &mut *self.state.get() });
        self.lock.store(false, Ordering::Release);
        result
    }

    /// Hands back to the kernel every whole page of the arena that holds no live block (its
    /// contents are free, and read as zero if touched again). For a long-lived process, once
    /// its start-up is over; harmless at any time.
    pub fn release(&self) {
        self.locked(|state| {
            let mut block = state.free;
            while !block.is_null() {
                // SAFETY: a free block's head was written by `give` under this lock.
                let Free { next, size } = unsafe { block.read() };
                // The head stays: it is the free list.
                drop_pages(block as usize + GRAIN, block as usize + size);
                block = next;
            }
            let top = self.base() + state.bump;
            drop_pages(top, (self.base() + state.peak).next_multiple_of(PAGE));
            state.peak = state.bump;
        });
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Drops the whole pages within [start, end).
fn drop_pages(start: usize, end: usize) {
    let (start, end) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
    if start < end {
        // SAFETY: the range lies inside the arena and holds no live block; MADV_DONTNEED
        // only drops private anonymous pages, which read as zero when touched again.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// `size` rounded up to whole pages.
fn pages(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping of fresh pages; no existing memory is touched.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            pages(size),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        addr.cast()
    }
}

fn small(layout: Layout) -> bool {
    layout.size() <= LARGEST && layout.align() <= GRAIN
}

fn mapped(layout: Layout) -> bool {
    layout.size() > LARGEST && layout.align() <= PAGE
}

// SAFETY: arena blocks are disjoint (the free list and `bump` never hand out a byte twice),
// aligned to GRAIN (small layouts ask no more), and freed back by address; mapped blocks are
// page-aligned and unmapped by their layout; the rest are the system allocator's.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if small(layout) {
            let block = self.locked(|state| self.take(state, rounded(layout.size())));
            if !block.is_null() {
                return block;
            }
        } else if mapped(layout) {
            return map(layout.size());
        }
        // SAFETY: the caller's layout has a non-zero size, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout) {
            return map(layout.size());
        }
        // SAFETY: as in alloc; a block it returns holds layout.size() bytes.
        unsafe {
            let block = self.alloc(layout);
            if !block.is_null() {
                block.write_bytes(0, layout.size());
            }
            block
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if self.owns(block) {
            self.locked(|state| self.give(state, block, rounded(layout.size())));
        } else if mapped(layout) {
            // SAFETY: a mapped layout's block is the mapping `map` made for this size.
            unsafe { libc::munmap(block.cast(), pages(layout.size())) };
        } else {
            // SAFETY: a block not in the arena and not mapped came from the system allocator.
            unsafe { System.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: new_size > 0 and, rounded to the alignment, fits isize (GlobalAlloc's terms).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if self.owns(block) && small(new) {
            let (old, want) = (rounded(layout.size()), rounded(new_size));
            if self.locked(|state| self.resize(state, block, old, want)) {
                return block;
            }
        }
        // SAFETY: `new` is a valid layout (above); the old block is live for layout.size().
        unsafe {
            let fresh = self.alloc(new);
            if !fresh.is_null() {
                ptr::copy_nonoverlapping(block, fresh, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            fresh
        }
    }
}

/// The arena of the light supervisor's heap: the musl build's `main.rs` makes [`Global`] its
/// global allocator; in any other build it stays empty and releasing it does nothing.
pub static ARENA: Arena<{ 1 << 20 }> = Arena::new();

/// The global allocator that allocates from [`ARENA`].
pub struct Global;

// SAFETY: every call is handed on to ARENA, an allocator in its own right.
unsafe impl GlobalAlloc for Global {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's terms are passed on unchanged.
        unsafe { ARENA.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in alloc.
        unsafe { ARENA.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in alloc.
        unsafe { ARENA.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in alloc.
        unsafe { ARENA.realloc(block, layout, new_size) }
    }
}

#[cfg(test)]
mod tests;
