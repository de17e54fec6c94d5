import NIOCore
import NIOPosix

/// Runs CPU-heavy work (signature checks, handshake steps) on worker threads and hands each
/// result back on the node's event loop, so the loop keeps moving messages meanwhile.
///
/// Once stopped it hands nothing back: results still out are dropped as they come in, and `stop`'s
/// future completes once none is out, so no result reaches a loop that has closed. Used on the
/// loop only, like the core that owns it.
final class OffLoopWork {
    private let eventLoop: EventLoop
    private let threads: NIOThreadPool
    /// Work on the thread pool whose result has not come back to the loop.
    private var outOnPool = 0
    /// Set by `stop`; completed once `outOnPool` is 0.
    private var stopped: EventLoopPromise<Void>?

    init(eventLoop: EventLoop, threads: NIOThreadPool) {
        self.eventLoop = eventLoop
        self.threads = threads
    }

    /// Whether `stop` was called: work given now is dropped.
    var isStopped: Bool { stopped != nil }

    /// Runs `work` on the pool and `deliver`s its result on the loop, unless the node stops first.
    func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result, then deliver: @escaping (Result) -> Void) {
        guard stopped == nil else { return }
        outOnPool += 1
        threads.runIfActive(eventLoop: eventLoop, work).assumeIsolated().whenComplete { [self] result in
            outOnPool -= 1
            if let stopped {
                if outOnPool == 0 { stopped.succeed() }
                return
            }
            // The pool refuses work only once it is shut down (the process is ending); the loop
            // then does the work itself rather than losing it.
            deliver((try? result.get()) ?? work())
        }
    }

    /// Drops every result from now on; the future completes once nothing is out on the pool.
    func stop() -> EventLoopFuture<Void> {
        if let stopped { return stopped.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        stopped = promise
        if outOnPool == 0 { promise.succeed() }
        return promise.futureResult
    }
}
