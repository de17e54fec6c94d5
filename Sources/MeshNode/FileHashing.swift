import Foundation
import MeshCrypto
import NIOConcurrencyHelpers

/// The file hash of docs/file-transfer.md: SHA-256 of the whole file, read a piece at a time.
enum FileHash {
    /// What is read at a time.
    static let bufferBytes = 1 << 20

    /// The hash of the first `size` bytes of `fd`; nil if they cannot all be read.
    static func of(fd: Int32, size: UInt64) -> [UInt8]? {
        let stream = SHA256Stream()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 16)
        defer { buffer.deallocate() }
        return add(fd: fd, from: 0, to: size, to: stream, buffer: buffer) ? stream.finish() : nil
    }

    /// Adds bytes `start..<end` of `fd` to `stream`, read into `buffer`; false if they cannot all be read.
    static func add(fd: Int32, from start: UInt64, to end: UInt64, to stream: SHA256Stream,
                    buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var offset = start
        while offset < end {
            let want = Int(min(UInt64(buffer.count), end - offset))
            let count = pread(fd, buffer.baseAddress!, want, off_t(offset))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            stream.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += UInt64(count)
        }
        return true
    }
}

/// Hashes a partial file on a thread of its own while it is still being received, by reading back
/// what the event loop has written: the loop only decrypts and writes chunks, and the check after
/// the last chunk waits only for what the hash has not reached yet.
///
/// Why read back rather than hash the chunks handed over: nothing queues up in memory if the hash
/// falls behind, and a resumed transfer hashes the bytes it already held the same way, from byte 0.
///
/// `stream`, `buffer`, `hashed` and `failed` are touched only on `queue`; `progress` is the one
/// thing the loop and the queue share, behind its lock. That is what makes it safe to share. The
/// lock is a pthread mutex (NIO's), not Synchronization's `Mutex`: on Linux that one waits on a
/// futex inside an uninstrumented library, so ThreadSanitizer cannot see it order anything and
/// reported the loop's and the queue's use of `progress` as a race.
final class PartialFileHasher: @unchecked Sendable {
    private let queue = DispatchQueue(label: "meshchat.file-hash")
    private let descriptor: Int32
    private let stream = SHA256Stream()
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileHash.bufferBytes, alignment: 16)
    private var hashed: UInt64 = 0
    private var failed = false
    /// How far the file is written, and whether a catch-up is queued or running.
    private let progress = NIOLockedValueBox((written: UInt64(0), catchingUp: false))

    /// A hasher reading `path` (never through a symlink); nil if it cannot be opened.
    static func reading(_ path: String) -> PartialFileHasher? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        return descriptor >= 0 ? PartialFileHasher(descriptor: descriptor) : nil
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    /// The first `offset` bytes of the file are written: they are hashed on the hasher's thread.
    func written(upTo offset: UInt64) {
        let start = progress.withLockedValue { progress in
            progress.written = max(progress.written, offset)
            defer { progress.catchingUp = true }
            return !progress.catchingUp
        }
        if start { queue.async { self.catchUp() } }
    }

    /// Calls `body` on the hasher's thread with the hash of the first `size` bytes, or nil if they
    /// could not all be read. Nothing more may be written after this.
    func finish(size: UInt64, _ body: @escaping @Sendable ([UInt8]?) -> Void) {
        queue.async {
            self.hash(upTo: size)
            body(self.failed ? nil : self.stream.finish())
        }
    }

    /// Hashes up to what is written until nothing more was written meanwhile.
    private func catchUp() {
        while let target = progress.withLockedValue({ progress -> UInt64? in
            guard progress.written > hashed else {
                progress.catchingUp = false
                return nil
            }
            return progress.written
        }) {
            hash(upTo: target)
        }
    }

    private func hash(upTo end: UInt64) {
        guard hashed < end else { return }
        if !failed, !FileHash.add(fd: descriptor, from: hashed, to: end, to: stream, buffer: buffer) { failed = true }
        hashed = end
    }
}
