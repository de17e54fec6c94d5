import NIOCore

/// How much a link buffers, for bulk traffic (file chunks, sync answers) on a busy machine.
///
/// Senders pace themselves to `isWritable`. With NIO's defaults (32/64 KiB) one 64 KiB file chunk
/// makes a link unwritable, so every chunk costs a wake-up of both processes; on a loaded machine
/// each wake-up can wait a scheduler slice, and a transfer crawled at ~65 MB/s with idle CPUs.
/// Keeping a few MiB in flight per link moves many chunks per wake-up; memory stays bounded by
/// /// this number per link. (Reading up to 1 MiB at a time was tried with it: the receiver then spent
/// about twice the kernel time per file, 1.2 s instead of 0.6 s per 500 MB, so reads keep NIO's
/// default 64 KiB cap.)
enum LinkBuffers {
    /// Unwritable above 4 MiB queued, writable again below 1 MiB.
    static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)
}
