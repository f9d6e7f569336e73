//! The arena's free list: first fit from the lowest address, neighbours merged when freed.
//! Every function here runs under the arena's lock, on sizes already rounded to GRAIN.

use super::{Arena, Free, State, GRAIN, PAGE};
use std::ptr;

impl<const N: usize> Arena<N> {
    /// A block of `size` bytes: the lowest free one that fits (split, its low end handed
    /// out), else from above `bump`; null when the arena cannot hold it.
    pub(super) fn take(&self, state: &mut State, size: usize) -> *mut u8 {
        let mut link: *mut *mut Free = &mut state.free;
        // SAFETY: `link` points at the list's head or at a free block's `next`, and every
        // block on the list has a head written by `give` or here.
        unsafe {
            while !(*link).is_null() {
                let block = *link;
                let Free { next, size: room } = block.read();
                if room >= size {
                    *link = if room > size {
                        let rest = block.cast::<u8>().add(size).cast::<Free>();
                        rest.write(Free {
                            next,
                            size: room - size,
                        });
                        rest
                    } else {
                        next
                    };
                    return block.cast();
                }
                link = &mut (*block).next;
            }
        }
        let base = self.mapped_base();
        if base == 0 || N - state.bump < size {
            return ptr::null_mut();
        }
        let block = (base + state.bump) as *mut u8;
        state.bump += size;
        state.peak = state.peak.max(state.bump);
        block
    }

    /// Frees the `size` bytes at `block`: merged into the free neighbour below and above, or
    /// into the space above the last block handed out.
    pub(super) fn give(&self, state: &mut State, block: *mut u8, size: usize) {
        let start = block as usize;
        let end = start + size;
        let mut prev: *mut Free = ptr::null_mut();
        let mut next = state.free;
        // SAFETY: as in `take`: the list's blocks all have heads; the freed block is the
        // caller's, at least GRAIN bytes, GRAIN-aligned, and on no list.
        unsafe {
            while !next.is_null() && (next as usize) < start {
                prev = next;
                next = (*next).next;
            }
            let below = !prev.is_null() && prev as usize + (*prev).size == start;
            let above = !next.is_null() && next as usize == end;
            let (head, size) = if below {
                (prev, (*prev).size + size)
            } else {
                (block.cast::<Free>(), size)
            };
            let (size, after) = if above {
                (size + (*next).size, (*next).next)
            } else {
                (size, next)
            };
            if head as usize + size == self.base() + state.bump {
                // The top of what is handed out: it goes back above `bump`.
                state.bump = head as usize - self.base();
                self.unlink_from(state, prev, below, after);
                return;
            }
            head.write(Free { next: after, size });
            if !below {
                self.link_after(state, prev, head);
            }
        }
    }

    /// Takes the merged block off the list (it became space above `bump`): what comes after
    /// it (nothing, as it was the top) now follows the block before it.
    fn unlink_from(&self, state: &mut State, prev: *mut Free, merged_prev: bool, after: *mut Free) {
        debug_assert!(after.is_null());
        let before = if merged_prev {
            // `prev` itself was merged: find the block before it.
            let mut before: *mut Free = ptr::null_mut();
            let mut block = state.free;
            while block != prev {
                before = block;
                // SAFETY: `prev` is on the list, so the walk reaches it through heads.
                block = unsafe { (*block).next };
            }
            before
        } else {
            prev
        };
        self.link_after(state, before, after);
    }

    /// Makes `block` follow `prev` (or head the list when `prev` is null).
    fn link_after(&self, state: &mut State, prev: *mut Free, block: *mut Free) {
        if prev.is_null() {
            state.free = block;
        } else {
            // SAFETY: `prev` is a free block on the list.
            unsafe { (*prev).next = block };
        }
    }

    /// Makes the block of `old` bytes at `block` hold `new` bytes where it is: a shrink gives
    /// its tail back; a growth takes from above `bump` or from the free block just above.
    /// False when it cannot grow in place.
    pub(super) fn resize(&self, state: &mut State, block: *mut u8, old: usize, new: usize) -> bool {
        let end = block as usize + old;
        if new <= old {
            if new < old {
                self.give(state, (end - (old - new)) as *mut u8, old - new);
            }
            return true;
        }
        let more = new - old;
        if end == self.base() + state.bump {
            if N - state.bump < more {
                return false;
            }
            state.bump += more;
            state.peak = state.peak.max(state.bump);
            return true;
        }
        self.take_at(state, end, more)
    }

    /// Takes `size` bytes at `start` from the free block that begins there, if it has them.
    fn take_at(&self, state: &mut State, start: usize, size: usize) -> bool {
        let mut link: *mut *mut Free = &mut state.free;
        // SAFETY: as in `take`.
        unsafe {
            while !(*link).is_null() && (*link as usize) < start {
                link = &mut (**link).next;
            }
            let block = *link;
            if block as usize != start || (*block).size < size {
                return false;
            }
            let Free { next, size: room } = block.read();
            *link = if room > size {
                let rest = (start + size) as *mut Free;
                rest.write(Free {
                    next,
                    size: room - size,
                });
                rest
            } else {
                next
            };
        }
        true
    }
}

const _: () = assert!(GRAIN >= std::mem::size_of::<Free>() && PAGE.is_multiple_of(GRAIN));
