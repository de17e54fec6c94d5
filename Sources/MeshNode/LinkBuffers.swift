import NIOCore

/// How much a link buffers, for bulk traffic (file chunks, sync answers) on a busy machine.
///
/// Senders pace themselves to `isWritable`. With NIO's defaults (32/64 KiB) one 64 KiB file chunk
/// makes a link unwritable, so every chunk costs a wake-up of both processes; on a loaded machine
/// each wake-up can wait a scheduler slice, and a transfer crawled at ~65 MB/s with idle CPUs.
/// Keeping a few MiB in flight per link, and reading up to 1 MiB at a time, moves many chunks per
/// wake-up; memory stays bounded by these numbers per link.
enum LinkBuffers {
    /// Unwritable above 4 MiB queued, writable again below 1 MiB.
    static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)
    /// Reads grow up to 1 MiB when the peer sends that much.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20)
}
