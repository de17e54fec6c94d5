import Foundation

/// The write end of the self-pipe `StopSignals` handlers write to; set once, before any handler runs.
nonisolated(unsafe) private var stopSignalPipe: (read: Int32, write: Int32) = (-1, -1)

/// SIGINT and SIGTERM, turned into a byte on a pipe (the self-pipe trick).
///
/// The handlers are in place as soon as `install()` returns, so a signal sent right after the
/// node starts is never lost. A dispatch signal source needed the signal ignored first and is armed
/// later, and a SIGTERM in between was dropped: the node never stopped.
enum StopSignals {
    /// Installs the handlers; called once, before the node starts.
    static func install() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        stopSignalPipe = (ends[0], ends[1])
        for number in [SIGINT, SIGTERM] {
            // Only async-signal-safe work here: one write(2).
            signal(number) { _ in
                var byte: UInt8 = 1
                _ = write(stopSignalPipe.write, &byte, 1)
            }
        }
    }

    /// Blocks until a signal arrived since `install()`.
    static func wait() {
        var byte: UInt8 = 0
        while read(stopSignalPipe.read, &byte, 1) < 0 && errno == EINTR {}
    }
}
