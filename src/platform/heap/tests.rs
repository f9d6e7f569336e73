//! The arena's tests: blocks packed low, neighbours merged, pages handed back, large blocks apart.

use super::*;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// The free list as (offset, size) pairs, and `bump`, checking what they promise: blocks in
/// address order, none touching another or the top.
fn free_list<const N: usize>(heap: &Arena<N>) -> (Vec<(usize, usize)>, usize) {
    heap.locked(|state| {
        let mut list = Vec::new();
        let mut block = state.free;
        while !block.is_null() {
            let Free { next, size } = unsafe { block.read() };
            list.push((block as usize - heap.base(), size));
            block = next;
        }
        for pair in list.windows(2) {
            assert!(
                pair[0].0 + pair[0].1 < pair[1].0,
                "unordered or unmerged: {list:?}"
            );
        }
        if let Some(&(at, size)) = list.last() {
            assert!(
                at + size < state.bump,
                "a free block touches the top: {list:?}"
            );
        }
        (list, state.bump)
    })
}

#[test]
fn the_lowest_free_block_that_fits_is_used() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let a = HEAP.alloc(layout(100));
        let b = HEAP.alloc(layout(40));
        let c = HEAP.alloc(layout(100));
        let _d = HEAP.alloc(layout(10));
        assert_eq!(
            (b as usize - a as usize, c as usize - b as usize),
            (112, 48)
        );
        HEAP.dealloc(a, layout(100));
        HEAP.dealloc(c, layout(100));
        assert_eq!(free_list(&HEAP).0, vec![(0, 112), (160, 112)]);
        assert_eq!(HEAP.alloc(layout(20)), a, "first fit, from the low end");
        assert_eq!(free_list(&HEAP).0, vec![(32, 80), (160, 112)]);
        assert_eq!(
            HEAP.alloc(layout(90)),
            c,
            "the first block too small is passed over"
        );
    }
}

#[test]
fn freed_neighbours_merge_and_the_top_goes_back() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let blocks: Vec<*mut u8> = (0..5).map(|_| HEAP.alloc(layout(64))).collect();
        HEAP.dealloc(blocks[1], layout(64));
        HEAP.dealloc(blocks[3], layout(64));
        assert_eq!(free_list(&HEAP), (vec![(64, 64), (192, 64)], 320));
        HEAP.dealloc(blocks[2], layout(64));
        assert_eq!(free_list(&HEAP), (vec![(64, 192)], 320), "merged both ways");
        HEAP.dealloc(blocks[4], layout(64));
        assert_eq!(
            free_list(&HEAP),
            (vec![], 64),
            "the top and what touched it"
        );
        HEAP.dealloc(blocks[0], layout(64));
        assert_eq!(free_list(&HEAP), (vec![], 0));
    }
}

#[test]
fn realloc_grows_and_shrinks_in_place_where_it_can() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let a = HEAP.alloc(layout(32));
        a.write_bytes(7, 32);
        let grown = HEAP.realloc(a, layout(32), 1000);
        assert_eq!(grown, a, "the top grows");
        let b = HEAP.alloc(layout(16));
        let shrunk = HEAP.realloc(a, layout(1000), 100);
        assert_eq!(shrunk, a);
        assert_eq!(free_list(&HEAP).0, vec![(112, 896)], "the tail is free");
        let again = HEAP.realloc(a, layout(100), 500);
        assert_eq!(again, a, "grown into the free block above");
        assert!(std::slice::from_raw_parts(again, 32)
            .iter()
            .all(|&x| x == 7));
        let moved = HEAP.realloc(again, layout(500), 2000);
        assert_ne!(moved, a, "no room above: moved");
        assert!(std::slice::from_raw_parts(moved, 32)
            .iter()
            .all(|&x| x == 7));
        HEAP.dealloc(moved, layout(2000));
        HEAP.dealloc(b, layout(16));
        assert_eq!(free_list(&HEAP), (vec![], 0));
    }
}

#[test]
fn realloc_keeps_the_bytes_across_the_arena_and_mappings() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let mut block = HEAP.alloc(layout(10));
        block.write_bytes(7, 10);
        let _pin = HEAP.alloc(layout(10));
        let mut size = 10;
        for new_size in [12, 200, 3000, 5000, 70_000, 9000, 40, 5] {
            block = HEAP.realloc(block, layout(size), new_size);
            assert!(!block.is_null());
            let kept = size.min(new_size);
            assert!(std::slice::from_raw_parts(block, kept)
                .iter()
                .all(|&b| b == 7));
            block.write_bytes(7, new_size);
            size = new_size;
        }
        HEAP.dealloc(block, layout(size));
    }
}

#[test]
fn zeroed_blocks_are_zero_even_when_reused() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let a = HEAP.alloc(layout(64));
        let _pin = HEAP.alloc(layout(8));
        a.write_bytes(0xAB, 64);
        HEAP.dealloc(a, layout(64));
        let b = HEAP.alloc_zeroed(layout(64));
        assert_eq!(a, b);
        assert!(std::slice::from_raw_parts(b, 64).iter().all(|&x| x == 0));
        let big = HEAP.alloc_zeroed(layout(10_000));
        assert!(std::slice::from_raw_parts(big, 10_000)
            .iter()
            .all(|&x| x == 0));
        HEAP.dealloc(big, layout(10_000));
    }
}

#[test]
fn large_and_over_aligned_blocks_are_kept_apart() {
    static HEAP: Arena<65536> = Arena::new();
    unsafe {
        let big = HEAP.alloc(layout(65536));
        assert!(!HEAP.owns(big));
        assert_eq!(big as usize % PAGE, 0);
        big.write_bytes(1, 65536);
        HEAP.dealloc(big, layout(65536));
        let aligned = Layout::from_size_align(64, 64).unwrap();
        let odd = HEAP.alloc(aligned);
        assert!(
            !HEAP.owns(odd) && (odd as usize).is_multiple_of(64),
            "over-aligned: the system's"
        );
        HEAP.dealloc(odd, aligned);
        assert_eq!(free_list(&HEAP), (vec![], 0));
    }
}

#[test]
fn a_full_arena_hands_on_to_the_system_allocator() {
    static HEAP: Arena<256> = Arena::new();
    unsafe {
        let blocks: Vec<*mut u8> = (0..20).map(|_| HEAP.alloc(layout(64))).collect();
        assert_eq!(blocks.iter().filter(|b| HEAP.owns(**b)).count(), 4);
        for &block in &blocks {
            block.write_bytes(3, 64);
        }
        for &block in &blocks {
            HEAP.dealloc(block, layout(64));
        }
        assert_eq!(free_list(&HEAP), (vec![], 0));
        assert!(HEAP.owns(HEAP.alloc(layout(64))));
    }
}

/// Whether each page of [start, start + len) is resident, as the kernel says.
#[cfg(target_os = "linux")]
fn resident(start: usize, len: usize) -> Vec<bool> {
    let mut vec = vec![0u8; len.div_ceil(PAGE)];
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    vec.iter().map(|b| b & 1 == 1).collect()
}

#[cfg(target_os = "linux")]
#[test]
fn release_hands_back_the_pages_only_free_blocks_cover() {
    static HEAP: Arena<{ 16 * PAGE }> = Arena::new();
    unsafe {
        let blocks: Vec<*mut u8> = (0..40).map(|_| HEAP.alloc(layout(1024))).collect();
        for &block in &blocks {
            block.write_bytes(9, 1024);
        }
        let keep = [0, 21];
        for (i, &block) in blocks.iter().enumerate() {
            if !keep.contains(&i) {
                HEAP.dealloc(block, layout(1024));
            }
        }
        let (start, end) = (blocks[0] as usize, blocks[39] as usize + 1024);
        let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        assert!(resident(first, last - first).iter().all(|&r| r));
        HEAP.release();
        // What stays: the pages the kept blocks and the free block's head between them touch.
        let kept = |page: usize| {
            let touches = |at: usize, len: usize| at < page + PAGE && page < at + len;
            touches(start, 1024 + GRAIN) || touches(blocks[21] as usize, 1024)
        };
        let expect: Vec<bool> = (first..last).step_by(PAGE).map(kept).collect();
        assert_eq!(resident(first, last - first), expect);
        assert!(expect.iter().filter(|&&r| !r).count() >= 6, "{expect:?}");
        assert!(std::slice::from_raw_parts(blocks[21], 1024)
            .iter()
            .all(|&b| b == 9));
        assert_eq!(
            free_list(&HEAP).0.len(),
            1,
            "the free list survives the release"
        );
        let again = HEAP.alloc(layout(3000));
        again.write_bytes(1, 3000);
        HEAP.dealloc(again, layout(3000));
    }
}

/// A long random mix of allocations, frees and reallocs: every live block keeps its bytes,
/// and the free list keeps its order.
#[test]
fn random_use_never_shares_a_byte() {
    static HEAP: Arena<{ 1 << 18 }> = Arena::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
    for round in 0..20_000usize {
        let tag = (round % 251) as u8 + 1;
        unsafe {
            match next(3) {
                0 if !live.is_empty() => {
                    let (block, size, tag) = live.swap_remove(next(live.len()));
                    assert!(std::slice::from_raw_parts(block, size)
                        .iter()
                        .all(|&b| b == tag));
                    HEAP.dealloc(block, layout(size));
                }
                1 if !live.is_empty() => {
                    let i = next(live.len());
                    let (block, size, old) = live[i];
                    let new_size = 1 + next(5000);
                    let moved = HEAP.realloc(block, layout(size), new_size);
                    let kept = std::slice::from_raw_parts(moved, size.min(new_size));
                    assert!(kept.iter().all(|&b| b == old), "round {round}");
                    moved.write_bytes(tag, new_size);
                    live[i] = (moved, new_size, tag);
                }
                _ => {
                    let limit = if next(10) == 0 { 6000 } else { 300 };
                    let size = 1 + next(limit);
                    let block = HEAP.alloc(layout(size));
                    block.write_bytes(tag, size);
                    live.push((block, size, tag));
                }
            }
        }
        if round % 1000 == 0 {
            free_list(&HEAP);
            HEAP.release();
        }
    }
    for (block, size, tag) in live {
        unsafe {
            assert!(std::slice::from_raw_parts(block, size)
                .iter()
                .all(|&b| b == tag));
            HEAP.dealloc(block, layout(size));
        }
    }
    assert_eq!(free_list(&HEAP), (vec![], 0));
}

#[test]
fn threads_never_share_a_block() {
    static HEAP: Arena<{ 1 << 20 }> = Arena::new();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            scope.spawn(move || unsafe {
                for round in 0..2000usize {
                    let size = 1 + (round * 37 + t as usize * 11) % 600;
                    let block = HEAP.alloc(layout(size));
                    block.write_bytes(t, size);
                    std::hint::black_box(block);
                    let bytes = std::slice::from_raw_parts(block, size);
                    assert!(bytes.iter().all(|&b| b == t), "thread {t} round {round}");
                    HEAP.dealloc(block, layout(size));
                }
            });
        }
    });
    assert_eq!(free_list(&HEAP), (vec![], 0));
}
