import MeshCrypto
import NIOCore
import NIOPosix

/// Sends room messages to the tutorials' receiver (`while true; do nc -l PORT | openssl enc -d ...; done`):
/// one connection per message, in order, each encrypted as `openssl enc` would. The receiver is
/// down between two messages while its loop restarts, so a message that cannot be delivered waits
/// at the head of a bounded queue and is retried with backoff.
///
/// Lives on the node's loop; encryption (PBKDF2) runs on NIO's thread pool.
final class NetcatForwarder {
    /// Messages waiting for the receiver; when full, the oldest is dropped (and said so): recent
    /// chat matters more, and a receiver that is gone for long must not grow memory.
    static let maximumQueuedMessages = 256
    /// The first retry delay; it doubles per failure up to `maximumRetryDelay`, with jitter.
    /// Short, because the tutorial's receiver comes back within milliseconds.
    static let initialRetryDelay: TimeAmount = .milliseconds(50)
    /// The retry cap, so a receiver that comes back after a long absence is found quickly.
    static let maximumRetryDelay: TimeAmount = .seconds(5)
    /// How long connecting, and then waiting for the receiver to close after the message, may take.
    static let deliveryTimeout: TimeAmount = .seconds(5)

    private let address: HostPort
    private let passphrase: SecureBytes
    private let iterations: Int
    private let eventLoop: EventLoop
    private let emit: (NodeEvent) -> Void
    private var outbox = NetcatOutbox(capacity: maximumQueuedMessages)
    private var failures = 0
    /// Whether the current overflow was reported; cleared by the next delivery.
    private var reportedDrops = false
    private var retry: Scheduled<Void>?
    private var stopped = false

    init(address: HostPort, passphrase: SecureBytes, iterations: Int, eventLoop: EventLoop, emit: @escaping (NodeEvent) -> Void) {
        self.address = address
        self.passphrase = passphrase
        self.iterations = iterations
        self.eventLoop = eventLoop
        self.emit = emit
    }

    /// Queues one message's plaintext (the text the receiver's openssl will print).
    func enqueue(_ plaintext: [UInt8]) {
        guard !stopped else { return }
        // Said once per overflow, not once per dropped message: a catch-up sync can bring thousands.
        if outbox.append(plaintext), !reportedDrops {
            reportedDrops = true
            emit(.error(message: "The netcat receiver at \(address) is not keeping up; dropping the oldest of \(Self.maximumQueuedMessages) waiting messages until it does."))
        }
        sendHead()
    }

    /// Stops sending; what is queued is dropped with the node.
    func stop() {
        stopped = true
        retry?.cancel()
        outbox = NetcatOutbox(capacity: Self.maximumQueuedMessages)
    }

    private func sendHead() {
        guard !stopped, retry == nil, let (plaintext, cached) = outbox.takeHead() else { return }
        let encrypted: EventLoopFuture<String>
        if let cached {
            encrypted = eventLoop.makeSucceededFuture(cached)
        } else {
            let passphrase = self.passphrase, iterations = self.iterations
            encrypted = NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
                OpenSSLEnc.encrypt(plaintext, passphrase: passphrase, iterations: iterations)
            }
        }
        let address = self.address
        encrypted.assumeIsolated().flatMap { [weak self] text -> EventLoopFuture<Void> in
            self?.outbox.headCiphertext = text
            return Self.deliver(text, to: address, on: encrypted.eventLoop)
        }.whenComplete { [weak self] result in
            guard let self, !self.stopped else { return }
            switch result {
            case .success:
                self.outbox.delivered()
                self.failures = 0
                self.reportedDrops = false
                self.sendHead()
            case .failure(let error):
                self.outbox.failed()
                self.failures += 1
                if self.failures == 1 {
                    self.emit(.notice("The netcat receiver at \(address) is not taking messages (\(NodeCore.describe(error))); retrying."))
                }
                let delay = RedialBackoff(initial: Self.initialRetryDelay, maximum: Self.maximumRetryDelay)
                    .delay(afterFailures: self.failures, jitter: SecureRandom.uniform(RedialBackoff.jitterSteps))
                self.retry = self.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
                    self?.retry = nil
                    self?.sendHead()
                }
            }
        }
    }

    /// One delivery: connect, write the text, end our side, and wait for the receiver to close.
    /// Only a clean close counts: a receiver that resets the connection (an `nc` killed mid-way,
    /// or something else on the port) did not take the message, and the next attempt sends it again.
    private static func deliver(_ text: String, to address: HostPort, on loop: EventLoop) -> EventLoopFuture<Void> {
        let delivered = loop.makePromise(of: Void.self)
        ClientBootstrap(group: loop)
            .connectTimeout(deliveryTimeout)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NetcatDeliveryHandler(text: text, timeout: deliveryTimeout, delivered: delivered))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { delivered.fail($0) }
        return delivered.futureResult
    }
}

/// The forwarder's queue, as a value: messages in order, at most `capacity` of them, the head
/// kept (with its ciphertext, so PBKDF2 runs once per message) until it is delivered.
struct NetcatOutbox {
    /// The most messages held; see `NetcatForwarder.maximumQueuedMessages`.
    let capacity: Int
    private(set) var messages = CircularBuffer<[UInt8]>()
    /// Whether the head is on its way now.
    private(set) var headInFlight = false
    /// The head's ciphertext once made, reused when it is sent again.
    var headCiphertext: String?

    init(capacity: Int) {
        precondition(capacity >= 2, "one message in flight and one waiting")
        self.capacity = capacity
    }

    /// Adds a message at the end. When full, drops the oldest message not on its way (the head
    /// in flight is kept: its delivery removes it) and returns true.
    mutating func append(_ message: [UInt8]) -> Bool {
        var dropped = false
        if messages.count >= capacity {
            let oldestWaiting = headInFlight ? 1 : 0
            messages.remove(at: messages.index(messages.startIndex, offsetBy: oldestWaiting))
            if oldestWaiting == 0 { headCiphertext = nil }
            dropped = true
        }
        messages.append(message)
        return dropped
    }

    /// The head and its ciphertext if already made, now in flight; nil when empty or already in flight.
    mutating func takeHead() -> (plaintext: [UInt8], ciphertext: String?)? {
        guard !headInFlight, let head = messages.first else { return nil }
        headInFlight = true
        return (head, headCiphertext)
    }

    /// The head was taken by the receiver.
    mutating func delivered() {
        precondition(headInFlight)
        messages.removeFirst()
        headInFlight = false
        headCiphertext = nil
    }

    /// The head was not taken; it stays first, to be sent again.
    mutating func failed() {
        precondition(headInFlight)
        headInFlight = false
    }
}

/// Writes one message, ends its side, and succeeds when the receiver closes cleanly.
private final class NetcatDeliveryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Why a delivery did not complete.
    struct NotDelivered: Error, CustomStringConvertible {
        let description: String
    }

    private let text: String
    private let timeout: TimeAmount
    private let delivered: EventLoopPromise<Void>
    private var deadline: Scheduled<Void>?
    private var sentAll = false
    private var done = false

    init(text: String, timeout: TimeAmount, delivered: EventLoopPromise<Void>) {
        self.text = text
        self.timeout = timeout
        self.delivered = delivered
    }

    func channelActive(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            // The message sat with a live receiver that never closed (an `nc` whose standard input
            // stays open): it was read, so it counts as delivered rather than sent twice.
            self?.finish(context, .success(()))
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        let endOfOutput = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: endOfOutput)
        endOfOutput.futureResult.assumeIsolated().whenComplete { [weak self] result in
            switch result {
            case .success: self?.sentAll = true
            case .failure(let error): self?.finish(context, .failure(error))
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The receiver has nothing to say; anything it sends is discarded, never kept.
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, sentAll { finish(context, .success(())) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset: the receiver did not take the message.
        finish(context, .failure(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        // With our side already ended, NIO turns the receiver's clean close into a full close
        // without an error; a reset would have come through errorCaught first.
        finish(context, sentAll ? .success(()) : .failure(NotDelivered(description: "connection closed before the message was sent")))
    }

    private func finish(_ context: ChannelHandlerContext, _ result: Result<Void, Error>) {
        guard !done else { return }
        done = true
        deadline?.cancel()
        delivered.completeWith(result)
        context.close(promise: nil)
    }
}
