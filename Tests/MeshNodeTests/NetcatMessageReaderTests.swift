import MeshCrypto
@testable import MeshNode
import NIOCore
import NIOEmbedded
import Testing

/// The bridge's per-connection reader on an embedded channel: a stranger cannot make it hold
/// more than its bound or keep a connection open past its timeout.
@Suite struct NetcatMessageReaderTests {
    final class Outcomes {
        var seen: [NetcatMessageReader.Outcome] = []
    }

    func channel(maximumBytes: Int = 64, timeout: TimeAmount = .seconds(10)) throws -> (EmbeddedChannel, Outcomes) {
        let outcomes = Outcomes()
        let channel = EmbeddedChannel(handler: NetcatMessageReader(maximumBytes: maximumBytes, timeout: timeout) { outcomes.seen.append($0) })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return (channel, outcomes)
    }

    @Test func endOfInputDeliversEverythingSentInPieces() throws {
        let (channel, outcomes) = try channel()
        try channel.writeInbound(ByteBuffer(string: "U2FsdGVk"))
        try channel.writeInbound(ByteBuffer(string: "X18=\n"))
        #expect(outcomes.seen.isEmpty)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(outcomes.seen == [.message(Array("U2FsdGVkX18=\n".utf8))])
        #expect(!channel.isActive)
    }

    @Test func moreThanTheBoundIsCutAtOnce() throws {
        let (channel, outcomes) = try channel(maximumBytes: 64)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "A", count: 64)))
        #expect(outcomes.seen.isEmpty && channel.isActive)
        try channel.writeInbound(ByteBuffer(string: "A"))
        #expect(outcomes.seen == [.tooLong])
        #expect(!channel.isActive)
    }

    @Test func aConnectionThatNeverEndsIsCutAtTheTimeout() throws {
        let (channel, outcomes) = try channel(timeout: .seconds(10))
        try channel.writeInbound(ByteBuffer(string: "U2Fs"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(outcomes.seen.isEmpty && channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(outcomes.seen == [.timedOut])
        #expect(!channel.isActive)
    }

    @Test func aConnectionLostBeforeEndOfInputIsNotAMessage() throws {
        let (channel, outcomes) = try channel()
        try channel.writeInbound(ByteBuffer(string: "U2Fs"))
        _ = try? channel.close().wait()
        #expect(outcomes.seen == [.lost])
    }

    @Test func theConnectionBoundFitsTheLargestRoomText() {
        // openssl's output for a full 16384-byte room body (marker included) must be accepted.
        let largestSenderOutput = OpenSSLEnc.encodedByteCount(plaintextByteCount: NetcatBridge.maximumTextBytes + 1) // + echo's newline
        #expect(NetcatBridge.maximumConnectionBytes >= largestSenderOutput)
        #expect(NetcatBridge.maximumConnectionBytes < 32 * 1024)
    }
}

