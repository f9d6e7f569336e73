//! A minimal FSEvents stream (CoreServices' `FSEvents.h`, CoreFoundation for its path array,
//! libdispatch for the queue its callbacks run on). One stream covers whole trees: no walk, no
//! descriptor per file or folder, no symlink followed, nothing in the tree opened.

use std::ffi::{c_char, c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

type CFRef = *const c_void;
type CFIndex = isize;
type StreamRef = *mut c_void;
type Queue = *mut c_void;

/// `FSEventStreamCallback`.
pub type Callback = extern "C" fn(
    stream: *const c_void,
    info: *mut c_void,
    count: usize,
    paths: *mut c_void,
    flags: *const u32,
    ids: *const u64,
);

/// `FSEventStreamContext`.
#[repr(C)]
pub struct Context {
    pub version: CFIndex,
    pub info: *mut c_void,
    pub retain: Option<extern "C" fn(*const c_void) -> *const c_void>,
    pub release: Option<extern "C" fn(*const c_void)>,
    pub copy_description: Option<extern "C" fn(*const c_void) -> CFRef>,
}

/// `CFArrayCallBacks`, only ever passed by address.
#[repr(C)]
struct ArrayCallBacks {
    _opaque: [u8; 0],
}

/// `kFSEventStreamEventIdSinceNow`.
const SINCE_NOW: u64 = 0xFFFF_FFFF_FFFF_FFFF;
/// `kFSEventStreamCreateFlagNoDefer`, `…IgnoreSelf`, `…FileEvents`.
const NO_DEFER: u32 = 0x0000_0002;
const IGNORE_SELF: u32 = 0x0000_0008;
const FILE_EVENTS: u32 = 0x0000_0010;

/// `kFSEventStreamEventFlagUserDropped`, `…KernelDropped`, `…HistoryDone`.
pub const USER_DROPPED: u32 = 0x0000_0002;
pub const KERNEL_DROPPED: u32 = 0x0000_0004;
pub const HISTORY_DONE: u32 = 0x0000_0010;

/// At most this many folders may be excluded from one stream (`FSEventStreamSetExclusionPaths`).
pub const MAX_EXCLUDED: usize = 8;

#[link(name = "CoreFoundation", kind = "framework")]
extern "C" {
    static kCFTypeArrayCallBacks: ArrayCallBacks;
    fn CFStringCreateWithFileSystemRepresentation(alloc: CFRef, buffer: *const c_char) -> CFRef;
    fn CFArrayCreate(
        alloc: CFRef,
        values: *const CFRef,
        count: CFIndex,
        callbacks: *const ArrayCallBacks,
    ) -> CFRef;
    fn CFRelease(object: CFRef);
}

#[link(name = "CoreServices", kind = "framework")]
extern "C" {
    fn FSEventStreamCreate(
        alloc: CFRef,
        callback: Callback,
        context: *const Context,
        paths: CFRef,
        since: u64,
        latency: f64,
        flags: u32,
    ) -> StreamRef;
    fn FSEventStreamSetExclusionPaths(stream: StreamRef, paths: CFRef) -> u8;
    fn FSEventStreamSetDispatchQueue(stream: StreamRef, queue: Queue);
    fn FSEventStreamStart(stream: StreamRef) -> u8;
    fn FSEventStreamStop(stream: StreamRef);
    fn FSEventStreamInvalidate(stream: StreamRef);
    fn FSEventStreamRelease(stream: StreamRef);
}

extern "C" {
    fn dispatch_queue_create(label: *const c_char, attr: *const c_void) -> Queue;
    fn dispatch_release(object: *mut c_void);
}

/// A `CFArray` of paths, released when dropped; `None` when a path cannot be one.
struct PathArray(CFRef);

impl PathArray {
    fn new(paths: &[PathBuf]) -> Option<PathArray> {
        let mut strings = Vec::new();
        let mut ok = true;
        for path in paths {
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                ok = false;
                break;
            };
            // SAFETY: `c` is a NUL-terminated path that outlives the call; NULL is the
            // default allocator.
            let s =
                unsafe { CFStringCreateWithFileSystemRepresentation(std::ptr::null(), c.as_ptr()) };
            if s.is_null() {
                ok = false;
                break;
            }
            strings.push(s);
        }
        let array = if ok {
            // SAFETY: `strings` holds `len` live CFStrings; the array retains them
            // (kCFTypeArrayCallBacks), so ours are released below either way.
            unsafe {
                CFArrayCreate(
                    std::ptr::null(),
                    strings.as_ptr(),
                    strings.len() as CFIndex,
                    std::ptr::addr_of!(kCFTypeArrayCallBacks),
                )
            }
        } else {
            std::ptr::null()
        };
        for s in strings {
            // SAFETY: each string was created above and is released once.
            unsafe { CFRelease(s) };
        }
        (!array.is_null()).then_some(PathArray(array))
    }
}

impl Drop for PathArray {
    fn drop(&mut self) {
        // SAFETY: the array was created by CFArrayCreate and is released once.
        unsafe { CFRelease(self.0) };
    }
}

/// A started stream and its queue, stopped and released when dropped.
pub struct Stream {
    stream: StreamRef,
    queue: Queue,
}

// SAFETY: the stream and queue are only used through FSEvents' and libdispatch's calls,
// which may be made from any thread.
unsafe impl Send for Stream {}

impl Stream {
    /// Watches `roots` recursively (not `excluded`, at most [`MAX_EXCLUDED`] of them),
    /// calling `callback` with `context` on a queue of its own for changes made by other
    /// processes than this one; `latency` seconds coalesce a burst after its first event.
    pub fn start(
        roots: &[PathBuf],
        excluded: &[PathBuf],
        callback: Callback,
        context: &Context,
        latency: f64,
    ) -> Result<Stream, String> {
        let paths = PathArray::new(roots).ok_or("cannot watch: a path FSEvents cannot take")?;
        // SAFETY: the context and path array are live for the call (FSEvents copies both);
        // NULL is the default allocator.
        let stream = unsafe {
            FSEventStreamCreate(
                std::ptr::null(),
                callback,
                context,
                paths.0,
                SINCE_NOW,
                latency,
                FILE_EVENTS | NO_DEFER | IGNORE_SELF,
            )
        };
        if stream.is_null() {
            return Err("cannot watch: FSEvents refused to create a stream".into());
        }
        let excluded = &excluded[..excluded.len().min(MAX_EXCLUDED)];
        if let Some(list) = (!excluded.is_empty())
            .then(|| PathArray::new(excluded))
            .flatten()
        {
            // SAFETY: the stream is not started yet; the array is live for the call.
            unsafe { FSEventStreamSetExclusionPaths(stream, list.0) };
        }
        let label = c"tsm.watch";
        // SAFETY: the label is NUL-terminated; a NULL attribute makes a serial queue.
        let queue = unsafe { dispatch_queue_create(label.as_ptr(), std::ptr::null()) };
        if queue.is_null() {
            // SAFETY: the stream was created above and never started.
            unsafe { FSEventStreamRelease(stream) };
            return Err("cannot watch: no dispatch queue".into());
        }
        let started = Stream { stream, queue };
        // SAFETY: both are live; the stream is scheduled once, then started.
        let ok = unsafe {
            FSEventStreamSetDispatchQueue(stream, queue);
            FSEventStreamStart(stream)
        };
        if ok == 0 {
            return Err(format!(
                "cannot watch '{}': FSEvents would not start",
                roots
                    .first()
                    .map_or(Path::new("?"), |p| p.as_path())
                    .display()
            ));
        }
        Ok(started)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: the stream was scheduled on this queue; stopping an unstarted stream is
        // allowed. Each object is released once, the stream before its queue.
        unsafe {
            FSEventStreamStop(self.stream);
            FSEventStreamInvalidate(self.stream);
            FSEventStreamRelease(self.stream);
            dispatch_release(self.queue);
        }
    }
}
