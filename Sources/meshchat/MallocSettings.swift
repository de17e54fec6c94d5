#if canImport(CMalloc)
import CMalloc
#endif

/// glibc malloc's settings for a running node, set once at `meshchat start`.
///
/// Why: a file transfer allocates and frees buffers of 64-128 KiB for every chunk (plaintexts,
/// NIO's read and write buffers). With glibc's defaults, free memory past 128 KiB at the top of the
/// heap goes back to the kernel at once, and the next chunk's buffer faults it in again page by
/// page: 7% of a receiving node's CPU in a profile (docs/performance.md). Keeping up to
/// `trimThresholdBytes` of free heap, and taking buffers under `mmapThresholdBytes` from the heap
/// rather than from mmap(2) each time, removes that; what is kept is bounded by these two figures.
enum MallocSettings {
    /// Free memory at the top of the heap kept rather than given back.
    static let trimThresholdBytes: Int32 = 8 << 20
    /// Allocations at least this large get their own mapping.
    static let mmapThresholdBytes: Int32 = 1 << 20

    static func apply() {
        #if canImport(CMalloc)
        _ = mallopt(M_TRIM_THRESHOLD, trimThresholdBytes)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThresholdBytes)
        #endif
    }
}
